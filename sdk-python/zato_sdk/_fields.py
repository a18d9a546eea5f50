"""Declared input and output fields (Simple IO), as `zato:service/types.field`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Python type -> the field type's name in `wit/service.wit`.
_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    object: "any",
    None: "any",
}


@dataclass(frozen=True)
class Field:
    """One field of a JSON input or output: `Field("name", str)`, `Field("age", int,
    required=False)`. The server checks a JSON input against the declared fields before
    the service runs, and refuses a wrong one with 400 naming the field."""

    name: str
    type: Any = object
    required: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a field's name must be a non-empty string, not {self.name!r}")
        if self.type not in _TYPES:
            known = ", ".join(t.__name__ for t in _TYPES if t is not None)
            raise TypeError(f"field `{self.name}`: type {self.type!r} is not one of {known}")

    @property
    def type_name(self) -> str:
        """The type's name in the WIT contract (`string`, `integer`, ...)."""
        return _TYPES[self.type]


_ARTICLES = {
    "any": "any value",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check(value: Any, fields: list[Field]) -> str | None:
    """Why `value` (a decoded JSON input) does not match `fields`, in the server's words
    (`host/src/sio.rs`); None when it does. For the test harness, which has no server."""
    if not isinstance(value, dict):
        return "request must be a JSON object"
    for field in fields:
        got = value.get(field.name)
        if got is None:
            if field.required:
                return f"missing required field `{field.name}`"
            continue
        ok = {
            "string": isinstance(got, str),
            "integer": isinstance(got, int) and not isinstance(got, bool),
            "number": isinstance(got, (int, float)) and not isinstance(got, bool),
            "boolean": isinstance(got, bool),
            "object": isinstance(got, dict),
            "array": isinstance(got, list),
            "any": True,
        }[field.type_name]
        if not ok:
            return (
                f"field `{field.name}` must be {_ARTICLES[field.type_name]}, "
                f"got {_json_type(got)}"
            )
    return None
