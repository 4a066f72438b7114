"""`Callback`, the hook set every callback implements, and `CallbackList`.

Callbacks follow Keras 3: ``on_train_begin/end``, ``on_epoch_begin/end``,
``on_train_batch_begin/end``, ``on_test_*`` and ``on_predict_*``, each with a
``logs`` dict. ``self.model`` is the :class:`epochal.Model` being trained and
``self.params`` the fit parameters (``epochs``, ``steps``, ``verbose``).

What epochal adds: a callback's mutable state belongs to the training run,
not to the callback object. A stateful callback implements
:meth:`Callback.reset_state`, :meth:`Callback.state_dict` and
:meth:`Callback.load_state_dict`; at the start of every ``fit`` call the
callback list either loads the state the run saved for it (the run goes on) or
resets it (a new run, or another model). That is what makes a loop of
``fit(epochs=1, callbacks=[early_stopping])`` behave like one long ``fit``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from epochal.model import Model

__all__ = ["Callback", "CallbackList"]

Logs = MutableMapping[str, Any]

_BATCH_HOOKS = (
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


class Callback:
    """Base class of callbacks; override the hooks you need.

    Hooks that a subclass does not override cost nothing: the training loop
    skips per-batch hooks no callback overrides, so a callback list without
    batch hooks adds no per-step work.

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(epoch, logs["loss"])
    """

    def __init__(self) -> None:
        self.model: Model | None = None
        self.params: dict[str, Any] = {}

    # -- wiring ---------------------------------------------------------------
    def set_model(self, model: Model) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    @property
    def state_key(self) -> str:
        """Name under which the run stores this callback's state.

        Defaults to the class name; the callback list appends ``#1``, ``#2``
        ... for further callbacks of the same class in one list.
        """
        return type(self).__name__

    # -- run-owned state ------------------------------------------------------
    def reset_state(self) -> None:
        """Forget all mutable state: the callback starts a fresh run."""

    def state_dict(self) -> dict[str, Any]:
        """The mutable state, as JSON-compatible values and tensors."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back state produced by :meth:`state_dict`."""

    def wants_hook(self, hook: str) -> bool:
        """Whether the loop should call per-batch ``hook``: by default, whether it is overridden."""
        return _overrides(self, hook)

    # -- hooks ----------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Called at the start of each ``fit`` call."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Called at the end of each ``fit`` call, also after an early stop."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the start of an epoch; ``epoch`` is the run's 0-based index."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the end of an epoch with its training and validation logs."""

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before a training step; ``batch`` counts from 0 within the epoch."""

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after a training step with the epoch's running logs so far."""

    def on_test_begin(self, logs: Logs | None = None) -> None:
        """Called at the start of validation or ``evaluate``."""

    def on_test_end(self, logs: Logs | None = None) -> None:
        """Called at the end of validation or ``evaluate`` with its logs."""

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before an evaluation step."""

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after an evaluation step."""

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        """Called at the start of ``predict``."""

    def on_predict_end(self, logs: Logs | None = None) -> None:
        """Called at the end of ``predict``."""

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before a prediction step."""

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after a prediction step."""


def _overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(Callback, hook)


class CallbackList:
    """Calls the hooks of several callbacks in order, sharing one logs dict.

    A key one callback writes into ``logs`` is seen by the callbacks after it
    (History and the progress display come last, as in Keras).
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks: list[Callback] = list(callbacks)
        # Which batch hooks anyone overrides; the loop skips the others.
        self._batch_users = {
            hook: [cb for cb in self.callbacks if cb.wants_hook(hook)] for hook in _BATCH_HOOKS
        }

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def wants(self, hook: str) -> bool:
        """Whether any callback overrides the batch hook ``hook``."""
        return bool(self._batch_users[hook])

    def state_keys(self) -> list[str]:
        """Each callback's key in the run's state, made unique within the list."""
        seen: dict[str, int] = {}
        keys = []
        for cb in self.callbacks:
            base = cb.state_key
            n = seen.get(base, 0)
            seen[base] = n + 1
            keys.append(base if n == 0 else f"{base}#{n}")
        return keys

    def set_model(self, model: Model) -> None:
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.set_params(params)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_test_begin(logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_test_end(logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_predict_begin(logs)

    def on_predict_end(self, logs: Logs | None = None) -> None:
        for cb in self.callbacks:
            cb.on_predict_end(logs)

    def batch_hook(self, hook: str, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Call a per-batch hook on the callbacks that override it.

        Batch logs are a read-only mapping computed on read (see the loop).
        """
        for cb in self._batch_users[hook]:
            getattr(cb, hook)(batch, logs)
