"""Keras's optimizers as factories of ``torch.optim`` optimizers.

Each class takes Keras's argument names and defaults (``learning_rate``,
``beta_1``, ``beta_2``, ``epsilon=1e-7``, ``rho``, ``momentum``, ...). The
object is a factory: ``compile`` calls it with the model's parameters and
gets the configured ``torch.optim`` optimizer back, so ``model.optimizer`` is
a plain torch optimizer.

Argument mapping, Keras -> torch: ``learning_rate`` -> ``lr``;
``(beta_1, beta_2)`` -> ``betas``; ``epsilon`` -> ``eps``; RMSprop's ``rho``
-> ``alpha``. ``weight_decay`` is decoupled, as in Keras (before each step
every trained parameter is multiplied by ``1 - learning_rate * weight_decay``),
not torch's L2 term added to the gradient; AdamW uses torch's own decoupled
decay, which is the same rule. ``clipnorm``, ``clipvalue``, ``global_clipnorm``,
``gradient_accumulation_steps``, ``use_ema`` (``ema_momentum``,
``ema_overwrite_frequency``) and a schedule from `schedules` as
``learning_rate`` are installed around the torch optimizer's ``step`` (see
`epochal._optim_hooks`); what they remember is in the optimizer's state, so
it is part of the run.

Example:
    >>> from epochal.keras import optimizers
    >>> opt = optimizers.Adam(learning_rate=1e-3)
    >>> opt
    Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False)
    >>> model.compile(optimizer=opt, loss="binary_crossentropy")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch

from epochal._optim_hooks import check_step_options, install
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import schedules

__all__ = [
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "SGD",
    "get",
    "schedules",
]


def _number(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not math.isfinite(value):
        raise ArgumentError(f"{owner}: expected `{name}` to be finite. Received: {name}={value!r}")
    return float(value)


def _in_range(owner: str, name: str, value: Any, *, upper_open: bool = True) -> float:
    number = _number(owner, name, value)
    top_ok = number < 1.0 if upper_open else number <= 1.0
    if number < 0.0 or not top_ok:
        interval = "[0, 1)" if upper_open else "[0, 1]"
        raise ArgumentError(
            f"{owner}: expected `{name}` to be in {interval}. Received: {name}={value!r}"
        )
    return number


def _non_negative(owner: str, name: str, value: Any) -> float:
    number = _number(owner, name, value)
    if number < 0.0:
        raise ArgumentError(f"{owner}: expected `{name}` to be >= 0. Received: {name}={value!r}")
    return number


def _flag(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a bool. Received: {name}={value!r}"
        )
    return value


class _DecoupledWeightDecay:
    """A step pre-hook applying Keras's weight decay: ``w -= w * weight_decay * lr``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def __call__(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        with torch.no_grad():
            for group in optimizer.param_groups:
                # Only parameters being updated this step decay, as in Keras.
                params = [p for p in group["params"] if p.grad is not None]
                if params:
                    torch._foreach_mul_(params, 1.0 - group["lr"] * self.rate)


class Optimizer:
    """Base class: a Keras optimizer configuration that builds a ``torch.optim`` optimizer.

    Subclasses set ``_torch_class`` and implement `_torch_kwargs`. Calling the
    object with parameters builds the optimizer; ``compile`` does that.

    Args:
        learning_rate: the step size (a positive number).
        weight_decay: Keras's decoupled weight decay, or None.
        clipnorm: clip each parameter's gradient to this norm.
        clipvalue: clip each gradient entry to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this norm.
        use_ema, ema_momentum, ema_overwrite_frequency: keep a moving average
            of the weights (written into them every ``ema_overwrite_frequency``
            updates, and at the end of ``fit`` as Keras does).
        gradient_accumulation_steps: apply the mean gradient of every N batches.
        loss_scale_factor: not supported (use ``precision='16-mixed'``).
        name: accepted for Keras compatibility.
        lr: Keras 2's old name of ``learning_rate``, accepted as an alias.

    Raises:
        ArgumentError: an unsupported option, or a value out of range.
        ArgumentTypeError: an argument of the wrong type.
    """

    _torch_class: ClassVar[Callable[..., torch.optim.Optimizer]]
    _default_learning_rate: ClassVar[float] = 0.001

    def __init__(
        self,
        learning_rate: float | schedules.LearningRateSchedule | Callable[[int], float],
        *,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        gradient_accumulation_steps: int | None = None,
        loss_scale_factor: float | None = None,
        name: str | None = None,
        lr: float | None = None,
    ) -> None:
        owner = type(self).__name__
        if lr is not None:
            if learning_rate != self._default_learning_rate:
                raise ArgumentError(
                    f"{owner}: pass only one of `learning_rate` and its old name `lr`. "
                    f"Received: learning_rate={learning_rate!r}, lr={lr!r}"
                )
            learning_rate = lr
        self.schedule: Callable[[int], float] | None = None
        if callable(learning_rate):
            self.schedule = learning_rate
            rate = float(learning_rate(0))
        else:
            rate = _number(owner, "learning_rate", learning_rate)
        if rate <= 0.0 and self.schedule is None:
            raise ArgumentError(
                f"{owner}: expected `learning_rate` to be a positive number. "
                f"Received: learning_rate={learning_rate!r}"
            )
        if loss_scale_factor is not None:
            raise ArgumentError(
                f"{owner}: `loss_scale_factor` is not supported by epochal's optimizers. "
                f"Received: loss_scale_factor={loss_scale_factor!r}; use "
                "compile(precision='16-mixed'), whose gradient scaler adapts the scale"
            )
        self.step_options = check_step_options(
            owner,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            gradient_accumulation_steps=gradient_accumulation_steps,
            schedule=self.schedule,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
        )
        if name is not None and not isinstance(name, str):
            raise ArgumentTypeError(
                f"{owner}: expected `name` to be a str. Received: name={name!r}"
            )
        self.learning_rate = rate
        self.weight_decay = (
            None if weight_decay is None else _non_negative(owner, "weight_decay", weight_decay)
        )
        self.name = name or owner.lower()

    @property
    def clipnorm(self) -> float | None:
        return self.step_options.clipnorm

    @property
    def clipvalue(self) -> float | None:
        return self.step_options.clipvalue

    @property
    def global_clipnorm(self) -> float | None:
        return self.step_options.global_clipnorm

    @property
    def use_ema(self) -> bool:
        return self.step_options.use_ema

    @property
    def gradient_accumulation_steps(self) -> int | None:
        return self.step_options.accumulation_steps

    def _torch_kwargs(self) -> dict[str, Any]:
        """The torch constructor's keyword arguments, besides ``lr``."""
        raise NotImplementedError

    def _keras_config(self) -> dict[str, Any]:
        """This optimizer's own Keras arguments, for `get_config` and ``repr``."""
        raise NotImplementedError

    def _builds_decay(self) -> bool:
        """Whether the torch optimizer applies ``weight_decay`` itself (decoupled)."""
        return False

    def get_config(self) -> dict[str, Any]:
        """The Keras arguments of this optimizer."""
        rate: Any = self.learning_rate
        if isinstance(self.schedule, schedules.LearningRateSchedule):
            rate = schedules.serialize(self.schedule)
        config: dict[str, Any] = {"learning_rate": rate, **self._keras_config()}
        if self.weight_decay is not None and "weight_decay" not in config:
            config["weight_decay"] = self.weight_decay
        options = self.step_options
        extras = {
            "clipnorm": options.clipnorm,
            "clipvalue": options.clipvalue,
            "global_clipnorm": options.global_clipnorm,
            "gradient_accumulation_steps": options.accumulation_steps,
        }
        config.update({k: v for k, v in extras.items() if v is not None})
        if options.use_ema:
            config.update(
                use_ema=True,
                ema_momentum=options.ema_momentum,
                ema_overwrite_frequency=options.ema_overwrite_frequency,
            )
        return config

    def __call__(self, params: Iterable[Any]) -> torch.optim.Optimizer:
        """Build the ``torch.optim`` optimizer over ``params``.

        Args:
            params: parameters or parameter groups, as torch optimizers take them.

        Returns:
            The configured optimizer.
        """
        optimizer = self._torch_class(params, lr=self.learning_rate, **self._torch_kwargs())
        # Accumulation and clipping run before the decay hook, on the gradient applied.
        install(optimizer, self.step_options)
        if self.weight_decay and not self._builds_decay():
            optimizer.register_step_pre_hook(_DecoupledWeightDecay(self.weight_decay))
        return optimizer

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum: ``torch.optim.SGD``.

    Args:
        learning_rate: the step size.
        momentum: in ``[0, 1]``; 0 is plain SGD.
        nesterov: use Nesterov momentum.
        weight_decay: decoupled weight decay (Keras's rule), or None.
        **kwargs: the options of `Optimizer` (``clipnorm``, ``name``, ...).

    Example:
        >>> SGD(learning_rate=0.1, momentum=0.9, nesterov=True)([torch.zeros(1)])
    """

    _torch_class = torch.optim.SGD
    _default_learning_rate = 0.01

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.momentum = _in_range("SGD", "momentum", momentum, upper_open=False)
        self.nesterov = _flag("SGD", "nesterov", nesterov)

    def _torch_kwargs(self) -> dict[str, Any]:
        # torch refuses nesterov without momentum; Keras's update is then plain SGD.
        return {"momentum": self.momentum, "nesterov": self.nesterov and self.momentum > 0}

    def _keras_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class _AdamFamily(Optimizer):
    """Shared arguments of Adam, AdamW, Adamax and Nadam."""

    def __init__(
        self,
        learning_rate: float,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        *,
        weight_decay: float | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        owner = type(self).__name__
        self.beta_1 = _in_range(owner, "beta_1", beta_1)
        self.beta_2 = _in_range(owner, "beta_2", beta_2)
        self.epsilon = _non_negative(owner, "epsilon", epsilon)

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}

    def _keras_config(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adam(_AdamFamily):
    """Adam: ``torch.optim.Adam`` with Keras's defaults (``epsilon=1e-7``).

    Args:
        learning_rate: the step size.
        beta_1, beta_2: decay rates of the first and second moment estimates.
        epsilon: the numerical-stability constant.
        amsgrad: use the AMSGrad variant.
        weight_decay: decoupled weight decay (Keras's rule), or None.
        **kwargs: the options of `Optimizer`.

    Example:
        >>> model.compile(optimizer=Adam(learning_rate=3e-4), loss="mse")
    """

    _torch_class = torch.optim.Adam

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay, **kwargs
        )
        self.amsgrad = _flag("Adam", "amsgrad", amsgrad)

    def _torch_kwargs(self) -> dict[str, Any]:
        return {**super()._torch_kwargs(), "amsgrad": self.amsgrad}

    def _keras_config(self) -> dict[str, Any]:
        return {**super()._keras_config(), "amsgrad": self.amsgrad}


class AdamW(_AdamFamily):
    """Adam with decoupled weight decay: ``torch.optim.AdamW`` with Keras's defaults.

    Args:
        learning_rate: the step size.
        weight_decay: the decoupled decay rate (Keras's default 0.004).
        beta_1, beta_2: decay rates of the moment estimates.
        epsilon: the numerical-stability constant.
        amsgrad: use the AMSGrad variant.
        **kwargs: the options of `Optimizer`.
    """

    _torch_class = torch.optim.AdamW

    def __init__(
        self,
        learning_rate: float = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        if weight_decay is None:
            raise ArgumentError("AdamW: expected `weight_decay` to be a number. Received: None")
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay, **kwargs
        )
        self.amsgrad = _flag("AdamW", "amsgrad", amsgrad)

    def _builds_decay(self) -> bool:
        return True  # torch's AdamW decays by lr * weight_decay, as Keras does

    def _torch_kwargs(self) -> dict[str, Any]:
        return {
            **super()._torch_kwargs(),
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
        }

    def _keras_config(self) -> dict[str, Any]:
        return {
            "weight_decay": self.weight_decay,
            **super()._keras_config(),
            "amsgrad": self.amsgrad,
        }


class Adamax(_AdamFamily):
    """Adamax (Adam with the infinity norm): ``torch.optim.Adamax`` with Keras's defaults."""

    _torch_class = torch.optim.Adamax

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay, **kwargs
        )


class Nadam(_AdamFamily):
    """Adam with Nesterov momentum: ``torch.optim.NAdam`` with Keras's defaults.

    torch's momentum schedule (``momentum_decay=0.004``) is Keras's
    ``beta_1 * (1 - 0.5 * 0.96 ** (0.004 * step))``.
    """

    _torch_class = torch.optim.NAdam

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, weight_decay=weight_decay, **kwargs
        )


class RMSprop(Optimizer):
    """RMSprop: ``torch.optim.RMSprop`` with Keras's defaults; Keras's ``rho`` is torch's ``alpha``.

    Args:
        learning_rate: the step size.
        rho: decay rate of the moving average of squared gradients.
        momentum: momentum, in ``[0, 1)``.
        epsilon: the numerical-stability constant.
        centered: normalize by the gradient's estimated variance.
        weight_decay: decoupled weight decay (Keras's rule), or None.
        **kwargs: the options of `Optimizer`.
    """

    _torch_class = torch.optim.RMSprop

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.rho = _in_range("RMSprop", "rho", rho)
        self.momentum = _in_range("RMSprop", "momentum", momentum)
        self.epsilon = _non_negative("RMSprop", "epsilon", epsilon)
        self.centered = _flag("RMSprop", "centered", centered)

    def _torch_kwargs(self) -> dict[str, Any]:
        return {
            "alpha": self.rho,
            "eps": self.epsilon,
            "momentum": self.momentum,
            "centered": self.centered,
        }

    def _keras_config(self) -> dict[str, Any]:
        return {
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """Adagrad: ``torch.optim.Adagrad`` with Keras's defaults (accumulators start at 0.1).

    Args:
        learning_rate: the step size.
        initial_accumulator_value: the starting value of the squared-gradient sums.
        epsilon: the numerical-stability constant.
        weight_decay: decoupled weight decay (Keras's rule), or None.
        **kwargs: the options of `Optimizer`.
    """

    _torch_class = torch.optim.Adagrad

    def __init__(
        self,
        learning_rate: float = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.initial_accumulator_value = _non_negative(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = _non_negative("Adagrad", "epsilon", epsilon)

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"initial_accumulator_value": self.initial_accumulator_value, "eps": self.epsilon}

    def _keras_config(self) -> dict[str, Any]:
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


class Adadelta(Optimizer):
    """Adadelta: ``torch.optim.Adadelta`` with Keras's defaults (``learning_rate=0.001``, ``rho=0.95``).

    Args:
        learning_rate: the step size.
        rho: the decay rate of the running averages.
        epsilon: the numerical-stability constant.
        weight_decay: decoupled weight decay (Keras's rule), or None.
        **kwargs: the options of `Optimizer`.
    """

    _torch_class = torch.optim.Adadelta

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.rho = _in_range("Adadelta", "rho", rho, upper_open=False)
        self.epsilon = _non_negative("Adadelta", "epsilon", epsilon)

    def _torch_kwargs(self) -> dict[str, Any]:
        return {"rho": self.rho, "eps": self.epsilon}

    def _keras_config(self) -> dict[str, Any]:
        return {"rho": self.rho, "epsilon": self.epsilon}


_BY_NAME: dict[str, Callable[[], Optimizer]] = {
    "adadelta": Adadelta,
    "adagrad": Adagrad,
    "adam": Adam,
    "adamax": Adamax,
    "adamw": AdamW,
    "nadam": Nadam,
    "rmsprop": RMSprop,
    "sgd": SGD,
}


def get(identifier: str | Optimizer) -> Optimizer:
    """The optimizer for a Keras name (``"adam"``, ``"sgd"``, ...) with its defaults.

    Args:
        identifier: a name (case-insensitive), or an `Optimizer`, returned as is.

    Raises:
        ArgumentError: an unknown name; the message lists the valid ones.
        ArgumentTypeError: neither a name nor an `Optimizer`.

    Example:
        >>> get("rmsprop")
        RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07, centered=False)
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ArgumentError(
                f"Unknown optimizer: {identifier!r}. Expected one of: {', '.join(sorted(_BY_NAME))}"
            )
        return cls()
    raise ArgumentTypeError(
        "Expected an optimizer name or an epochal.keras.optimizers.Optimizer. "
        f"Received: {identifier!r} of type {type(identifier).__name__}"
    )


# Keras names this module does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr  # noqa: E402

__getattr__ = module_getattr("keras.optimizers")
