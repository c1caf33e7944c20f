"""Hypothesis strategies for OCPP payloads, built from the official JSON schemas.

hypothesis-jsonschema would do this, but its last release is incompatible with current
Hypothesis; the OCPP schemas use a small subset of JSON Schema draft 4, covered here:
``$ref`` to ``definitions``, objects with ``required``, arrays with min/maxItems, strings with
``maxLength``/``enum``/``format: date-time``, bounded integers, numbers with ``multipleOf``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import hypothesis.strategies as st

from csms.handlers.ocppj import constrain

INT32 = 2**31 - 1
TEXT = st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=["Cs"])


def request_schema(version: str, action: str) -> dict[str, Any]:
    folder, name = ("v16", action) if version == "ocpp1.6" else ("v201", f"{action}Request")
    path = resources.files("ocpp") / folder / "schemas" / f"{name}.json"
    # the CSMS's own reading of the schema: OCPP's 32-bit integers, ids from 0 (ocppj rule 4)
    return constrain(json.loads(path.read_text(encoding="utf-8-sig")))


def payloads(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against ``schema``."""
    return _node(schema, schema.get("definitions", {}))


def _node(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in node:
        return _node(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object":
        return _object(node, defs)
    if kind == "array":
        return st.lists(_node(node["items"], defs), min_size=node.get("minItems", 0),
                        max_size=min(node.get("maxItems", 3), 3))
    if kind == "string":
        if node.get("format") == "date-time":
            # hypothesis takes naive bounds and applies ``timezones`` itself
            low, high = datetime(2000, 1, 1), datetime(2099, 1, 1)  # noqa: DTZ001
            return st.datetimes(min_value=low, max_value=high, timezones=st.just(UTC)).map(
                lambda d: d.isoformat().replace("+00:00", "Z"))
        return st.text(TEXT, max_size=min(node.get("maxLength", 30), 30))
    if kind == "integer":
        return st.integers(node.get("minimum", -INT32), node.get("maximum", INT32))
    if kind == "number":
        return _number(node)
    if kind == "boolean":
        return st.booleans()
    if kind is None:  # "data" of DataTransfer: any JSON value
        return st.recursive(
            st.none() | st.booleans() | st.integers(-INT32, INT32) | st.text(TEXT, max_size=10),
            lambda inner: st.lists(inner, max_size=3)
            | st.dictionaries(st.text(TEXT, max_size=5), inner, max_size=3),
            max_leaves=5,
        )
    raise NotImplementedError(f"schema node not covered: {node}")


def _number(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    low, high = node.get("minimum", -1e6), node.get("maximum", 1e6)
    if "multipleOf" in node:
        step = Decimal(str(node["multipleOf"]))
        return st.integers(int(Decimal(str(low)) / step) + 1, int(Decimal(str(high)) / step)).map(
            lambda n: float(n * step))
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _object(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = node.get("properties", {})
    required = set(node.get("required", []))
    return st.fixed_dictionaries(
        {name: _node(sub, defs) for name, sub in properties.items() if name in required},
        optional={name: _node(sub, defs) for name, sub in properties.items()
                  if name not in required},
    )
