"""``CSMS_*`` environment variables: values coerced to their key's type, errors naming them.

An environment value is always text. pydantic converts text to most types by itself
("9001" to an int), but not to a ``Literal[0, 1, 2]`` (``security_profile``) or to a list.
Rules:
1. A variable's text is kept when the key's type accepts it; otherwise it is read as a
   TOML value (``1``, ``true``, ``[1, 2]``, ``"x"``) and that is used when the type accepts
   it; otherwise the text is kept, so the key's own error is reported.
2. An error in a key that a variable set names that variable, not the configuration file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

PREFIX = "CSMS_"
DELIMITER = "__"


class CoercedEnvSource(PydanticBaseSettingsSource):
    """Wraps pydantic-settings' environment source and applies rule 1 to what it read."""

    def __init__(self, settings_cls: type[BaseSettings],
                 inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._inner.get_field_value(field, field_name)  # unused: __call__ does it all

    def __call__(self) -> dict[str, Any]:
        return coerce(self.settings_cls, self._inner())


def coerce(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (nested dicts of text, as read from the environment) with every leaf in
    the form its field's type accepts (rule 1)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        field = model.model_fields.get(key)
        annotation: Any = None if field is None else field.annotation
        if isinstance(value, Mapping) and _is_model(annotation):
            out[key] = coerce(annotation, value)
        elif isinstance(value, str) and field is not None:
            out[key] = _coerce_leaf(annotation, value)
        else:
            out[key] = value
    return out


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _coerce_leaf(annotation: Any, text: str) -> Any:
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    if _accepts(adapter, text):
        return text
    try:
        parsed = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text
    return parsed if _accepts(adapter, parsed) else text


def _accepts(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def variables(environ: Mapping[str, str] | None = None) -> dict[tuple[str, ...], str]:
    """The key path each ``CSMS_*`` variable sets: ``("server", "port")`` ->
    ``"CSMS_SERVER__PORT"`` (names are case-insensitive, as pydantic-settings reads them)."""
    found = {}
    for name in os.environ if environ is None else environ:
        if name.upper().startswith(PREFIX):
            path = tuple(part.lower() for part in name[len(PREFIX):].split(DELIMITER))
            found[path] = name
    return found


def source_of(location: tuple[str | int, ...],
              from_env: Mapping[tuple[str, ...], str]) -> str | None:
    """The variable that set the key at ``location`` (or a section above it), if any."""
    path = tuple(str(part).lower() for part in location)
    for length in range(len(path), 0, -1):
        name = from_env.get(path[:length])
        if name is not None:
            return name
    return None
