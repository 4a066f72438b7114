"""Reshaping layers on channels-last data: `Reshape`, `Permute`, `RepeatVector`,
`UpSampling1D/2D`, `ZeroPadding1D/2D`, `Cropping1D/2D`, `Identity`.

Shapes name the axes after the batch axis, as in Keras.
"""

from __future__ import annotations

import math
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from epochal.errors import ArgumentError, ArgumentTypeError, DataError
from epochal.layers import _checks as checks
from epochal.layers._base import Layer, Shape, join_parts


def _int_or(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Identity(Layer):
    """Returns its input unchanged.

    Example:
        >>> Identity()(torch.ones(2)).tolist()
        [1.0, 1.0]
    """

    def __init__(self, *, input_shape: Shape | None = None, name: str | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Identity")

    def forward(self, x: Tensor) -> Tensor:
        return x


class Reshape(Layer):
    """Reshapes ``(N, ...)`` to ``(N, *target_shape)``; one entry may be -1 (inferred).

    Args:
        target_shape: the shape without the batch axis, e.g. ``(7, 7, 64)``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> Reshape((3, 4))(torch.zeros(2, 12)).shape
        torch.Size([2, 3, 4])
    """

    def __init__(
        self,
        target_shape: tuple[int, ...] | list[int],
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Reshape")
        expected = (
            "Reshape: expected `target_shape` to be a tuple of positive ints (at most one -1), "
            "without the batch axis."
        )
        if _int_or(target_shape):
            target_shape = (target_shape,)  # type: ignore[assignment]
        if not isinstance(target_shape, (tuple, list)):
            raise ArgumentTypeError(
                f"{expected} Received: target_shape={target_shape!r} of type "
                f"{type(target_shape).__name__}"
            )
        dims = tuple(target_shape)
        if not all(_int_or(d) and (d >= 1 or d == -1) for d in dims) or dims.count(-1) > 1:
            raise ArgumentError(f"{expected} Received: target_shape={target_shape!r}")
        self.target_shape = dims

    def forward(self, x: Tensor) -> Tensor:
        size = math.prod(x.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and size % known) or (
            -1 not in self.target_shape and size != known
        ):
            raise DataError(
                f"Reshape: cannot reshape an input of shape {tuple(x.shape[1:])} (batch axis "
                f"excluded, {size} values) to target_shape={self.target_shape}"
            )
        return x.reshape(x.shape[0], *self.target_shape)

    def _describe(self) -> str:
        return join_parts(f"target_shape={self.target_shape}", super()._describe())


class Permute(Layer):
    """Permutes the axes after the batch axis; ``dims`` counts from 1, as in Keras.

    Args:
        dims: a permutation of ``1..rank``, e.g. ``(2, 1)`` swaps the two axes.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> Permute((2, 1))(torch.zeros(2, 3, 4)).shape
        torch.Size([2, 4, 3])
    """

    def __init__(
        self,
        dims: tuple[int, ...] | list[int],
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Permute")
        if not isinstance(dims, (tuple, list)) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ArgumentError(
                "Permute: expected `dims` to be a permutation of 1..rank (the batch axis "
                f"excluded), e.g. (2, 1). Received: dims={dims!r}"
            )
        self.dims = tuple(int(d) for d in dims)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != len(self.dims) + 1:
            raise DataError(
                f"Permute: dims={self.dims} expects inputs of rank {len(self.dims) + 1} "
                f"(with the batch axis). Received: shape={tuple(x.shape)}"
            )
        return x.permute(0, *self.dims)

    def _describe(self) -> str:
        return join_parts(f"dims={self.dims}", super()._describe())


class RepeatVector(Layer):
    """Repeats ``(N, features)`` ``n`` times: ``(N, n, features)``.

    Args:
        n: the number of repetitions (positive).
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> RepeatVector(3)(torch.zeros(2, 5)).shape
        torch.Size([2, 3, 5])
    """

    def __init__(
        self, n: int, *, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="RepeatVector")
        self.n = checks.positive_int("RepeatVector", "n", n)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2:
            raise DataError(
                "RepeatVector: expected an input of shape (batch, features). "
                f"Received: shape={tuple(x.shape)}"
            )
        return x.unsqueeze(1).expand(-1, self.n, -1)

    def _describe(self) -> str:
        return join_parts(f"n={self.n}", super()._describe())


def _spatial_rank(owner: str, x: Tensor, rank: int) -> None:
    if x.dim() != rank + 2:
        layout = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)"}[rank]
        raise DataError(
            f"{owner}: expected an input of shape {layout}. Received: shape={tuple(x.shape)}"
        )


class UpSampling1D(Layer):
    """Repeats each step ``size`` times: ``(N, steps, C) -> (N, steps * size, C)``.

    Args:
        size: the repetition factor (positive).
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> UpSampling1D(2)(torch.zeros(1, 3, 4)).shape
        torch.Size([1, 6, 4])
    """

    def __init__(
        self, size: int = 2, *, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="UpSampling1D")
        self.size = checks.positive_int("UpSampling1D", "size", size)

    def forward(self, x: Tensor) -> Tensor:
        _spatial_rank("UpSampling1D", x, 1)
        return x.repeat_interleave(self.size, dim=1)

    def _describe(self) -> str:
        return join_parts(f"size={self.size}", super()._describe())


class UpSampling2D(Layer):
    """Scales ``(N, H, W, C)`` up to ``(N, H * size[0], W * size[1], C)``.

    Args:
        size: the factors (int or pair of positive ints).
        interpolation: ``"nearest"`` (repeat rows and columns) or ``"bilinear"``
            (half-pixel centers, no antialiasing, as Keras resizes).
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> UpSampling2D()(torch.zeros(1, 3, 4, 5)).shape
        torch.Size([1, 6, 8, 5])
    """

    def __init__(
        self,
        size: int | tuple[int, int] = (2, 2),
        interpolation: str = "nearest",
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="UpSampling2D")
        self.size = checks.int_tuple("UpSampling2D", "size", size, 2)
        self.interpolation = checks.choice(
            "UpSampling2D", "interpolation", interpolation, ("nearest", "bilinear")
        )

    def forward(self, x: Tensor) -> Tensor:
        _spatial_rank("UpSampling2D", x, 2)
        if self.interpolation == "nearest":
            return x.repeat_interleave(self.size[0], dim=1).repeat_interleave(self.size[1], dim=2)
        y = F.interpolate(
            x.permute(0, 3, 1, 2),
            scale_factor=(float(self.size[0]), float(self.size[1])),
            mode="bilinear",
            align_corners=False,
        )
        return y.permute(0, 2, 3, 1)

    def _describe(self) -> str:
        return join_parts(
            f"size={self.size}", f"interpolation={self.interpolation!r}", super()._describe()
        )


def _pairs(owner: str, name: str, value: Any, rank: int) -> tuple[tuple[int, int], ...]:
    """Keras's padding/cropping spec: an int, one int per axis, or ``(before, after)`` per axis."""
    expected = (
        f"{owner}: expected `{name}` to be a non-negative int, a tuple of {rank} ints, "
        f"or a tuple of {rank} (before, after) pairs."
    )
    if _int_or(value):
        pairs: Any = ((value, value),) * rank
    elif (
        isinstance(value, (tuple, list))
        and rank == 1
        and len(value) == 2
        and all(map(_int_or, value))
    ):
        pairs = (tuple(value),)
    elif isinstance(value, (tuple, list)) and len(value) == rank:
        pairs = tuple(
            (v, v) if _int_or(v) else tuple(v) if isinstance(v, (tuple, list)) else None
            for v in value
        )
    else:
        raise ArgumentError(f"{expected} Received: {name}={value!r}")
    if not all(
        p is not None and len(p) == 2 and all(_int_or(i) and i >= 0 for i in p) for p in pairs
    ):
        raise ArgumentError(f"{expected} Received: {name}={value!r}")
    return tuple((int(p[0]), int(p[1])) for p in pairs)


class _ZeroPadding(Layer):
    _rank = 1

    def __init__(self, padding: Any, *, input_shape: Shape | None, name: str | None) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.padding = _pairs(owner, "padding", padding, self._rank)
        spec = [0, 0]  # F.pad lists the last axis first: channels unpadded
        for before, after in reversed(self.padding):
            spec += [before, after]
        self._spec = tuple(spec)

    def forward(self, x: Tensor) -> Tensor:
        _spatial_rank(type(self).__name__, x, self._rank)
        return F.pad(x, self._spec)

    def _describe(self) -> str:
        return join_parts(f"padding={self.padding}", super()._describe())


class ZeroPadding1D(_ZeroPadding):
    """Pads the steps of ``(N, steps, C)`` with zeros.

    Args:
        padding: an int (both ends) or ``(before, after)``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> ZeroPadding1D((1, 2))(torch.ones(1, 3, 2)).shape
        torch.Size([1, 6, 2])
    """

    _rank = 1

    def __init__(
        self,
        padding: int | tuple[int, int] = 1,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(padding, input_shape=input_shape, name=name)


class ZeroPadding2D(_ZeroPadding):
    """Pads the height and width of ``(N, H, W, C)`` with zeros.

    Args:
        padding: an int (every side), ``(pad_h, pad_w)`` (symmetric), or
            ``((top, bottom), (left, right))``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> ZeroPadding2D(((1, 0), (2, 1)))(torch.ones(1, 3, 3, 2)).shape
        torch.Size([1, 4, 6, 2])
    """

    _rank = 2

    def __init__(
        self, padding: Any = (1, 1), *, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(padding, input_shape=input_shape, name=name)


class _Cropping(Layer):
    _rank = 1

    def __init__(self, cropping: Any, *, input_shape: Shape | None, name: str | None) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.cropping = _pairs(owner, "cropping", cropping, self._rank)

    def forward(self, x: Tensor) -> Tensor:
        owner = type(self).__name__
        _spatial_rank(owner, x, self._rank)
        index: list[slice] = [slice(None)]
        for axis, (before, after) in enumerate(self.cropping, start=1):
            if before + after >= x.shape[axis]:
                raise DataError(
                    f"{owner}: cropping={self.cropping} leaves nothing of axis {axis} of "
                    f"size {x.shape[axis]}. Received: shape={tuple(x.shape)}"
                )
            index.append(slice(before, x.shape[axis] - after))
        return x[tuple(index)]

    def _describe(self) -> str:
        return join_parts(f"cropping={self.cropping}", super()._describe())


class Cropping1D(_Cropping):
    """Removes steps from the ends of ``(N, steps, C)``.

    Args:
        cropping: an int (both ends) or ``(before, after)``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> Cropping1D((1, 2))(torch.ones(1, 6, 2)).shape
        torch.Size([1, 3, 2])
    """

    _rank = 1

    def __init__(
        self,
        cropping: int | tuple[int, int] = (1, 1),
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(cropping, input_shape=input_shape, name=name)


class Cropping2D(_Cropping):
    """Removes rows and columns from the borders of ``(N, H, W, C)``.

    Args:
        cropping: an int (every side), ``(crop_h, crop_w)`` (symmetric), or
            ``((top, bottom), (left, right))``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> Cropping2D(((1, 0), (2, 1)))(torch.ones(1, 5, 6, 2)).shape
        torch.Size([1, 4, 3, 2])
    """

    _rank = 2

    def __init__(
        self,
        cropping: Any = ((0, 0), (0, 0)),
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(cropping, input_shape=input_shape, name=name)
