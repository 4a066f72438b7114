"""`LambdaCallback`: a callback made of plain functions, one per hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from epochal.callbacks.base import Callback
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["LambdaCallback"]

_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
# Keras's older names for the training batch hooks.
_ALIASES = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}

Hook = Callable[..., Any]


class LambdaCallback(Callback):
    """A callback whose hooks are the functions passed in.

    The functions take the hook's arguments without ``self``, as in Keras:
    ``on_epoch_begin``/``on_epoch_end`` get ``(epoch, logs)``,
    ``on_train_begin``/``on_train_end`` get ``(logs)``, the batch hooks get
    ``(batch, logs)``. Only the hooks given are overridden, so a
    ``LambdaCallback`` without batch functions adds no per-batch work to the
    training loop.

    Args:
        on_epoch_begin: called at the start of every epoch.
        on_epoch_end: called at the end of every epoch.
        on_train_begin: called at the start of every ``fit`` call.
        on_train_end: called at the end of every ``fit`` call.
        on_train_batch_begin: called before every training batch.
        on_train_batch_end: called after every training batch.
        **kwargs: any other hook of `Callback` by name (``on_test_end=...``,
            ``on_predict_batch_end=...``; Keras's ``on_batch_begin`` and
            ``on_batch_end`` stand for the training batch hooks). Other
            keywords become attributes of the callback, as in Keras.

    Raises:
        ArgumentTypeError: a hook function is not callable.
        ArgumentError: a hook is given twice (``on_batch_end`` and
            ``on_train_batch_end``).

    Example:
        >>> print_loss = LambdaCallback(
        ...     on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
        >>> model.fit(x, y, epochs=5, callbacks=[print_loss])
    """

    def __init__(
        self,
        on_epoch_begin: Hook | None = None,
        on_epoch_end: Hook | None = None,
        on_train_begin: Hook | None = None,
        on_train_end: Hook | None = None,
        on_train_batch_begin: Hook | None = None,
        on_train_batch_end: Hook | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        given: dict[str, Hook | None] = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        extras: dict[str, Any] = {}
        for name, function in kwargs.items():
            hook = _ALIASES.get(name, name)
            if hook not in _HOOKS:
                extras[name] = function  # Keras keeps other keywords as attributes
                continue
            if function is not None and given.get(hook) is not None:
                raise ArgumentError(
                    f"LambdaCallback: `{name}` and `{hook}` name the same hook; pass only one."
                )
            if function is not None or hook not in given:
                given[hook] = function
        for hook, function in given.items():
            if function is not None and not callable(function):
                raise ArgumentTypeError(
                    f"LambdaCallback: expected `{hook}` to be a callable. "
                    f"Received: {hook}={function!r}"
                )
        self.hooks: dict[str, Hook] = {
            hook: function for hook, function in given.items() if function is not None
        }
        # The given functions shadow the class's no-op hooks on this instance
        # (they take no ``self``, as in Keras); `wants_hook` tells the loop which
        # batch hooks to call, so hooks not given cost nothing.
        for hook, function in self.hooks.items():
            setattr(self, hook, function)
        for name, value in extras.items():
            setattr(self, name, value)

    def wants_hook(self, hook: str) -> bool:
        """Whether ``hook`` was given (the loop calls only the batch hooks given)."""
        return hook in self.hooks
