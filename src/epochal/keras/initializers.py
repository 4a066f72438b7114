"""Keras's initializers: classes with a ``seed``, and epochal's named functions.

An instance fills a tensor in place (what epochal's layers call), or, given
a shape as Keras's initializers are, returns a new tensor. A seeded instance
draws the same values at every call, as in Keras; an unseeded one draws from
torch's global RNG (which ``compile(seed=...)`` or `epochal.keras.utils.set_random_seed`
controls).

Example:
    >>> from epochal.keras import initializers, layers
    >>> layers.Dense(8, kernel_initializer=initializers.HeNormal(seed=0))
    >>> initializers.GlorotUniform(seed=1)((3, 4)).shape
    torch.Size([3, 4])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from epochal import initializers as _init
from epochal.errors import ArgumentTypeError
from epochal.initializers import (
    compute_fans,
    get,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    lecun_normal,
    lecun_uniform,
    ones,
    orthogonal,
    random_normal,
    random_uniform,
    truncated_normal,
    zeros,
)

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
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


class Initializer:
    """Base class: a Keras-style initializer object with an optional ``seed``.

    Args:
        seed: an int makes every call draw the same values; None draws from
            torch's global RNG.
    """

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ArgumentTypeError(
                f"{type(self).__name__}: expected `seed` to be an int or None. Received: seed={seed!r}"
            )
        self.seed = seed

    def _fill(self, tensor: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, shape: Tensor | Sequence[int], dtype: torch.dtype | None = None) -> Tensor:
        """Fill ``shape`` (a tensor, in place) or a new tensor of that shape.

        Args:
            shape: a tensor to fill, or a shape such as ``(784, 64)``.
            dtype: the new tensor's dtype (default: torch's default float).

        Returns:
            The filled tensor.
        """
        if isinstance(shape, Tensor):
            tensor = shape
        else:
            tensor = torch.empty(tuple(shape), dtype=dtype or torch.get_default_dtype())
        if self.seed is None:
            return self._fill(tensor)
        # Draw on the CPU from a private generator state, so the values depend
        # on the seed only (not on the device, nor on the global RNG).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            values = self._fill(torch.empty(tensor.shape, dtype=tensor.dtype))
        with torch.no_grad():
            tensor.copy_(values)
        return tensor

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed!r})"


class _Delegate(Initializer):
    """An initializer that fills with one of epochal's initializers."""

    def __init__(self, inner: _init.Initializer, seed: int | None) -> None:
        super().__init__(seed)
        self._inner = inner

    def _fill(self, tensor: Tensor) -> Tensor:
        return self._inner(tensor)


class Zeros(_Delegate):
    """Fills with 0."""

    def __init__(self) -> None:
        super().__init__(zeros, None)

    def __repr__(self) -> str:
        return "Zeros()"


class Ones(_Delegate):
    """Fills with 1."""

    def __init__(self) -> None:
        super().__init__(ones, None)

    def __repr__(self) -> str:
        return "Ones()"


class Constant(_Delegate):
    """Fills with ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        super().__init__(_init.Constant(value), None)
        self.value = value

    def __repr__(self) -> str:
        return f"Constant(value={self.value!r})"


class RandomNormal(_Delegate):
    """Draws from ``N(mean, stddev**2)`` (Keras's defaults 0 and 0.05)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(_init.RandomNormal(mean, stddev), seed)


class RandomUniform(_Delegate):
    """Draws from ``U(minval, maxval)`` (Keras's defaults -0.05 and 0.05)."""

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None
    ) -> None:
        super().__init__(_init.RandomUniform(minval, maxval), seed)


class TruncatedNormal(_Delegate):
    """Draws from a normal cut at two standard deviations from ``mean``."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(_init.TruncatedNormal(mean, stddev), seed)


class VarianceScaling(_Delegate):
    """Draws with variance ``scale / fan`` (see `epochal.initializers.VarianceScaling`).

    Args:
        scale: the variance numerator.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"``, ``"untruncated_normal"`` or ``"uniform"``.
        seed: see `Initializer`.
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: _init.FanMode = "fan_in",
        distribution: _init.Distribution = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        super().__init__(_init.VarianceScaling(scale, mode, distribution), seed)


class GlorotUniform(VarianceScaling):
    """Glorot (Xavier) uniform: ``VarianceScaling(1.0, "fan_avg", "uniform")``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    """Glorot (Xavier) normal: ``VarianceScaling(1.0, "fan_avg", "truncated_normal")``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    """He uniform: ``VarianceScaling(2.0, "fan_in", "uniform")``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "uniform", seed)


class HeNormal(VarianceScaling):
    """He normal: ``VarianceScaling(2.0, "fan_in", "truncated_normal")``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    """LeCun uniform: ``VarianceScaling(1.0, "fan_in", "uniform")``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_in", "uniform", seed)


class LecunNormal(VarianceScaling):
    """LeCun normal: ``VarianceScaling(1.0, "fan_in", "truncated_normal")``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


class Orthogonal(_Delegate):
    """An orthogonal matrix scaled by ``gain``."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(_init.Orthogonal(gain), seed)


# Keras names this module does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr  # noqa: E402

__getattr__ = module_getattr("keras.initializers")
