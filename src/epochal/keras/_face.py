"""Keras's conventions for what `epochal.keras` builds (the Keras face).

The native `epochal.Model` keeps torch's habits; a model of `epochal.keras`
follows Keras 3 wherever a Keras program could tell the difference:

- plain callables given to ``compile`` as ``loss`` or ``metrics`` are called
  ``fn(y_true, y_pred)`` (`keras_order`);
- ``evaluate``, ``train_on_batch`` and ``test_on_batch`` return the loss alone
  without metrics, else ``[loss, *metrics]``, or the dict (`keras_result`);
- ``model.optimizer`` has Keras's surface (``learning_rate``, ``lr``,
  ``iterations``, ``get_config``) over the torch optimizer, which it stays
  (`keras_optimizer`); before the first ``fit`` a `CompiledOptimizer` stands
  in for it, so ``model.optimizer.learning_rate = ...`` works right after
  ``compile``;
- ``model(x)`` accepts numpy (`as_tensors`) and runs in inference mode unless
  ``training=True``.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torchmetrics
from torch import nn

from epochal import optimizers as optimizers_mod
from epochal.callbacks._lr import set_learning_rate
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "CompiledOptimizer",
    "KerasOptimizer",
    "adopt",
    "as_tensors",
    "keras_compile_args",
    "keras_optimizer",
    "keras_order",
    "keras_result",
]

# Markers of the loss and metric objects of epochal.keras: they know their own order.
_OWN_ORDER = ("_epochal_loss_spec", "_epochal_metric", "_epochal_metric_state")


# -- argument order of callables ------------------------------------------------------
class _KerasOrder:
    """A Keras-order callable ``fn(y_true, y_pred)`` seen by epochal as ``(y_pred, y_true)``."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", None) or type(fn).__name__
        for attr in ("name", "direction"):  # the log name and a monitor's direction, if given
            value = getattr(fn, attr, None)
            if value is not None:
                setattr(self, attr, value)

    def __call__(self, y_pred: Any, y_true: Any) -> Any:
        return self.fn(y_true, y_pred)

    def __repr__(self) -> str:
        return f"KerasOrder({self.fn!r})"


def _plain_callable(obj: Any) -> bool:
    """A function (or callable object) that is not a loss/metric object knowing its order."""
    if isinstance(obj, (str, type, nn.Module, torchmetrics.Metric)) or not callable(obj):
        return False
    own = getattr(obj, "__dict__", {})
    return not any(hasattr(type(obj), m) or m in own for m in _OWN_ORDER)


def keras_order(value: Any) -> Any:
    """``value`` (a loss or metrics, possibly nested per output) with plain callables in Keras's order.

    Lists, tuples and dicts (per-output losses and metrics) are walked; names,
    the loss and metric objects of `epochal.keras`, ``torch.nn`` modules (torch
    losses keep torch's ``(input, target)``) and torchmetrics objects are kept.
    """
    if isinstance(value, _KerasOrder):
        return value
    if isinstance(value, Mapping):
        return {k: keras_order(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(keras_order(v) for v in value)
    return _KerasOrder(value) if _plain_callable(value) else value


def keras_compile_args(
    args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``compile``'s arguments with `keras_order` applied to the loss and metrics.

    Positional arguments after the optimizer are the loss, then metrics (or
    Keras's ``loss_weights``: numbers, left alone).
    """
    ordered = tuple(keras_order(a) if i else a for i, a in enumerate(args))
    ordered_kwargs = dict(kwargs)
    for key in ("loss", "metrics", "weighted_metrics"):
        if key in ordered_kwargs:
            ordered_kwargs[key] = keras_order(ordered_kwargs[key])
    return ordered, ordered_kwargs


def adopt(native: Any, model: Any) -> Any:
    """Make ``native`` (an `epochal.Model` training ``model``) the Keras face's; returns it."""
    native._keras_face = True  # Keras's conventions
    native._callback_model = model  # callbacks' `self.model` is the Keras model
    trainer = getattr(native, "_trainer", None)
    if trainer is not None:  # compiled already (a loaded .keras file)
        trainer.settings.keras_face = True
    return native


# -- return forms ---------------------------------------------------------------------
def keras_result(
    logs: Mapping[str, float], names: Sequence[str], return_dict: bool
) -> float | list[float] | dict[str, float]:
    """Keras's form of ``logs``: the dict, the loss alone, or ``[loss, *metrics]`` in ``names`` order."""
    if return_dict:
        return dict(logs)
    values = [logs[k] for k in names if k in logs]
    values += [v for k, v in logs.items() if k not in names]
    return values[0] if len(values) == 1 else values


# -- the optimizer --------------------------------------------------------------------
class Iterations(int):
    """The step count as Keras shows it: a number with ``numpy``."""

    def numpy(self) -> np.int64:
        """The value as numpy, as Keras's variables give it."""
        return np.int64(int(self))


class LearningRate(float):
    """The learning rate as Keras shows it: a number with ``assign`` and ``numpy``."""

    _optimizer: Any

    def __new__(cls, value: float, optimizer: Any) -> LearningRate:
        rate = super().__new__(cls, value)
        rate._optimizer = optimizer
        return rate

    def assign(self, value: Any) -> None:
        """Sets the optimizer's learning rate (Keras's ``learning_rate.assign``)."""
        self._optimizer.learning_rate = value

    def numpy(self) -> np.float32:
        """The value as numpy, as Keras's variables give it."""
        return np.float32(float(self))


def _rate(owner: str, value: Any) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ArgumentTypeError(
            f"{owner}: expected `learning_rate` to be a number. "
            f"Received: learning_rate={value!r} of type {type(value).__name__}"
        )
    rate = float(value)
    if not rate >= 0.0:
        raise ArgumentError(
            f"{owner}: expected `learning_rate` to be a number >= 0. Received: learning_rate={value!r}"
        )
    return rate


_HIDDEN = {"params", "foreach", "fused", "capturable", "differentiable", "maximize", "iterations"}
_KERAS_NAMES = {"lr": "learning_rate", "eps": "epsilon", "alpha": "rho"}


class KerasOptimizer:
    """Keras's optimizer surface, mixed into the class of a torch optimizer.

    The object stays the torch optimizer (``step``, ``param_groups``,
    ``state_dict``, schedulers and ``isinstance`` work as before); it gains
    ``learning_rate`` (readable and settable), ``lr``, ``iterations``,
    ``name`` and ``get_config``.
    """

    @property
    def learning_rate(self) -> LearningRate:
        """The learning rate of the first parameter group; setting it sets every group's."""
        lr = self.param_groups[0]["lr"]  # type: ignore[attr-defined]
        return LearningRate(float(lr.item() if isinstance(lr, torch.Tensor) else lr), self)

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        rate = _rate("optimizer", value)
        settings = getattr(self._epochal_model(), "_compiled", None)
        if getattr(getattr(settings, "optimizer", None), "schedule", None) is not None:
            raise ArgumentError(
                "optimizer.learning_rate is not settable: the optimizer was built with a "
                "learning-rate schedule, which sets it at every step (as in Keras). "
                f"Received: learning_rate={value!r}"
            )
        set_learning_rate(self, rate)  # type: ignore[arg-type]

    @property
    def lr(self) -> LearningRate:
        """Keras 2's name of `learning_rate`."""
        return self.learning_rate

    @lr.setter
    def lr(self, value: Any) -> None:
        self.learning_rate = value

    @property
    def iterations(self) -> Iterations:
        """The training steps taken so far (``fit`` and ``train_on_batch``), Keras's ``iterations``."""
        model = self._epochal_model()
        trainer = getattr(model, "_trainer", None)
        return Iterations(trainer.run.step if trainer is not None else 0)

    def _epochal_model(self) -> Any:
        owner = self.__dict__.get("_epochal_owner")
        return owner() if owner is not None else None

    @property
    def name(self) -> str:
        """The optimizer's name, as Keras's (``"adam"``, ``"sgd"``, ...)."""
        return type(self).__name__.lower()

    def get_config(self) -> dict[str, Any]:
        """The hyperparameters under Keras's names (``learning_rate``, ``epsilon``, ...)."""
        group = self.param_groups[0]  # type: ignore[attr-defined]
        config: dict[str, Any] = {"name": self.name}
        for key, value in group.items():
            if key in _HIDDEN:
                continue
            if isinstance(value, torch.Tensor) and value.numel() == 1:
                value = value.item()
            if key == "betas":
                config["beta_1"], config["beta_2"] = (float(b) for b in value)
                continue
            config[_KERAS_NAMES.get(key, key)] = value
        config["learning_rate"] = float(self.learning_rate)
        return config


_SURFACES: dict[type, type] = {}


def keras_optimizer(optimizer: torch.optim.Optimizer, owner: Any) -> torch.optim.Optimizer:
    """``optimizer`` with Keras's surface (its class gains `KerasOptimizer`); the same object.

    Args:
        optimizer: the run's torch optimizer.
        owner: the native `epochal.Model` training it (for ``iterations``).
    """
    cls = type(optimizer)
    if not isinstance(optimizer, KerasOptimizer):
        surface = _SURFACES.get(cls)
        if surface is None:
            surface = type(
                cls.__name__,
                (KerasOptimizer, cls),
                {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
            )
            _SURFACES[cls] = surface
        optimizer.__class__ = surface
    optimizer.__dict__["_epochal_owner"] = weakref.ref(owner)
    return optimizer


class CompiledOptimizer:
    """``model.optimizer`` between ``compile`` and the first ``fit``, when torch's is not built yet.

    Its ``learning_rate`` is what the optimizer will be built with; setting it
    changes that (Keras's ``model.optimizer.learning_rate = ...`` before
    ``fit``). Once the optimizer is built, a reference kept from before reads
    and sets the built one.
    """

    def __init__(self, owner: Any) -> None:
        self._owner = owner  # the native epochal.Model
        self._settings = owner._compiled

    def _built(self) -> Any:
        if self._owner._compiled is not self._settings:  # compiled again: a new run
            return None
        built = self._owner.optimizer
        return None if built is None else keras_optimizer(built, self._owner)

    @property
    def learning_rate(self) -> LearningRate | None:
        """The rate the optimizer starts with (None if a factory decides it)."""
        built = self._built()
        if built is not None:
            return built.learning_rate
        settings = self._settings
        rate = settings.learning_rate
        spec = settings.optimizer
        if rate is None and isinstance(spec, str):
            rate = optimizers_mod._REGISTRY[spec.lower()][1]
        if rate is None:
            rate = getattr(spec, "learning_rate", None)
        return None if rate is None else LearningRate(float(rate), self)

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        built = self._built()
        if built is not None:
            built.learning_rate = value
            return
        rate = _rate("optimizer", value)
        if getattr(self._settings.optimizer, "schedule", None) is not None:
            raise ArgumentError(
                "optimizer.learning_rate is not settable: the optimizer has a learning-rate "
                f"schedule, which sets it at every step (as in Keras). Received: learning_rate={value!r}"
            )
        self._settings.learning_rate = rate

    @property
    def lr(self) -> LearningRate | None:
        """Keras 2's name of `learning_rate`."""
        return self.learning_rate

    @lr.setter
    def lr(self, value: Any) -> None:
        self.learning_rate = value

    @property
    def iterations(self) -> Iterations:
        """The training steps taken so far (0 before the first)."""
        built = self._built()
        return Iterations(0) if built is None else built.iterations

    @property
    def name(self) -> str:
        """The optimizer's name."""
        spec = self._settings.optimizer
        return spec.lower() if isinstance(spec, str) else type(spec).__name__.lower()

    def get_config(self) -> dict[str, Any]:
        """The optimizer's configuration: the built one's, or its name and learning rate before."""
        built = self._built()
        if built is not None:
            return built.get_config()
        spec = self._settings.optimizer
        config = dict(spec.get_config()) if hasattr(spec, "get_config") else {}
        config.setdefault("name", self.name)
        rate = self.learning_rate
        if rate is not None:
            config["learning_rate"] = float(rate)
        return config

    def __repr__(self) -> str:
        return f"<optimizer {self.name!r}, built at the first fit>"


# -- inputs of model(x) ---------------------------------------------------------------
def as_tensors(value: Any, device: torch.device | None, floating: torch.dtype | None = None) -> Any:
    """Arrays (numpy or torch, nested in tuples, lists, dicts) as tensors on ``device``.

    float64 becomes ``floating`` (the model's float dtype; default: the
    default dtype, float32), as Keras casts inputs to its layers' dtype;
    tensors move to the model's device, as Keras's torch backend puts inputs
    on its device.
    """
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.float64:
            value = value.to(floating or torch.get_default_dtype())
        if device is not None and value.device != device and value.device.type != "meta":
            value = value.to(device)
        return value
    if isinstance(value, Mapping):
        return {k: as_tensors(v, device, floating) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(as_tensors(v, device, floating) for v in value)
    return value
