"""A class named by a config field as a dotted path, checked against the base class the field needs."""

from __future__ import annotations


def subclass_at(field: str, name: str, base: type, fix: str) -> type:
    """The class the dotted path ``name`` (config field ``field``) names, if it subclasses ``base``; a ValueError
    naming the field, the value and ``fix`` otherwise."""
    from hydra.utils import get_class

    try:
        cls = get_class(str(name))
    except Exception as exc:  # hydra wraps the import error; keep its reason
        raise ValueError(f"{field}={name!r} cannot be imported ({exc}); use a dotted path.") from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{field}={name!r} is not a subclass of {base.__module__}.{base.__qualname__}; {fix}")
    return cls
