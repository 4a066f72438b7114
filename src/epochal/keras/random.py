"""Keras's ``keras.random``, drawing from the run's random state so a run stays one continuous thing.

With ``seed=None`` or a `SeedGenerator`, a draw comes from torch's global
generator (of the device drawn on). During ``fit`` that generator is the
run's: epochal seeds it from ``compile(seed=...)``, saves it with the run and
restores it, so noise drawn in a custom layer is the same whether the run is
one ``fit`` call, several, or killed and resumed, and draws made between
``fit`` calls (or by ``evaluate``/``predict``) do not change the run. As with
epochal's ``Dropout(seed=...)``, a `SeedGenerator`'s own seed is kept but the
run's seed decides the draws. An int ``seed`` gives the same values at every
call, as in Keras, from a private generator (the global one is not touched).

Inside a `keras.layers.Layer` call, draws are made on the device of the
layer's inputs (meta while a functional model infers shapes: no values are
drawn then); elsewhere on torch's default device.

Example:
    >>> from epochal import keras
    >>> noise = keras.random.normal((2, 3), stddev=0.1)
    >>> keras.random.uniform((2,), seed=7).tolist() == keras.random.uniform((2,), seed=7).tolist()
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras._unavailable import unavailable
from epochal.keras.ops._convert import creation_device, tensor, to_dtype

__all__ = [
    "SeedGenerator",
    "categorical",
    "dropout",
    "normal",
    "randint",
    "shuffle",
    "truncated_normal",
    "uniform",
]


class SeedGenerator:
    """Keras's seed generator: pass it as ``seed=`` to draw from the run's random state.

    Keras advances a generator's own state at each draw; in epochal the draws
    come from the run's generator (see the module docstring), which is saved,
    restored and kept apart from the user's, so a run that uses it continues
    bit for bit. ``seed`` is validated and kept (``get_config``) for
    compatibility; ``compile(seed=...)`` decides the values.

    Args:
        seed: an int or None.
        name: accepted for Keras compatibility.

    Raises:
        ArgumentTypeError: ``seed`` is not an int or None.

    Example:
        >>> gen = SeedGenerator(1337)
        >>> x = normal((4,), seed=gen)
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ArgumentTypeError(
                f"SeedGenerator: expected `seed` to be an int or None. Received: seed={seed!r}"
            )
        self.seed = seed
        self.name = name or "seed_generator"

    def next(self, ordered: bool = True) -> Tensor:
        """A fresh pair of int64 seeds drawn from the run's generator."""
        return torch.randint(0, 2**62, (2,), dtype=torch.int64)

    def get_config(self) -> dict[str, Any]:
        """The generator's arguments."""
        return {"seed": self.seed, "name": self.name}

    def __repr__(self) -> str:
        return f"SeedGenerator(seed={self.seed!r})"


def _device(like: Any = None) -> torch.device:
    if isinstance(like, Tensor):
        return like.device
    return creation_device()


def _generator(seed: Any, device: torch.device, owner: str) -> torch.Generator | None:
    """None for the global (run's) generator; a private one for an int seed."""
    if seed is None or isinstance(seed, SeedGenerator) or device.type == "meta":
        return None  # meta: a functional model inferring shapes draws no values
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ArgumentTypeError(
            f"keras.random.{owner}: expected `seed` to be an int, a SeedGenerator or None. "
            f"Received: seed={seed!r}"
        )
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def _shape(shape: Any, owner: str) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, (tuple, list, torch.Size)) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        return tuple(shape)
    raise ArgumentTypeError(
        f"keras.random.{owner}: expected `shape` to be a tuple of non-negative ints. "
        f"Received: shape={shape!r}"
    )


def _float_dtype(dtype: Any, owner: str) -> torch.dtype:
    target = to_dtype(dtype, owner) or torch.get_default_dtype()
    if not target.is_floating_point:
        raise ArgumentError(
            f"keras.random.{owner}: expected a floating dtype. Received: dtype={dtype!r}"
        )
    return target


def normal(
    shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None
) -> Tensor:
    """Samples from a normal distribution.

    Args:
        shape: the output shape.
        mean: the mean.
        stddev: the standard deviation.
        dtype: a floating dtype (float32 by default).
        seed: None or a `SeedGenerator` (the run's generator), or an int (the same values each call).

    Returns:
        A tensor of ``shape``.
    """
    sizes, target, device = _shape(shape, "normal"), _float_dtype(dtype, "normal"), _device()
    gen = _generator(seed, device, "normal")
    return torch.randn(sizes, generator=gen, dtype=target, device=device) * stddev + mean


def uniform(
    shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = None, seed: Any = None
) -> Tensor:
    """Samples from the uniform distribution on ``[minval, maxval)`` (arguments as `normal`)."""
    sizes, device = _shape(shape, "uniform"), _device()
    target = to_dtype(dtype, "uniform") or torch.get_default_dtype()
    gen = _generator(seed, device, "uniform")
    if not target.is_floating_point:
        return randint(shape, int(minval), int(maxval), dtype=target, seed=seed)
    return (
        torch.rand(sizes, generator=gen, dtype=target, device=device) * (maxval - minval) + minval
    )


def truncated_normal(
    shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None
) -> Tensor:
    """Samples from a normal distribution cut at two standard deviations (arguments as `normal`).

    Drawn by inverting the normal CDF on a uniform sample, so every call
    consumes the same amount of the random stream (no rejection loop).
    """
    sizes, target, device = (
        _shape(shape, "truncated_normal"),
        _float_dtype(dtype, "truncated_normal"),
        _device(),
    )
    gen = _generator(seed, device, "truncated_normal")
    low, high = 0.5 * (1 + math.erf(-2 / math.sqrt(2))), 0.5 * (1 + math.erf(2 / math.sqrt(2)))
    u = torch.rand(sizes, generator=gen, dtype=torch.float64, device=device) * (high - low) + low
    z = math.sqrt(2) * torch.erfinv(2 * u - 1)
    return (z.clamp(-2.0, 2.0) * stddev + mean).to(target)


def randint(shape: Any, minval: int, maxval: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """Integers drawn uniformly from ``[minval, maxval)``.

    Raises:
        ArgumentError: ``maxval <= minval``.
    """
    sizes, device = _shape(shape, "randint"), _device()
    if maxval <= minval:
        raise ArgumentError(
            f"keras.random.randint: expected minval < maxval. Received: minval={minval!r}, maxval={maxval!r}"
        )
    gen = _generator(seed, device, "randint")
    target = to_dtype(dtype, "randint") or torch.int32
    return torch.randint(
        int(minval), int(maxval), sizes, generator=gen, device=device, dtype=target
    )


def dropout(
    inputs: Any, rate: float, noise_shape: Sequence[int | None] | None = None, seed: Any = None
) -> Any:
    """``inputs`` with a fraction ``rate`` zeroed and the rest scaled by ``1 / (1 - rate)`` (always, as Keras's op).

    Args:
        inputs: a tensor.
        rate: the fraction to drop, in ``[0, 1)``.
        noise_shape: the mask's shape, broadcast over ``inputs`` (None entries take the input's size).
        seed: as `normal`; inside a functional model's graph every draw comes
            from the run's generator (an int seed included).

    Raises:
        ArgumentError: ``rate`` outside ``[0, 1)``.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ArgumentError(
            f"keras.random.dropout: expected `rate` in [0, 1). Received: rate={rate!r}"
        )
    x = tensor(inputs)
    if rate == 0:
        return x
    global_generator = seed is None or isinstance(seed, SeedGenerator) or not isinstance(x, Tensor)
    if noise_shape is None and global_generator:
        return torch.nn.functional.dropout(x, rate, training=True)
    if global_generator:
        # A mask shaped like noise_shape (1 where it broadcasts), from torch's dropout.
        axes = tuple(i for i, d in enumerate(noise_shape or ()) if d == 1)
        base = torch.ones_like(x)
        if axes:
            base = torch.amax(base, dim=axes, keepdim=True)
        return x * torch.nn.functional.dropout(base, rate, training=True)
    shape = (
        tuple(x.shape)
        if noise_shape is None
        else tuple(x.shape[i] if d is None else d for i, d in enumerate(noise_shape))
    )
    device = _device(x)
    keep = torch.rand(shape, generator=_generator(seed, device, "dropout"), device=device) >= rate
    return torch.where(keep, x / (1 - rate), torch.zeros_like(x))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> Any:
    """``x`` with its slices along ``axis`` in a random order."""
    x = tensor(x)
    device = _device(x)
    order = torch.randperm(
        x.shape[axis], generator=_generator(seed, device, "shuffle"), device=device
    )
    return torch.index_select(x, axis, order)


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """``num_samples`` class indices per row, drawn with the probabilities ``softmax(logits)``."""
    scores = tensor(logits)
    device = _device(scores)
    probs = torch.softmax(scores.to(torch.float64), dim=-1)
    gen = _generator(seed, device, "categorical")
    out = torch.multinomial(probs, num_samples, replacement=True, generator=gen)
    return out.to(to_dtype(dtype, "categorical") or torch.int32)


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unavailable(
        "keras.random",
        name,
        "draw with torch's samplers (torch.distributions, torch.rand...), which use the run's "
        "random state during fit",
    )
