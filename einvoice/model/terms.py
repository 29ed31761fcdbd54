"""How a model field names its EN 16931 business term, and the base of every model class.

Each field carries its term (``BT-n``) or group (``BG-n``) in its metadata, so reports and views
can speak EN 16931; a group used in several roles lists the term per role, e.g.
``{"BG-5": "BT-35", "BG-8": "BT-50"}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict


def _term_extra(tid: str | dict[str, str]) -> JsonDict:
    """``{"term": "BT-n"}``, or ``{"terms": {role: "BT-n"}}`` for a group in several roles."""
    if isinstance(tid, str):
        return {"term": tid}
    roles: JsonDict = {**tid}
    return {"terms": roles}


def term(tid: str | dict[str, str], default: Any = None, **kwargs: Any) -> Any:
    """An optional model field that carries its EN 16931 term id (or per-role ids) as metadata."""
    if "default_factory" in kwargs:
        return Field(json_schema_extra=_term_extra(tid), **kwargs)
    return Field(default, json_schema_extra=_term_extra(tid), **kwargs)


def required(tid: str) -> Any:
    """A required model field with its term id, for ``Annotated[str, required("BT-n")]``: the
    key term of a group that readers build only when the term is present."""
    return Field(json_schema_extra=_term_extra(tid))


def terms_list(tid: str) -> Any:
    """A repeatable group or term: a list field defaulting to empty."""
    return Field(default_factory=list, json_schema_extra=_term_extra(tid))


class Part(BaseModel):
    """Base of every model class: strict about unknown fields, tolerant about missing ones."""

    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)


class Identifier(Part):
    """An identifier with its optional scheme (e.g. BT-29 with BT-29-1)."""

    value: str
    scheme: str | None = None
