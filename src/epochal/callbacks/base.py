"""`Callback`, the hook set every callback implements, and `CallbackList`.

Callbacks follow Keras 3: ``on_train_begin/end``, ``on_epoch_begin/end``,
``on_train_batch_begin/end``, ``on_test_*`` and ``on_predict_*``, each with a
``logs`` dict. ``self.model`` is the model being trained (an
:class:`epochal.Model`, which satisfies the `CallbackContext` protocol below)
and ``self.params`` the fit parameters (``epochs``, ``steps``, ``verbose``, ...).

What epochal adds: a callback's mutable state belongs to the training run,
not to the callback object. A stateful callback names its state in one line,
``state_attributes = ("best", "wait")``, or implements
:meth:`Callback.reset_state`, :meth:`Callback.state_dict` and
:meth:`Callback.load_state_dict`; at the start of every ``fit`` call the
callback list either loads the state the run saved for it (the run goes on) or
resets it (a new run, or another model). That is what makes a loop of
``fit(epochs=1, callbacks=[early_stopping])`` behave like one long ``fit``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from epochal.errors import ArgumentTypeError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from epochal.run import RunState

__all__ = ["Callback", "CallbackContext", "CallbackList"]


@runtime_checkable
class CallbackContext(Protocol):
    """What callbacks may use of the model being trained (``callback.model``).

    `epochal.Model` satisfies it (so a callback also sees everything else a
    model has, as in Keras); the library's own callbacks use only this, and
    test fakes implement it.
    """

    @property
    def module(self) -> nn.Module:
        """The ``torch.nn.Module`` being trained."""
        ...

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The run's optimizer (None before the first ``fit`` or ``evaluate``)."""
        ...

    @property
    def run(self) -> RunState:
        """The training run: epoch, step, history (with its ``events``)."""
        ...

    stop_training: bool

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the whole run (inside ``fit``: as it stands after the hooks now running)."""
        ...

    def save_weights(self, path: str | os.PathLike[str]) -> Path:
        """Save the weights only."""
        ...

    def metric_direction(self, name: str) -> Literal["min", "max"] | None:
        """Whether the log key ``name`` improves downward or upward (None if unknown)."""
        ...

    def show_weights(self, weights: Mapping[str, torch.Tensor]) -> None:
        """Show ``weights`` (EarlyStopping's best) while the run keeps its own trajectory."""
        ...


Logs = MutableMapping[str, Any]

_BATCH_HOOKS = (
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


_NO_BATCH_USERS: dict[str, list[Any]] = {hook: [] for hook in _BATCH_HOOKS}  # read only


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

    #: Attributes holding the callback's mutable state, which then belongs to
    #: the run: the default `state_dict`, `load_state_dict` and `reset_state`
    #: use them (``reset_state`` puts back the values they had when the
    #: callback was first given to ``fit``). Values must be checkpointable:
    #: None, bool, int, float, str, tensors, and lists/tuples/dicts of those.
    state_attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    # -- wiring ---------------------------------------------------------------
    def set_model(self, model: CallbackContext) -> None:
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
        initial = self.__dict__.get("_initial_state")
        if initial is not None:
            self.load_state_dict(copy.deepcopy(initial))

    def state_dict(self) -> dict[str, Any]:
        """The mutable state, as JSON-compatible values and tensors."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self.state_attributes}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take back state produced by :meth:`state_dict`."""
        for name in self.state_attributes:
            if name in state:
                setattr(self, name, copy.deepcopy(state[name]))

    def check_state(self) -> None:
        """Refuse state that cannot be checkpointed (called when given to ``fit``).

        Raises:
            ArgumentTypeError: an attribute in ``state_attributes`` is missing
                or holds a value a checkpoint cannot store.
        """
        for name in self.state_attributes:
            if not hasattr(self, name):
                raise ArgumentTypeError(
                    f"{type(self).__name__}: `state_attributes` names {name!r}, which the "
                    "callback does not have. Set it in __init__"
                )
            _check_state_value(getattr(self, name), f"{type(self).__name__}.{name}")
        if self.state_attributes and "_initial_state" not in self.__dict__:
            self.__dict__["_initial_state"] = self.state_dict()

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
        """Called before a training step; ``batch`` counts from 0 within the epoch.

        By default it calls the legacy `on_batch_begin`, as Keras does.
        """
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after a training step with the epoch's running logs so far.

        By default it calls the legacy `on_batch_end`, as Keras does.
        """
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Keras's older name of `on_train_batch_begin` (called by it)."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Keras's older name of `on_train_batch_end` (called by it)."""

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


# The training batch hooks call these legacy names by default.
_LEGACY = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _overrides(callback: Callback, hook: str) -> bool:
    cls = type(callback)
    if getattr(cls, hook) is not getattr(Callback, hook):
        return True
    legacy = _LEGACY.get(hook)
    return legacy is not None and getattr(cls, legacy) is not getattr(Callback, legacy)


def _check_state_value(value: Any, where: str) -> None:
    import torch

    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise ArgumentTypeError(
                    f"Callback state {where} has a key {key!r} of type {type(key).__name__}; "
                    "a checkpoint stores str, int, float or bool keys"
                )
            _check_state_value(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_state_value(item, f"{where}[{i}]")
        return
    raise ArgumentTypeError(
        f"Callback state {where} is a {type(value).__name__} ({value!r:.60}), which a checkpoint "
        "cannot store. Expected None, bool, int, float, str, a tensor, or lists/tuples/dicts of "
        "those (convert numpy values with float(...) or torch.as_tensor(...))"
    )


class CallbackList:
    """Calls the hooks of several callbacks in order, sharing one logs dict.

    A key one callback writes into ``logs`` is seen by the callbacks after it
    (History and the progress display come last, as in Keras).
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks: list[Callback] = list(callbacks)
        self._model: Any = None
        # Which batch hooks anyone overrides; the loop skips the others.
        self._batch_users = (
            {hook: [cb for cb in self.callbacks if cb.wants_hook(hook)] for hook in _BATCH_HOOKS}
            if self.callbacks
            else _NO_BATCH_USERS
        )

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

    def set_model(self, model: CallbackContext) -> None:
        self._model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def stop_requested(self, what: Literal["evaluating", "predicting"]) -> bool:
        """Whether a callback set ``model.stop_evaluating`` / ``model.stop_predicting``."""
        return bool(getattr(self._model, f"stop_{what}", False))

    def _clear_stop(self, what: str) -> None:
        if self._model is not None and hasattr(self._model, f"stop_{what}"):
            setattr(self._model, f"stop_{what}", False)

    def load_states(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        """Load each callback's state saved in ``states``; reset those without one."""
        for key, cb in zip(self.state_keys(), self.callbacks, strict=True):
            if key in states:
                cb.load_state_dict(states[key])
            else:
                cb.reset_state()

    def save_states(self, states: dict[str, dict[str, Any]]) -> None:
        """Record each stateful callback's state into ``states``."""
        for key, cb in zip(self.state_keys(), self.callbacks, strict=True):
            state = cb.state_dict()
            if state:
                states[key] = state

    def set_params(self, params: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.set_params(params)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        self._clear_stop("evaluating")
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_test_begin(logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_test_end(logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._clear_stop("predicting")
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_predict_begin(logs)

    def on_predict_end(self, logs: Logs | None = None) -> None:
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_predict_end(logs)

    def batch_hook(self, hook: str, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Call a per-batch hook on the callbacks that override it.

        Batch-end logs are a read-only mapping computed on read (see the
        loop); batch-begin logs are empty, as in Keras.
        """
        if hook.endswith("_begin") or logs is None:
            logs = {}
        for cb in self._batch_users[hook]:
            getattr(cb, hook)(batch, logs)
