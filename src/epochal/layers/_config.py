"""Layer configs: each layer's constructor arguments, recorded as it is made.

`record_init_args` wraps a class's ``__init__`` so that an instance keeps the
arguments its outermost ``__init__`` was called with (defaults filled in);
`Layer` applies it to every subclass, so any layer -- epochal's or a user's
``keras.layers.Layer`` subclass -- has a ``get_config()`` for free, and
``cls.from_config(layer.get_config())`` makes the same layer (new weights).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

__all__ = ["init_args", "record_init_args"]

_KEY = "_config_args"


def record_init_args(cls: type) -> None:
    """Makes ``cls.__init__`` record its arguments on the instance (once, by the outermost call)."""
    init = cls.__dict__.get("__init__")
    if init is None or getattr(init, "_records_args", False):
        return
    try:
        signature = inspect.signature(init)
    except (TypeError, ValueError):  # a builtin __init__: nothing to record
        return

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if _KEY not in self.__dict__:
            self.__dict__[_KEY] = _bind(signature, self, args, kwargs)
        init(self, *args, **kwargs)

    __init__._records_args = True  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]


def _bind(
    signature: inspect.Signature, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any] | None:
    """The call's arguments by name, defaults included (None when they cannot be named)."""
    try:
        bound = signature.bind(obj, *args, **kwargs)
    except TypeError:
        return None  # the __init__ itself will raise the user's error
    bound.apply_defaults()
    result: dict[str, Any] = {}
    for index, (name, value) in enumerate(bound.arguments.items()):
        if index == 0:
            continue  # self
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                return None  # positional extras have no names to put in a config
        elif kind is inspect.Parameter.VAR_KEYWORD:
            result.update(value)
        else:
            result[name] = value
    return result


def init_args(obj: object) -> dict[str, Any] | None:
    """The recorded constructor arguments of ``obj`` (None when none were recorded)."""
    args = obj.__dict__.get(_KEY)
    return dict(args) if args is not None else None
