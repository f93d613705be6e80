"""The one way the core builds a config dataclass from a Hydra node: ``build_config(cls, values, prefix)``.

Config classes (``ERPOConfig``, ``PREPOConfig``, ...) are frozen dataclasses. Their fields are documented
once, by the comment above each key in the YAML under ``recipe/conf/`` (a test checks that every field has one).
The builder refuses unknown keys (with a did-you-mean) and values of the wrong type, builds nested
config classes, then calls the root's ``validate(prefix)`` for the rules that relate fields. Every
error is a :class:`~erpo.errors.ConfigError` naming the dotted field.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

from erpo.errors import ConfigError

T = TypeVar("T")


def build_config(cls: type[T], values: Mapping[str, Any] | None, prefix: str) -> T:
    """``cls`` from a plain mapping (e.g. ``OmegaConf.to_container(cfg.erpo, resolve=True)``), validated."""
    return _build(cls, values if values is not None else {}, prefix).validate(prefix)


def _build(cls, values, prefix: str):
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix} must be a mapping of fields, got {type(values).__name__} {values!r}.")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f"Did you mean {prefix}.{close[0]}?" if close else f"Known fields: {', '.join(sorted(known))}."
            raise ConfigError(f"Unknown field {prefix}.{key}. {hint}")
        kwargs[key] = _coerce(value, hints[key], f"{prefix}.{key}")
    return cls(**kwargs)


def _coerce(value, hint, name: str):
    """``value`` as the field's declared type; ConfigError naming ``name`` if it is not one."""
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise ConfigError(f"{name} is null; it needs a value ({_describe(hint)}).")
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return _coerce_one(value, option, name)
        except ConfigError as err:
            errors.append(err)
    raise errors[0]


def _coerce_one(value, hint, name: str):
    if is_dataclass(hint):
        return _build(hint, value, name)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}={value!r} must be a list ({_describe(hint)}).")
        (item_hint, *_rest) = typing.get_args(hint)
        return tuple(_coerce_one(item, item_hint, f"{name}[{i}]") for i, item in enumerate(value))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}={value!r} must be true or false.")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}={value!r} must be an integer.")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{name}={value!r} must be a finite number.")
        return float(value)
    if hint is str:
        if isinstance(value, bool):
            raise ConfigError(
                f"{name}={value!r} must be a string; YAML reads a bare off/on/yes/no as a boolean: quote it."
            )
        if not isinstance(value, str):
            raise ConfigError(f"{name}={value!r} must be a string.")
        return value
    raise TypeError(f"config field {name} has a type the builder does not handle: {hint!r}")


def _is_union(hint) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _describe(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def require(condition: bool, prefix: str, name: str, value, why: str) -> None:
    """Raise ConfigError ``<prefix>.<name>=<value> <why>`` unless ``condition``."""
    if not condition:
        raise ConfigError(f"{prefix}.{name}={value!r} {why}")


def require_choice(prefix: str, name: str, value, choices) -> None:
    require(value in choices, prefix, name, value, f"is not supported; choose one of {list(choices)}.")
