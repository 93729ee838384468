"""One-line messages for pydantic validation errors: each invalid key, what was wrong and
what is allowed (the config's and the estimators' options')."""

from __future__ import annotations

import typing

from pydantic import BaseModel, ValidationError


def describe_validation_error(
    error: ValidationError, schema: type[BaseModel], root: str = "config", prefix: str = ""
) -> str:
    """One line naming each invalid key, what was wrong and what is allowed.

    ``root`` names the whole object, for errors that concern several of its keys; ``prefix``
    is the object's place in a config (``"estimation."``), put before every key.
    """
    return "; ".join(_describe(item, schema, root, prefix) for item in error.errors())


def _describe(item: dict, schema: type[BaseModel], root: str, prefix: str) -> str:
    loc = item["loc"]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    key = prefix + key if key else key
    kind = item["type"]
    if kind == "extra_forbidden":
        owner = _model_at(schema, loc[:-1])
        allowed = ", ".join(owner.model_fields) if owner else "none"
        return f"{key}: unknown key (allowed here: {allowed})"
    if kind == "missing":
        return f"{key}: required key is missing"
    message = item["msg"].removeprefix("Value error, ")
    value = item.get("input")
    if isinstance(value, dict | list):
        return f"{key or root}: {message}"
    bound = item.get("ctx", {}).get(BOUNDS.get(kind, ""))
    if _number(bound) != repr(bound) and message.endswith(str(bound)):
        message = message.removesuffix(str(bound)) + _number(bound)  # 1,000,000,000
    return f"{key}: {message}, got {_number(value)}"


BOUNDS = {
    "greater_than": "gt",
    "greater_than_equal": "ge",
    "less_than": "lt",
    "less_than_equal": "le",
}
"""pydantic's error types of numeric bounds, and the key of the bound in the error's context."""


def _number(value: object) -> str:
    """A number as the message shows it: large integers with thousands separators."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    return repr(value)


def _model_at(schema: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that holds the fields at a location (list indices skipped)."""
    current: type[BaseModel] | None = schema
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return None
        current = _model_type(current.model_fields[part].annotation)
    return current


def _model_type(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_type(argument)
        if found is not None:
            return found
    return None
