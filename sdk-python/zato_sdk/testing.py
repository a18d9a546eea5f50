"""Runs a service in-process, under pytest or any test runner: no server, no ports.

    from zato_sdk.testing import call
    from greeter import Greeter

    def test_greets_with_its_config():
        result = call(Greeter, {"name": "Ada"}, config={"greeting": "Hi"})
        assert result.status == 200
        assert result.json == {"message": "Hi, Ada!"}

The service's own code runs as it does in the component, on CPython here, with fakes for
what it reaches: its configuration, the answers of the services it invokes, the
request's headers, query and path parameters, and who called. A JSON input is checked
against the declared fields first, in the server's words. `result.invoked` and
`result.logs` say what it called and logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import zato_sdk as sdk

from . import _host
from ._fields import check


@dataclass
class Result:
    """What one call answered, and what the service did on the way."""

    status: int
    headers: dict[str, str]
    payload: bytes
    #: `(kind, message)` of the error the service raised (`("bad-request", "...")`).
    error: tuple[str, str] | None = None
    logs: list[tuple[str, str]] = field(default_factory=list)
    invoked: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    @property
    def json(self) -> Any:
        return json.loads(self.payload) if self.payload.strip() else None


_STATUS = {
    "bad-request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not-found": 404,
    "conflict": 409,
    "retry": 503,
    "internal": 500,
}


class FakeHost:
    def __init__(self, **fakes: Any):
        self.__dict__.update(fakes)
        self.logs: list[tuple[str, str]] = []
        self.invoked: list[tuple[str, Any]] = []

    def cid(self) -> str:
        return self._cid

    def method(self) -> str | None:
        return self._method

    def path(self) -> str | None:
        return self._path

    def header(self, name: str) -> str | None:
        return self._headers.get(name.lower())

    def headers(self) -> list[tuple[str, str]]:
        return list(self._headers.items())

    def query(self, name: str) -> str | None:
        return self._query.get(name)

    def path_param(self, name: str) -> str | None:
        return self._path_params.get(name)

    def caller(self) -> dict | None:
        return self._caller

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def config(self, key: str) -> str | None:
        return self._config.get(key)

    def config_all(self) -> list[tuple[str, str]]:
        return list(self._config.items())

    def invoke(self, service: str, payload: bytes) -> bytes:
        decoded: Any = payload
        try:
            decoded = json.loads(payload) if payload.strip() else None
        except ValueError:
            pass
        self.invoked.append((service, decoded))
        if service not in self._invoked:
            raise sdk.InvokeError(service, "not-found", f"service `{service}` is not deployed")
        answer = self._invoked[service]
        if callable(answer):
            answer = answer(decoded)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, bytes):
            return answer
        if isinstance(answer, str):
            return answer.encode()
        return json.dumps(answer).encode()


def call(
    service: type[sdk.Service] | Callable[..., Any],
    payload: Any = None,
    *,
    channel: str = "invoke",
    config: dict[str, str] | None = None,
    invoked: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
    method: str | None = None,
    path: str | None = None,
    caller: dict | None = None,
    cid: str = "test-cid",
) -> Result:
    """Calls `service` (a `Service` class, or a function decorated with `@service`) once
    with `payload` (JSON-encoded unless bytes or str). `invoked` maps a service's name
    to its answer: a value sent as JSON, bytes, an exception to raise (`InvokeError`),
    or a function of the payload returning one of those."""
    cls = _service_class(service)
    if payload is None:
        body = b""
    elif isinstance(payload, bytes):
        body = payload
    elif isinstance(payload, str):
        body = payload.encode()
    else:
        body = json.dumps(payload).encode()
    host = FakeHost(
        _cid=cid,
        _method=method,
        _path=path,
        _headers={k.lower(): v for k, v in (headers or {}).items()},
        _query=dict(query or {}),
        _path_params=dict(path_params or {}),
        _caller=caller,
        _config=dict(config or {}),
        _invoked=dict(invoked or {}),
    )
    previous = _host.install(host)
    try:
        request = sdk.Request(channel, body, "json")
        if cls.input:
            try:
                value = request.json if body.strip() else {}
            except sdk.BadRequest as e:
                return _error(host, "bad-request", e.message)
            reason = check(value, cls.input)
            if reason is not None:
                return _error(host, "bad-request", reason)
        try:
            status, answer_headers, answer = sdk.run(cls, request)
        except sdk.ServiceError as e:
            return _error(host, e.kind, e.message)
        return Result(
            status=status,
            headers=dict(answer_headers),
            payload=answer,
            logs=host.logs,
            invoked=host.invoked,
        )
    finally:
        _host.install(previous)


def _error(host: FakeHost, kind: str, message: str) -> Result:
    return Result(
        status=_STATUS.get(kind, 500),
        headers={"content-type": "application/json"},
        payload=json.dumps({"error": message}).encode(),
        error=(kind, message),
        logs=host.logs,
        invoked=host.invoked,
    )


def _service_class(service: Any) -> type[sdk.Service]:
    if isinstance(service, type) and issubclass(service, sdk.Service):
        return service
    name = getattr(service, "service_name", None)
    for cls in sdk._registered:
        if cls.name == name:
            return cls
    raise TypeError(f"{service!r} is neither a zato_sdk.Service nor a function made one by @service")
