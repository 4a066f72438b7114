"""Channels-last pooling: max and average pooling over windows, and global average/max pooling.

``padding="same"`` pads as TensorFlow does (extra after); padded positions
never win a max and are not counted in an average, as in Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

import torch.nn.functional as F
from torch import Tensor

from epochal.errors import DataError
from epochal.layers import _checks as checks
from epochal.layers._base import Layer, Shape, join_parts
from epochal.layers._conv import dynamic_same_pad
from epochal.layers._masking import get_mask


class _MaxPooling(Layer):
    """Shared implementation of the channels-last max pooling layers."""

    rank: ClassVar[int]
    _pool: ClassVar[Callable[..., Tensor]]

    def __init__(
        self,
        pool_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] | None,
        padding: str,
        *,
        input_shape: Shape | None,
        name: str | None,
    ) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        rank = self.rank
        self.pool_size = checks.int_tuple(owner, "pool_size", pool_size, rank)
        self.strides = (
            self.pool_size if strides is None else checks.int_tuple(owner, "strides", strides, rank)
        )
        self.padding = checks.choice(owner, "padding", padding, ("valid", "same"))
        self._same = self.padding == "same"
        axes = list(range(1, rank + 1))
        self._to_channels_first = (0, rank + 1, *axes)
        self._to_channels_last = (0, *(a + 1 for a in axes), 1)
        self._dilation = (1,) * rank

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != self.rank + 2:
            raise DataError(
                f"{type(self).__name__}: expected an input with {self.rank} spatial axes and "
                f"channels last (rank {self.rank + 2} with the batch axis). "
                f"Received: shape={tuple(x.shape)}"
            )
        if self._same:
            # TensorFlow ignores padded positions; -inf never wins a max.
            x = dynamic_same_pad(x, self.pool_size, self.strides, self._dilation, float("-inf"))
        y = type(self)._pool(x.permute(self._to_channels_first), self.pool_size, self.strides)
        return y.permute(self._to_channels_last)

    def _describe(self) -> str:
        return join_parts(
            f"pool_size={self.pool_size}",
            f"strides={self.strides}",
            f"padding={self.padding!r}",
            super()._describe(),
        )


class MaxPooling1D(_MaxPooling):
    """Max over windows of ``(N, steps, C)``, producing ``(N, steps', C)``.

    Args:
        pool_size: window length (int or 1-tuple).
        strides: step of the window; ``None`` means ``pool_size``.
        padding: ``"valid"`` (``floor((steps - pool) / stride) + 1``) or
            ``"same"`` (``ceil(steps / stride)``; padding never wins the max).
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> import torch
        >>> MaxPooling1D(2)(torch.zeros(2, 9, 4)).shape
        torch.Size([2, 4, 4])
    """

    rank = 1
    _pool = F.max_pool1d

    def __init__(
        self,
        pool_size: int | tuple[int] = 2,
        strides: int | tuple[int] | None = None,
        padding: Literal["valid", "same"] = "valid",
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(pool_size, strides, padding, input_shape=input_shape, name=name)


class MaxPooling2D(_MaxPooling):
    """Max over windows of channels-last ``(N, H, W, C)``, producing ``(N, H', W', C)``.

    Args:
        pool_size: window size (int or 2-tuple).
        strides: step of the window; ``None`` means ``pool_size``.
        padding: ``"valid"`` (``floor((size - pool) / stride) + 1``) or
            ``"same"`` (``ceil(size / stride)``; padding never wins the max).
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> import torch
        >>> MaxPooling2D()(torch.zeros(2, 7, 7, 3)).shape
        torch.Size([2, 3, 3, 3])
    """

    rank = 2
    _pool = F.max_pool2d

    def __init__(
        self,
        pool_size: int | tuple[int, int] = (2, 2),
        strides: int | tuple[int, int] | None = None,
        padding: Literal["valid", "same"] = "valid",
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(pool_size, strides, padding, input_shape=input_shape, name=name)


class _GlobalPooling(Layer):
    """Shared implementation of the global pooling layers."""

    rank: ClassVar[int]
    _max: ClassVar[bool]

    def __init__(self, *, keepdims: bool, input_shape: Shape | None, name: str | None) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.keepdims = checks.boolean(owner, "keepdims", keepdims)
        self._dims = tuple(range(1, self.rank + 1))

    def forward(self, x: Tensor) -> Tensor:
        # Keras's GlobalAveragePooling1D leaves masked steps out (its max pooling ignores masks).
        mask = get_mask(x) if self.rank == 1 and not self._max else None
        if mask is not None:
            weights = mask.to(x.dtype).unsqueeze(-1)
            total = (x * weights).sum(dim=1, keepdim=self.keepdims)
            count = weights.sum(dim=1, keepdim=self.keepdims).clamp(min=1.0)
            return total / count
        if self._max:
            return x.amax(dim=self._dims, keepdim=self.keepdims)
        return x.mean(dim=self._dims, keepdim=self.keepdims)

    def _describe(self) -> str:
        return join_parts("keepdims=True" if self.keepdims else "", super()._describe())


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps of ``(N, steps, C)``, producing ``(N, C)``.

    Args:
        keepdims: keep the pooled axis with size 1: ``(N, 1, C)``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> import torch
        >>> GlobalAveragePooling1D()(torch.zeros(2, 9, 4)).shape
        torch.Size([2, 4])
    """

    rank = 1
    _max = False

    def __init__(
        self, *, keepdims: bool = False, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(keepdims=keepdims, input_shape=input_shape, name=name)


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over the spatial axes of ``(N, H, W, C)``, producing ``(N, C)``.

    Args:
        keepdims: keep the pooled axes with size 1: ``(N, 1, 1, C)``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> import torch
        >>> GlobalAveragePooling2D()(torch.zeros(2, 7, 7, 3)).shape
        torch.Size([2, 3])
    """

    rank = 2
    _max = False

    def __init__(
        self, *, keepdims: bool = False, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(keepdims=keepdims, input_shape=input_shape, name=name)


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over the steps of ``(N, steps, C)``, producing ``(N, C)``.

    Args:
        keepdims: keep the pooled axis with size 1: ``(N, 1, C)``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> import torch
        >>> GlobalMaxPooling1D()(torch.zeros(2, 9, 4)).shape
        torch.Size([2, 4])
    """

    rank = 1
    _max = True

    def __init__(
        self, *, keepdims: bool = False, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(keepdims=keepdims, input_shape=input_shape, name=name)


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over the spatial axes of ``(N, H, W, C)``, producing ``(N, C)``.

    Args:
        keepdims: keep the pooled axes with size 1: ``(N, 1, 1, C)``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> import torch
        >>> GlobalMaxPooling2D()(torch.zeros(2, 7, 7, 3)).shape
        torch.Size([2, 3])
    """

    rank = 2
    _max = True

    def __init__(
        self, *, keepdims: bool = False, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(keepdims=keepdims, input_shape=input_shape, name=name)


class MaxPooling3D(_MaxPooling):
    """Max over windows of channels-last ``(N, D, H, W, C)``, producing ``(N, D', H', W', C)``.

    Args:
        pool_size: window size (int or 3-tuple).
        strides: step of the window; ``None`` means ``pool_size``.
        padding: ``"valid"`` or ``"same"``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> import torch
        >>> MaxPooling3D()(torch.zeros(1, 4, 4, 4, 2)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    rank = 3
    _pool = F.max_pool3d

    def __init__(
        self,
        pool_size: int | tuple[int, int, int] = (2, 2, 2),
        strides: int | tuple[int, int, int] | None = None,
        padding: Literal["valid", "same"] = "valid",
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(pool_size, strides, padding, input_shape=input_shape, name=name)


class _AveragePooling(_MaxPooling):
    """Average over windows; with ``"same"`` padding the padded positions are not counted."""

    _avg: ClassVar[Callable[..., Tensor]]

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != self.rank + 2:
            raise DataError(
                f"{type(self).__name__}: expected an input with {self.rank} spatial axes and "
                f"channels last (rank {self.rank + 2} with the batch axis). "
                f"Received: shape={tuple(x.shape)}"
            )
        pool = type(self)._avg
        if not self._same:
            y = pool(x.permute(self._to_channels_first), self.pool_size, self.strides)
            return y.permute(self._to_channels_last)
        padded = dynamic_same_pad(x, self.pool_size, self.strides, self._dilation)
        total = pool(padded.permute(self._to_channels_first), self.pool_size, self.strides)
        # The share of real (unpadded) positions in each window, from a one-channel map of ones.
        ones = x.new_ones((1, *x.shape[1 : self.rank + 1], 1))
        share = pool(
            dynamic_same_pad(ones, self.pool_size, self.strides, self._dilation).permute(
                self._to_channels_first
            ),
            self.pool_size,
            self.strides,
        )
        return (total / share).permute(self._to_channels_last)


class AveragePooling1D(_AveragePooling):
    """Mean over windows of ``(N, steps, C)``, producing ``(N, steps', C)``.

    Args:
        pool_size: window length (int or 1-tuple).
        strides: step of the window; ``None`` means ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padding not counted in the mean).
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> import torch
        >>> AveragePooling1D()(torch.arange(4.0).reshape(1, 4, 1)).flatten().tolist()
        [0.5, 2.5]
    """

    rank = 1
    _pool = F.avg_pool1d
    _avg = F.avg_pool1d

    def __init__(
        self,
        pool_size: int | tuple[int] = 2,
        strides: int | tuple[int] | None = None,
        padding: Literal["valid", "same"] = "valid",
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(pool_size, strides, padding, input_shape=input_shape, name=name)


class AveragePooling2D(_AveragePooling):
    """Mean over windows of ``(N, H, W, C)``, producing ``(N, H', W', C)``.

    Args:
        pool_size: window size (int or 2-tuple).
        strides: step of the window; ``None`` means ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padding not counted in the mean).
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> import torch
        >>> AveragePooling2D()(torch.zeros(2, 7, 7, 3)).shape
        torch.Size([2, 3, 3, 3])
    """

    rank = 2
    _pool = F.avg_pool2d
    _avg = F.avg_pool2d

    def __init__(
        self,
        pool_size: int | tuple[int, int] = (2, 2),
        strides: int | tuple[int, int] | None = None,
        padding: Literal["valid", "same"] = "valid",
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(pool_size, strides, padding, input_shape=input_shape, name=name)


class AveragePooling3D(_AveragePooling):
    """Mean over windows of ``(N, D, H, W, C)``, producing ``(N, D', H', W', C)``.

    Args:
        pool_size: window size (int or 3-tuple).
        strides: step of the window; ``None`` means ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padding not counted in the mean).
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> import torch
        >>> AveragePooling3D()(torch.zeros(1, 4, 4, 4, 2)).shape
        torch.Size([1, 2, 2, 2, 2])
    """

    rank = 3
    _pool = F.avg_pool3d
    _avg = F.avg_pool3d

    def __init__(
        self,
        pool_size: int | tuple[int, int, int] = (2, 2, 2),
        strides: int | tuple[int, int, int] | None = None,
        padding: Literal["valid", "same"] = "valid",
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(pool_size, strides, padding, input_shape=input_shape, name=name)


class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over the spatial axes of ``(N, D, H, W, C)``, producing ``(N, C)``.

    Args:
        keepdims: keep the pooled axes with size 1: ``(N, 1, 1, 1, C)``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> import torch
        >>> GlobalAveragePooling3D()(torch.zeros(2, 3, 4, 5, 6)).shape
        torch.Size([2, 6])
    """

    rank = 3
    _max = False

    def __init__(
        self, *, keepdims: bool = False, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(keepdims=keepdims, input_shape=input_shape, name=name)


class GlobalMaxPooling3D(_GlobalPooling):
    """Max over the spatial axes of ``(N, D, H, W, C)``, producing ``(N, C)``.

    Args:
        keepdims: keep the pooled axes with size 1: ``(N, 1, 1, 1, C)``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> import torch
        >>> GlobalMaxPooling3D()(torch.zeros(2, 3, 4, 5, 6)).shape
        torch.Size([2, 6])
    """

    rank = 3
    _max = True

    def __init__(
        self, *, keepdims: bool = False, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(keepdims=keepdims, input_shape=input_shape, name=name)
