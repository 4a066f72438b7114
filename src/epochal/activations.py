"""Activation functions by Keras name.

Every activation is a torch-native callable ``Tensor -> Tensor``; where torch
has the exact function it is that function (``activations.relu is torch.relu``),
so a layer pays no extra Python call for it. The definitions follow Keras 3:

- ``softmax`` and ``log_softmax`` act on the last axis (channels-last data).
- ``leaky_relu`` uses Keras's default ``negative_slope=0.2`` (torch's is 0.01).
- ``hard_sigmoid`` is Keras 3's ``relu6(x + 3) / 6`` (Keras 2 used
  ``clip(0.2 * x + 0.5, 0, 1)``).
- ``gelu`` is the exact (erf) form, Keras 3's default ``approximate=False``.
- ``linear`` (also ``None``) is the identity.

Example:
    >>> import torch
    >>> from epochal import activations
    >>> activations.get("relu")(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "ActivationFn",
    "elu",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mish",
    "name_of",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]

ActivationFn = Callable[[Tensor], Tensor]
"""The type of an activation: a function from a tensor to a tensor."""

# Exact torch equivalents: exported as the torch functions themselves.
relu: ActivationFn = torch.relu
sigmoid: ActivationFn = torch.sigmoid
tanh: ActivationFn = torch.tanh
selu: ActivationFn = torch.selu
exponential: ActivationFn = torch.exp
elu: ActivationFn = F.elu
gelu: ActivationFn = F.gelu
softplus: ActivationFn = F.softplus
softsign: ActivationFn = F.softsign
silu: ActivationFn = F.silu
swish: ActivationFn = F.silu
mish: ActivationFn = F.mish
relu6: ActivationFn = F.relu6
hard_sigmoid: ActivationFn = F.hardsigmoid
hard_silu: ActivationFn = F.hardswish
hard_swish: ActivationFn = F.hardswish


def linear(x: Tensor) -> Tensor:
    """The identity: returns ``x`` unchanged."""
    return x


def softmax(x: Tensor) -> Tensor:
    """Softmax over the last axis."""
    return torch.softmax(x, dim=-1)


def log_softmax(x: Tensor) -> Tensor:
    """Log-softmax over the last axis."""
    return torch.log_softmax(x, dim=-1)


def leaky_relu(x: Tensor) -> Tensor:
    """Leaky ReLU with Keras 3's ``negative_slope=0.2``."""
    return F.leaky_relu(x, negative_slope=0.2)


_REGISTRY: dict[str, ActivationFn] = {
    "elu": elu,
    "exponential": exponential,
    "gelu": gelu,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_swish,
    "leaky_relu": leaky_relu,
    "linear": linear,
    "log_softmax": log_softmax,
    "mish": mish,
    "relu": relu,
    "relu6": relu6,
    "selu": selu,
    "sigmoid": sigmoid,
    "silu": silu,
    "softmax": softmax,
    "softplus": softplus,
    "softsign": softsign,
    "swish": swish,
    "tanh": tanh,
}

# Callable -> canonical name. Aliases map to the first name listed; the torch
# spellings users commonly pass (``torch.sigmoid``, ``F.relu``) are recognized
# so that the final-activation protocol still sees "sigmoid"/"softmax".
_CANONICAL: dict[Callable[..., object], str] = {}
for _name in ("silu", "hard_silu", *_REGISTRY):
    _CANONICAL.setdefault(_REGISTRY[_name], _name)
for _fn, _name in (
    (F.relu, "relu"),
    (F.sigmoid, "sigmoid"),
    (F.tanh, "tanh"),
    (F.selu, "selu"),
    (F.softplus, "softplus"),
):
    _CANONICAL.setdefault(_fn, _name)
del _fn, _name


def _valid_names() -> str:
    return ", ".join(sorted(_REGISTRY))


def get(identifier: str | ActivationFn | None) -> ActivationFn:
    """The activation function for a Keras name, a callable, or ``None``.

    Args:
        identifier: a name such as ``"relu"`` or ``"softmax"``, any callable
            ``Tensor -> Tensor`` (returned as is), or ``None`` (the identity).

    Returns:
        A callable ``Tensor -> Tensor``.

    Raises:
        ArgumentError: an unknown name; the message lists the valid names.
        ArgumentTypeError: neither a string, a callable nor ``None``.

    Example:
        >>> get("sigmoid") is torch.sigmoid
        True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return _REGISTRY[identifier]
        except KeyError:
            raise ArgumentError(
                f"expected `activation` to be one of {_valid_names()}, a callable or None. "
                f"Received: activation={identifier!r}"
            ) from None
    if callable(identifier):
        return identifier
    raise ArgumentTypeError(
        "expected `activation` to be a name, a callable or None. "
        f"Received: activation={identifier!r} of type {type(identifier).__name__}"
    )


def name_of(activation: str | ActivationFn | None) -> str | None:
    """The canonical name of an activation, or ``None`` for the identity.

    A built-in function (or its torch spelling, such as ``torch.sigmoid``) gets
    its registry name; ``"swish"`` is reported as ``"silu"``. Any other callable
    gets its ``__name__`` (its class name for a callable object).

    Args:
        activation: what :func:`get` accepts.

    Example:
        >>> name_of(torch.sigmoid), name_of("linear"), name_of("swish")
        ('sigmoid', None, 'silu')
    """
    fn = get(activation)
    name = _CANONICAL.get(fn)
    if name is None:
        return str(getattr(fn, "__name__", type(fn).__name__))
    return None if name == "linear" else name
