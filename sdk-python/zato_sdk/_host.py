"""What a service reaches of its host: the component's WIT imports (`_component.py`),
or the test harness's fakes (`zato_sdk.testing`)."""

from __future__ import annotations

from typing import Any, Protocol


class Host(Protocol):
    def cid(self) -> str: ...
    def method(self) -> str | None: ...
    def path(self) -> str | None: ...
    def header(self, name: str) -> str | None: ...
    def headers(self) -> list[tuple[str, str]]: ...
    def query(self, name: str) -> str | None: ...
    def path_param(self, name: str) -> str | None: ...
    def caller(self) -> dict | None: ...
    def log(self, level: str, message: str) -> None: ...
    def config(self, key: str) -> str | None: ...
    def config_all(self) -> list[tuple[str, str]]: ...
    def invoke(self, service: str, payload: bytes) -> bytes: ...


class _NoHost:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            "no zato host: a service runs in a component (zato build) or through "
            "zato_sdk.testing"
        )


#: The component's host (`_component.WitHost`, installed when the component's module is
#: imported at build time) or the test harness's fakes.
_current: Host = _NoHost()  # type: ignore[assignment]


def current() -> Host:
    return _current


def install(host: Host) -> Host:
    """Makes `host` the one services reach; returns the previous one."""
    global _current
    previous, _current = _current, host
    return previous
