"""Weight initializers by Keras name, with Keras's fan computation.

An initializer is a callable that fills a tensor in place and returns it.
epochal's layers hand it the kernel in **Keras layout** -- ``(in, out)`` for a
dense kernel, ``(*kernel_size, in_channels, filters)`` for a convolution -- and
then copy the result into torch's layout, so every built-in initializer draws
exactly the distribution Keras draws:

- ``fan_in = in * receptive_field``, ``fan_out = out * receptive_field``, where
  the receptive field is the product of the kernel's spatial sizes.
- ``glorot_uniform`` draws from ``U(-limit, limit)`` with
  ``limit = sqrt(6 / (fan_in + fan_out))``; the ``*_normal`` variance-scaling
  initializers draw from a normal truncated at two standard deviations, as
  Keras 3 does.

Randomness comes from torch's global RNG (as with torch's own modules), so
``torch.manual_seed`` makes initialization reproducible.

A callable you pass instead of a name receives the same Keras-layout tensor.
Note that ``torch.nn.init`` functions compute fans for torch's ``(out, in)``
layout, which differs for the asymmetric ones (``kaiming_*``).

Example:
    >>> import torch
    >>> from epochal import initializers
    >>> w = initializers.get("glorot_uniform")(torch.empty(10, 128))
    >>> bool(w.abs().max() <= (6 / 138) ** 0.5)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from epochal._names import snake_case
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "Constant",
    "Initializer",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "compute_fans",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "zeros",
]

Initializer = Callable[[Tensor], Tensor]
"""The type of an initializer: fills a tensor in place and returns it."""

FanMode = Literal["fan_in", "fan_out", "fan_avg"]
Distribution = Literal["truncated_normal", "untruncated_normal", "uniform"]

# The standard deviation of a unit normal truncated to [-2, 2]; dividing by it
# makes the truncated draw have the intended standard deviation (as Keras does).
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a kernel in Keras layout.

    A scalar has fans ``(1, 1)``, a vector ``(n, n)``, a matrix ``(rows, cols)``;
    a convolution kernel ``(*spatial, in, out)`` has
    ``(in * prod(spatial), out * prod(spatial))``.

    Example:
        >>> compute_fans((3, 3, 16, 32))
        (144, 288)
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _check_number(owner: str, name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not math.isfinite(value) or (positive and value <= 0):
        kind = "a positive finite number" if positive else "a finite number"
        raise ArgumentError(f"{owner}: expected `{name}` to be {kind}. Received: {name}={value!r}")
    return float(value)


class VarianceScaling:
    """Draws with a variance of ``scale / n``, ``n`` being a fan of the kernel.

    Args:
        scale: the variance numerator (positive).
        mode: which fan is ``n``: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``
            (their mean).
        distribution: ``"truncated_normal"`` (cut at two standard deviations),
            ``"untruncated_normal"`` or ``"uniform"``
            (``U(-limit, limit)``, ``limit = sqrt(3 * scale / n)``).

    Example:
        >>> he = VarianceScaling(2.0, mode="fan_in", distribution="truncated_normal")
        >>> w = he(torch.empty(64, 32))
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: FanMode = "fan_in",
        distribution: Distribution = "truncated_normal",
    ) -> None:
        self.scale = _check_number("VarianceScaling", "scale", scale, positive=True)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ArgumentError(
                "VarianceScaling: expected `mode` to be one of 'fan_in', 'fan_out', 'fan_avg'. "
                f"Received: mode={mode!r}"
            )
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ArgumentError(
                "VarianceScaling: expected `distribution` to be one of 'truncated_normal', "
                f"'untruncated_normal', 'uniform'. Received: distribution={distribution!r}"
            )
        self.mode: FanMode = mode
        self.distribution: Distribution = distribution

    def __call__(self, tensor: Tensor) -> Tensor:
        fan_in, fan_out = compute_fans(tensor.shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        with torch.no_grad():
            if self.distribution == "uniform":
                limit = math.sqrt(3.0 * variance)
                return tensor.uniform_(-limit, limit)
            if self.distribution == "untruncated_normal":
                return tensor.normal_(0.0, math.sqrt(variance))
            std = math.sqrt(variance) / _TRUNCATED_STD
            return torch.nn.init.trunc_normal_(tensor, 0.0, std, -2.0 * std, 2.0 * std)

    def __repr__(self) -> str:
        return (
            f"VarianceScaling(scale={self.scale}, mode={self.mode!r}, "
            f"distribution={self.distribution!r})"
        )


class RandomUniform:
    """Draws from ``U(minval, maxval)``.

    Args:
        minval: lower bound.
        maxval: upper bound (greater than ``minval``).

    Example:
        >>> w = RandomUniform(-0.05, 0.05)(torch.empty(100, 8))
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        self.minval = _check_number("RandomUniform", "minval", minval)
        self.maxval = _check_number("RandomUniform", "maxval", maxval)
        if self.maxval <= self.minval:
            raise ArgumentError(
                "RandomUniform: expected `maxval` to be greater than `minval`. "
                f"Received: minval={minval!r}, maxval={maxval!r}"
            )

    def __call__(self, tensor: Tensor) -> Tensor:
        with torch.no_grad():
            return tensor.uniform_(self.minval, self.maxval)

    def __repr__(self) -> str:
        return f"RandomUniform(minval={self.minval}, maxval={self.maxval})"


class RandomNormal:
    """Draws from ``N(mean, stddev**2)``.

    Args:
        mean: the mean.
        stddev: the standard deviation (positive).

    Example:
        >>> w = RandomNormal(stddev=0.02)(torch.empty(100, 8))
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        self.mean = _check_number("RandomNormal", "mean", mean)
        self.stddev = _check_number("RandomNormal", "stddev", stddev, positive=True)

    def __call__(self, tensor: Tensor) -> Tensor:
        with torch.no_grad():
            return tensor.normal_(self.mean, self.stddev)

    def __repr__(self) -> str:
        return f"RandomNormal(mean={self.mean}, stddev={self.stddev})"


class TruncatedNormal:
    """Draws from ``N(mean, stddev**2)`` cut at ``mean ± 2 * stddev`` (Keras's definition).

    Args:
        mean: the mean.
        stddev: the standard deviation before truncation (positive).

    Example:
        >>> w = TruncatedNormal(stddev=0.02)(torch.empty(100, 8))
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        self.mean = _check_number("TruncatedNormal", "mean", mean)
        self.stddev = _check_number("TruncatedNormal", "stddev", stddev, positive=True)

    def __call__(self, tensor: Tensor) -> Tensor:
        low, high = self.mean - 2 * self.stddev, self.mean + 2 * self.stddev
        with torch.no_grad():
            return torch.nn.init.trunc_normal_(tensor, self.mean, self.stddev, low, high)

    def __repr__(self) -> str:
        return f"TruncatedNormal(mean={self.mean}, stddev={self.stddev})"


class Orthogonal:
    """A (semi-)orthogonal matrix times ``gain``, Keras layout.

    The kernel is viewed as a ``(prod(shape[:-1]), shape[-1])`` matrix whose
    rows or columns (whichever are fewer) are orthonormal.

    Args:
        gain: multiplier of the orthogonal matrix.

    Example:
        >>> w = Orthogonal()(torch.empty(4, 4))
        >>> torch.allclose(w @ w.T, torch.eye(4), atol=1e-5)
        True
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = _check_number("Orthogonal", "gain", gain)

    def __call__(self, tensor: Tensor) -> Tensor:
        if tensor.dim() < 2:
            raise ArgumentError(
                "Orthogonal: expected a tensor with at least 2 dimensions. "
                f"Received: shape={tuple(tensor.shape)}"
            )
        rows, cols = math.prod(tensor.shape[:-1]), tensor.shape[-1]
        if rows == 0 or cols == 0:
            return tensor
        # Drawn in float32 on the tensor's device (its RNG, like the other initializers);
        # QR is not available for half precision.
        flat = torch.randn(
            max(rows, cols), min(rows, cols), dtype=torch.float32, device=tensor.device
        )
        q, r = torch.linalg.qr(flat)
        q = q * torch.sign(torch.diagonal(r))  # makes the result uniformly distributed
        if rows < cols:
            q = q.T
        with torch.no_grad():
            return tensor.copy_((self.gain * q).reshape(tensor.shape))

    def __repr__(self) -> str:
        return f"Orthogonal(gain={self.gain})"


class Constant:
    """Fills with one value.

    Args:
        value: the value.

    Example:
        >>> Constant(0.1)(torch.empty(3))
        tensor([0.1000, 0.1000, 0.1000])
    """

    def __init__(self, value: float = 0.0) -> None:
        self.value = _check_number("Constant", "value", value)

    def __call__(self, tensor: Tensor) -> Tensor:
        with torch.no_grad():
            return tensor.fill_(self.value)

    def __repr__(self) -> str:
        return f"Constant(value={self.value})"


def glorot_uniform(tensor: Tensor) -> Tensor:
    """``U(-limit, limit)`` with ``limit = sqrt(6 / (fan_in + fan_out))`` (Xavier uniform)."""
    return VarianceScaling(1.0, "fan_avg", "uniform")(tensor)


def glorot_normal(tensor: Tensor) -> Tensor:
    """Truncated normal with ``stddev = sqrt(2 / (fan_in + fan_out))`` (Xavier normal)."""
    return VarianceScaling(1.0, "fan_avg", "truncated_normal")(tensor)


def he_uniform(tensor: Tensor) -> Tensor:
    """``U(-limit, limit)`` with ``limit = sqrt(6 / fan_in)`` (Kaiming uniform)."""
    return VarianceScaling(2.0, "fan_in", "uniform")(tensor)


def he_normal(tensor: Tensor) -> Tensor:
    """Truncated normal with ``stddev = sqrt(2 / fan_in)`` (Kaiming normal)."""
    return VarianceScaling(2.0, "fan_in", "truncated_normal")(tensor)


def lecun_uniform(tensor: Tensor) -> Tensor:
    """``U(-limit, limit)`` with ``limit = sqrt(3 / fan_in)``."""
    return VarianceScaling(1.0, "fan_in", "uniform")(tensor)


def lecun_normal(tensor: Tensor) -> Tensor:
    """Truncated normal with ``stddev = sqrt(1 / fan_in)``."""
    return VarianceScaling(1.0, "fan_in", "truncated_normal")(tensor)


def zeros(tensor: Tensor) -> Tensor:
    """Fills with 0."""
    with torch.no_grad():
        return tensor.zero_()


def ones(tensor: Tensor) -> Tensor:
    """Fills with 1."""
    with torch.no_grad():
        return tensor.fill_(1.0)


def random_uniform(tensor: Tensor) -> Tensor:
    """``U(-0.05, 0.05)``, Keras's ``RandomUniform()`` defaults."""
    return RandomUniform()(tensor)


def random_normal(tensor: Tensor) -> Tensor:
    """``N(0, 0.05**2)``, Keras's ``RandomNormal()`` defaults."""
    return RandomNormal()(tensor)


def truncated_normal(tensor: Tensor) -> Tensor:
    """``N(0, 0.05**2)`` cut at ±0.1, Keras's ``TruncatedNormal()`` defaults."""
    return TruncatedNormal()(tensor)


def orthogonal(tensor: Tensor) -> Tensor:
    """An orthogonal matrix with gain 1, Keras's ``Orthogonal()`` defaults."""
    return Orthogonal()(tensor)


_REGISTRY: dict[str, Initializer] = {
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
    "ones": ones,
    "orthogonal": orthogonal,
    "random_normal": random_normal,
    "random_uniform": random_uniform,
    "truncated_normal": truncated_normal,
    "zeros": zeros,
}
# Keras's short aliases.
_ALIASES = {"normal": "random_normal", "uniform": "random_uniform"}


def get(identifier: str | Initializer) -> Initializer:
    """The initializer for a Keras name (or class name), or a callable as is.

    Args:
        identifier: a name such as ``"glorot_uniform"`` (``"GlorotUniform"`` and
            the aliases ``"uniform"``/``"normal"`` work too), or a callable that
            fills a tensor in place and returns it.

    Returns:
        A callable ``Tensor -> Tensor`` that fills its argument in place.

    Raises:
        ArgumentError: an unknown name; the message lists the valid names.
        ArgumentTypeError: neither a string nor a callable.

    Example:
        >>> get("he_normal") is he_normal
        True
    """
    if isinstance(identifier, str):
        key = snake_case(identifier)
        key = _ALIASES.get(key, key)
        if key in _REGISTRY:
            return _REGISTRY[key]
        raise ArgumentError(
            f"expected `initializer` to be one of {', '.join(sorted(_REGISTRY))} or a callable. "
            f"Received: initializer={identifier!r}"
        )
    if callable(identifier):
        return identifier
    raise ArgumentTypeError(
        "expected `initializer` to be a name or a callable. "
        f"Received: initializer={identifier!r} of type {type(identifier).__name__}"
    )
