"""Channels-last pooling: max pooling over windows, and global average/max pooling."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Literal

import torch.nn.functional as F
from torch import Tensor

from epochal.layers import _checks as checks
from epochal.layers._base import Layer, Shape, join_parts
from epochal.layers._conv import dynamic_same_pad


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
