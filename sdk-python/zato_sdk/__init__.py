"""zato services in Python.

A service is a class with a `name` and a `handle(self)`::

    from zato_sdk import Service, Field

    class Greeter(Service):
        name = "acme.greeter"
        description = "Greets whom it is asked to"
        input = [Field("name", str, required=False)]

        def handle(self):
            who = self.request.input.get("name") or "world"
            self.log.info(f"greeting {who}")
            self.response.payload = {"message": f"Hello, {who}!"}

or a function that takes the request and returns the response's payload::

    from zato_sdk import service

    @service("acme.hello")
    def hello(request):
        return {"message": f"Hello, {request.input.get('name', 'world')}!"}

`zato build greeter.py` turns the module into a component (componentize-py, with the
`zato:service` WIT bindings); `zato deploy` deploys it. One module holds one service.
`zato_sdk.testing` runs a service in-process under pytest, with fakes for what it
reaches.

Inside `handle`:

- `self.request`: `payload` (bytes), `text`, `json` (decoded once), `input` (the JSON
  object, `{}` for an empty payload), `channel` (`"http"`, `"invoke"`, ...),
  `data_format`, and what the host keeps until asked: `cid`, `method`, `path`,
  `header(name)`, `headers()`, `query(name)`, `path_param(name)`, `caller`;
- `self.response`: `payload` (a dict or list is sent as JSON, a str as UTF-8, bytes as
  they are), `status` (200), `headers` (a dict);
- `self.log`: `trace`, `debug`, `info`, `warning`, `error`;
- `self.config`: the service's configuration (`self.config["key"]`,
  `self.config.get("key", default)`);
- `self.invoke(name, payload)`: calls another service, returns its decoded JSON answer
  (or raises `InvokeError`).

Raising `BadRequest`, `Unauthorized`, `Forbidden`, `NotFound`, `Conflict` or `Retry`
answers 400, 401, 403, 404, 409 or 503 with the message; any other exception answers
500 (and its traceback goes to the log).
"""

from __future__ import annotations

import json as _json
from typing import Any, Callable

from . import _host
from ._fields import Field

__all__ = [
    "BadRequest",
    "Conflict",
    "Field",
    "Forbidden",
    "InvokeError",
    "NotFound",
    "Request",
    "Response",
    "Retry",
    "Service",
    "ServiceError",
    "Unauthorized",
    "service",
]

__version__ = "0.2.6"


class ServiceError(Exception):
    """An error the caller is told about: its status and message."""

    kind = "internal"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    kind = "bad-request"


class Unauthorized(ServiceError):
    kind = "unauthorized"


class Forbidden(ServiceError):
    kind = "forbidden"


class NotFound(ServiceError):
    kind = "not-found"


class Conflict(ServiceError):
    kind = "conflict"


class Retry(ServiceError):
    kind = "retry"


class InvokeError(Exception):
    """An invoked service failed: `kind` (`not-found`, `internal`, ...) and `message`."""

    def __init__(self, service: str, kind: str, message: str):
        super().__init__(f"{service}: {kind}: {message}")
        self.service = service
        self.kind = kind
        self.message = message


class Request:
    """One request, as the service reads it."""

    def __init__(self, channel: str, payload: bytes, data_format: str):
        self.channel = channel
        self.payload = bytes(payload)
        self.data_format = data_format
        self._json: Any = _UNSET

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    @property
    def json(self) -> Any:
        """The payload decoded as JSON (None for an empty payload); `BadRequest` if it
        is not JSON."""
        if self._json is _UNSET:
            if not self.payload.strip():
                self._json = None
            else:
                try:
                    self._json = _json.loads(self.payload)
                except ValueError as e:
                    raise BadRequest(f"request is not valid JSON: {e}") from None
        return self._json

    @property
    def input(self) -> dict:
        """The JSON object of the request (`{}` when the payload is empty)."""
        value = self.json
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise BadRequest("request must be a JSON object")
        return value

    @property
    def cid(self) -> str:
        return _host.current().cid()

    @property
    def method(self) -> str | None:
        return _host.current().method()

    @property
    def path(self) -> str | None:
        return _host.current().path()

    def header(self, name: str) -> str | None:
        return _host.current().header(name)

    def headers(self) -> list[tuple[str, str]]:
        return _host.current().headers()

    def query(self, name: str) -> str | None:
        return _host.current().query(name)

    def path_param(self, name: str) -> str | None:
        return _host.current().path_param(name)

    @property
    def caller(self) -> dict | None:
        """Who a channel's security definition admitted: `definition`, `kind`,
        `principal`; None on an open channel."""
        return _host.current().caller()


class Response:
    """A service's answer; `payload` None answers an empty body."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.payload: Any = None

    def encoded(self) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = dict(self.headers)
        payload = self.payload
        if payload is None:
            body = b""
        elif isinstance(payload, bytes):
            body = payload
        elif isinstance(payload, str):
            body = payload.encode("utf-8")
        else:
            body = _json.dumps(payload, separators=(",", ":")).encode("utf-8")
            headers.setdefault("content-type", "application/json")
        return self.status, list(headers.items()), body


class _Log:
    def trace(self, message: str) -> None:
        _host.current().log("trace", str(message))

    def debug(self, message: str) -> None:
        _host.current().log("debug", str(message))

    def info(self, message: str) -> None:
        _host.current().log("info", str(message))

    def warning(self, message: str) -> None:
        _host.current().log("warn", str(message))

    warn = warning

    def error(self, message: str) -> None:
        _host.current().log("error", str(message))


class _Config:
    """The service's configuration: strings by key, read from the host when asked."""

    def __getitem__(self, key: str) -> str:
        value = _host.current().config(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: str | None = None) -> str | None:
        value = _host.current().config(key)
        return default if value is None else value

    def __contains__(self, key: str) -> bool:
        return _host.current().config(key) is not None

    def items(self) -> list[tuple[str, str]]:
        return _host.current().config_all()


_UNSET = object()
#: The one service of this module (a component holds one service).
_registered: list[type[Service]] = []


class Service:
    """Subclass it with a `name` and a `handle(self)`; see the module's documentation."""

    name: str = ""
    description: str = ""
    input: list[Field] = []
    output: list[Field] = []
    #: Responses slower than this are listed as slow (0: the server's default).
    slow_threshold_ms: int = 0

    log = _Log()
    config = _Config()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            for field in [*cls.input, *cls.output]:
                if not isinstance(field, Field):
                    raise TypeError(f"{cls.__name__}: {field!r} is not a zato_sdk.Field")
            _registered.append(cls)

    def __init__(self, request: Request):
        self.request = request
        self.response = Response()

    def handle(self) -> None:
        raise NotImplementedError(f"{type(self).__name__}.handle")

    def invoke(self, service: str, payload: Any = None) -> Any:
        """Calls `service` with `payload` (JSON-encoded unless bytes or str); returns its
        answer decoded as JSON (None when empty), or raises `InvokeError`."""
        if payload is None:
            body = b""
        elif isinstance(payload, bytes):
            body = payload
        elif isinstance(payload, str):
            body = payload.encode("utf-8")
        else:
            body = _json.dumps(payload).encode("utf-8")
        answer = _host.current().invoke(service, body)
        if not answer.strip():
            return None
        try:
            return _json.loads(answer)
        except ValueError:
            return answer.decode("utf-8", errors="replace")


def service(
    name: str,
    *,
    description: str = "",
    input: list[Field] | None = None,
    output: list[Field] | None = None,
    slow_threshold_ms: int = 0,
) -> Callable[[Callable[[Request], Any]], Callable[[Request], Any]]:
    """Makes a function of the request a service: what it returns is the response's
    payload."""

    def wrap(function: Callable[[Request], Any]) -> Callable[[Request], Any]:
        def handle(self: Service) -> None:
            self.response.payload = function(self.request)

        type(
            function.__name__,
            (Service,),
            {
                "name": name,
                "description": description or (function.__doc__ or "").strip(),
                "input": list(input or []),
                "output": list(output or []),
                "slow_threshold_ms": slow_threshold_ms,
                "handle": handle,
                "__module__": function.__module__,
            },
        )
        function.service_name = name  # type: ignore[attr-defined]
        return function

    return wrap


def registered() -> type[Service]:
    """The module's service: exactly one must be defined."""
    if len(_registered) != 1:
        names = ", ".join(s.name for s in _registered) or "none"
        raise RuntimeError(
            f"a zato component holds exactly one service; this module defines {names}"
        )
    return _registered[0]


def run(cls: type[Service], request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    """Runs one call of `cls` (what the component and the test harness both do): its
    response, or the `ServiceError` it raised."""
    instance = cls(request)
    instance.handle()
    return instance.response.encoded()
