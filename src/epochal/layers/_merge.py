"""The merge layers: `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`,
`Concatenate`, `Dot`, and Keras's lowercase functions (``add([a, b])``, ...).

Each layer is called, as in Keras, with a list (or tuple) of tensors:
``Add()([a, b])``. Shapes broadcast as torch broadcasts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from epochal.errors import ArgumentError, ArgumentTypeError, DataError
from epochal.layers import _checks as checks
from epochal.layers._base import Layer, join_parts
from epochal.layers._masking import get_mask, merge_masks, set_mask


def _tensors(owner: str, inputs: object, *, exactly: int | None = None) -> list[Tensor]:
    """``inputs`` as a list of tensors, or a clear error."""
    if isinstance(inputs, Tensor) or not isinstance(inputs, (list, tuple)):
        raise DataError(
            f"{owner}: expected a list of tensors, e.g. {owner}()([a, b]). "
            f"Received: {type(inputs).__name__}"
        )
    items = list(inputs)
    if exactly is not None and len(items) != exactly:
        raise DataError(
            f"{owner}: expected a list of exactly {exactly} tensors. Received: {len(items)}"
        )
    if len(items) < 2 and exactly is None:
        raise DataError(
            f"{owner}: expected a list of at least 2 tensors. Received: {len(items)} tensor(s)"
        )
    return items


class _Merge(Layer):
    """A layer combining a list of tensors element-wise."""

    _exactly: ClassVar[int | None] = None

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name, input_shape=None, owner=type(self).__name__)

    def forward(self, inputs: Sequence[Tensor], *more: Tensor) -> Tensor:
        owner = type(self).__name__
        if more:
            raise DataError(
                f"{owner}: expected one list of tensors, e.g. {owner}()([a, b]). "
                f"Received: {1 + len(more)} separate arguments"
            )
        items = _tensors(owner, inputs, exactly=self._exactly)
        try:
            out = self._merge(items)
        except RuntimeError as error:
            if isinstance(self, Concatenate):
                raise
            shapes = ", ".join(str(tuple(t.shape)) for t in items)
            raise DataError(
                f"{owner}: expected inputs of the same (or broadcastable) shapes. "
                f"Received shapes: {shapes}"
            ) from error
        masks = [get_mask(t) for t in items]
        if any(m is not None for m in masks) and not isinstance(self, (Concatenate, Dot)):
            # Keras: the output's mask is the logical and of the inputs' masks.
            mask = merge_masks(*masks)
            if mask is not None and tuple(mask.shape) == tuple(out.shape[: mask.dim()]):
                set_mask(out, mask)
        return out

    def _merge(self, items: list[Tensor]) -> Tensor:
        raise NotImplementedError


class Add(_Merge):
    """The element-wise sum of its inputs.

    Example:
        >>> Add()([torch.ones(2, 3), torch.ones(2, 3)]).sum().item()
        12.0
    """

    def _merge(self, items: list[Tensor]) -> Tensor:
        out = items[0] + items[1]
        for item in items[2:]:
            out = out + item
        return out


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs).

    Example:
        >>> Subtract()([torch.ones(2), torch.ones(2)])
        tensor([0., 0.])
    """

    _exactly = 2

    def _merge(self, items: list[Tensor]) -> Tensor:
        return items[0] - items[1]


class Multiply(_Merge):
    """The element-wise product of its inputs.

    Example:
        >>> Multiply()([torch.full((2,), 2.0), torch.full((2,), 3.0)])
        tensor([6., 6.])
    """

    def _merge(self, items: list[Tensor]) -> Tensor:
        out = items[0] * items[1]
        for item in items[2:]:
            out = out * item
        return out


class Average(_Merge):
    """The element-wise mean of its inputs.

    Example:
        >>> Average()([torch.zeros(2), torch.full((2,), 2.0)])
        tensor([1., 1.])
    """

    def _merge(self, items: list[Tensor]) -> Tensor:
        return Add._merge(self, items) / len(items)  # type: ignore[arg-type]


class Maximum(_Merge):
    """The element-wise maximum of its inputs.

    Example:
        >>> Maximum()([torch.tensor([1.0, 5.0]), torch.tensor([3.0, 2.0])])
        tensor([3., 5.])
    """

    def _merge(self, items: list[Tensor]) -> Tensor:
        out = torch.maximum(items[0], items[1])
        for item in items[2:]:
            out = torch.maximum(out, item)
        return out


class Minimum(_Merge):
    """The element-wise minimum of its inputs.

    Example:
        >>> Minimum()([torch.tensor([1.0, 5.0]), torch.tensor([3.0, 2.0])])
        tensor([1., 2.])
    """

    def _merge(self, items: list[Tensor]) -> Tensor:
        out = torch.minimum(items[0], items[1])
        for item in items[2:]:
            out = torch.minimum(out, item)
        return out


class Concatenate(_Merge):
    """Joins its inputs along ``axis`` (the last by default, channels-last).

    Args:
        axis: the axis to join along; the batch axis 0 is not allowed.
        name: the layer's name.

    Example:
        >>> Concatenate()([torch.zeros(2, 3), torch.zeros(2, 4)]).shape
        torch.Size([2, 7])
    """

    def __init__(self, axis: int = -1, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis = _axis("Concatenate", "axis", axis)

    def _merge(self, items: list[Tensor]) -> Tensor:
        try:
            return torch.cat(items, dim=self.axis)
        except RuntimeError:
            shapes = ", ".join(str(tuple(t.shape)) for t in items)
            raise DataError(
                f"Concatenate: expected inputs whose shapes agree on every axis but "
                f"axis={self.axis}. Received shapes: {shapes}"
            ) from None

    def _describe(self) -> str:
        return join_parts(f"axis={self.axis}", super()._describe())


def _axis(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be an int. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if value == 0:
        raise ArgumentError(
            f"{owner}: expected `{name}` not to be the batch axis 0. Received: {name}=0"
        )
    return value


class Dot(_Merge):
    """The dot product of two batches of tensors along ``axes`` (Keras's ``batch_dot``).

    For ``(N, d)`` and ``(N, d)`` the result is ``(N, 1)``; for ``(N, t, d)``
    and ``(N, s, d)`` with ``axes=2`` it is ``(N, t, s)``. Axes count the batch
    axis (axis 1 is the first axis after it), as in Keras.

    Args:
        axes: an int (the same axis of both inputs) or a pair ``(axis_a, axis_b)``.
        normalize: L2-normalize both inputs along the dot axes first, so the
            result is the cosine similarity.
        name: the layer's name.

    Example:
        >>> Dot(axes=1)([torch.ones(2, 3), torch.ones(2, 3)])
        tensor([[3.],
                [3.]])
    """

    _exactly = 2

    def __init__(
        self,
        axes: int | tuple[int, int] | list[int],
        normalize: bool = False,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ArgumentError(
                    f"Dot: expected `axes` to be an int or a pair of ints. Received: axes={axes!r}"
                )
            pair = (_axis("Dot", "axes", axes[0]), _axis("Dot", "axes", axes[1]))
        else:
            single = _axis("Dot", "axes", axes)
            pair = (single, single)
        self.axes: int | tuple[int, int] = pair[0] if pair[0] == pair[1] else pair
        self._pair = pair
        self.normalize = checks.boolean("Dot", "normalize", normalize)

    def _merge(self, items: list[Tensor]) -> Tensor:
        a, b = items
        axis_a, axis_b = (ax % t.dim() for ax, t in zip(self._pair, items, strict=True))
        if axis_a == 0 or axis_b == 0 or a.shape[axis_a] != b.shape[axis_b]:
            raise DataError(
                f"Dot: expected inputs of equal size along axes={self._pair} (not the batch "
                f"axis). Received shapes: {tuple(a.shape)}, {tuple(b.shape)}"
            )
        if self.normalize:
            a = F.normalize(a, dim=axis_a)
            b = F.normalize(b, dim=axis_b)
        return batch_dot(a, b, axis_a, axis_b)

    def _describe(self) -> str:
        return join_parts(f"axes={self.axes}", "normalize=True" if self.normalize else "")


def batch_dot(a: Tensor, b: Tensor, axis_a: int, axis_b: int) -> Tensor:
    """Keras's ``batch_dot``: contract ``a``'s ``axis_a`` with ``b``'s ``axis_b`` per sample."""
    a = a.movedim(axis_a, -1)
    b = b.movedim(axis_b, 1)
    rest_a, rest_b = a.shape[1:-1], b.shape[2:]
    out = torch.bmm(a.reshape(a.shape[0], -1, a.shape[-1]), b.reshape(b.shape[0], b.shape[1], -1))
    out = out.reshape(a.shape[0], *rest_a, *rest_b)
    return out.unsqueeze(1) if out.dim() == 1 else out


def add(inputs: Sequence[Tensor], **kwargs: Any) -> Tensor:
    """Keras's ``add(inputs)``: ``Add(**kwargs)(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs: Sequence[Tensor], **kwargs: Any) -> Tensor:
    """Keras's ``subtract(inputs)``: ``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: Sequence[Tensor], **kwargs: Any) -> Tensor:
    """Keras's ``multiply(inputs)``: ``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs: Sequence[Tensor], **kwargs: Any) -> Tensor:
    """Keras's ``average(inputs)``: ``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs: Sequence[Tensor], **kwargs: Any) -> Tensor:
    """Keras's ``maximum(inputs)``: ``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: Sequence[Tensor], **kwargs: Any) -> Tensor:
    """Keras's ``minimum(inputs)``: ``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: Sequence[Tensor], axis: int = -1, **kwargs: Any) -> Tensor:
    """Keras's ``concatenate(inputs, axis)``: ``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis, **kwargs)(inputs)


def dot(
    inputs: Sequence[Tensor], axes: int | tuple[int, int], normalize: bool = False, **kwargs: Any
) -> Tensor:
    """Keras's ``dot(inputs, axes, normalize)``: ``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes, normalize, **kwargs)(inputs)
