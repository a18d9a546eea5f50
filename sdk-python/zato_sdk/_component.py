"""The `zato:service/service` export of a Python component, and the host its services
reach: `zato build` makes the component of a module that imports the user's service and
then this `Service`. componentize-py snapshots the interpreter after that import
(Wizer): every WIT module is imported here, at the top, so that it is in the snapshot."""

from __future__ import annotations

import traceback
from typing import Any

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, invoke, log, request, types

import zato_sdk as sdk

from . import _host


class WitHost:
    """The host of a deployed component: the `zato:service` imports."""

    def cid(self) -> str:
        return request.cid()

    def method(self) -> str | None:
        return request.method()

    def path(self) -> str | None:
        return request.path()

    def header(self, name: str) -> str | None:
        return request.header(name)

    def headers(self) -> list[tuple[str, str]]:
        return list(request.headers())

    def query(self, name: str) -> str | None:
        return request.query(name)

    def path_param(self, name: str) -> str | None:
        return request.path_param(name)

    def caller(self) -> dict | None:
        who = request.caller()
        if who is None:
            return None
        return {"definition": who.definition, "kind": who.kind, "principal": who.principal}

    def log(self, level: str, message: str) -> None:
        log.log(log.Level[level.upper()], message)

    def config(self, key: str) -> str | None:
        return config.get(key)

    def config_all(self) -> list[tuple[str, str]]:
        return list(config.get_all())

    def invoke(self, service: str, payload: bytes) -> bytes:
        try:
            answer = invoke.invoke(service, payload, types.DataFormat.JSON)
        except Err as e:
            error: Any = e.value
            kind = type(error).__name__.removeprefix("Error_")
            kind = "".join("-" + c.lower() if c.isupper() else c for c in kind).lstrip("-")
            raise sdk.InvokeError(service, kind, error.value) from None
        return bytes(answer.payload)


_host.install(WitHost())

_ERRORS = {
    "bad-request": types.Error_BadRequest,
    "unauthorized": types.Error_Unauthorized,
    "forbidden": types.Error_Forbidden,
    "not-found": types.Error_NotFound,
    "conflict": types.Error_Conflict,
    "retry": types.Error_Retry,
    "internal": types.Error_Internal,
}


def _fields(fields: list[sdk.Field]) -> list[types.Field]:
    return [
        types.Field(name=f.name, type=types.FieldType[f.type_name.upper()], required=f.required)
        for f in fields
    ]


class Service(exports.Service):
    def info(self) -> types.ServiceInfo:
        cls = sdk.registered()
        return types.ServiceInfo(
            name=cls.name,
            description=cls.description,
            input=_fields(cls.input),
            output=_fields(cls.output),
            slow_threshold_ms=cls.slow_threshold_ms,
        )

    def handle(self, request: types.Request) -> types.Response:
        cls = sdk.registered()
        incoming = sdk.Request(
            request.channel.name.lower(), request.payload, request.data_format.name.lower()
        )
        try:
            status, headers, body = sdk.run(cls, incoming)
        except sdk.ServiceError as e:
            raise Err(_ERRORS.get(e.kind, types.Error_Internal)(e.message)) from None
        except Exception as e:  # the service's bug: 500, the traceback to the log
            log.log(log.Level.ERROR, traceback.format_exc())
            raise Err(types.Error_Internal(f"{type(e).__name__}: {e}")) from None
        return types.Response(status=status, headers=headers, payload=body)
