"""Shape ops (reshape, transpose, concatenate, indexing, padding, ...) and tensor creation."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras.ops._convert import axes, creation_device, pair, tensor, tensors, to_dtype


def _shape_arg(shape: Any, owner: str) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        return (shape,)
    if isinstance(shape, torch.Size) or (
        isinstance(shape, (list, tuple))
        and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape)
    ):
        return tuple(int(d) for d in shape)
    raise ArgumentTypeError(
        f"keras.ops.{owner}: expected a shape (an int or a tuple of ints). Received: {shape!r}"
    )


# -- shape -------------------------------------------------------------------------
def reshape(x: Any, newshape: Any) -> Any:
    """``x`` with shape ``newshape`` (one axis may be -1; None is taken as -1)."""
    if isinstance(newshape, (list, tuple)):
        newshape = tuple(-1 if d is None else d for d in newshape)
    return torch.reshape(tensor(x), _shape_arg(newshape, "reshape"))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """``x`` with its axes permuted (reversed when ``axes`` is None)."""
    x = tensor(x)
    order = tuple(reversed(range(x.ndim))) if axes is None else tuple(axes)
    return torch.permute(x, order)


def expand_dims(x: Any, axis: Any) -> Any:
    """``x`` with new axes of size 1 at ``axis`` (an int or a tuple, positions in the result)."""
    x = tensor(x)
    checked = axes(axis, "expand_dims")
    positions = (checked,) if isinstance(checked, int) else checked or ()
    rank = x.ndim + len(positions)
    for pos in sorted(p % rank for p in positions):
        x = torch.unsqueeze(x, pos)
    return x


def squeeze(x: Any, axis: Any = None) -> Any:
    """``x`` without its axes of size 1 (only ``axis`` when given, which must have size 1).

    Raises:
        ArgumentError: an axis in ``axis`` does not have size 1.
    """
    x = tensor(x)
    checked = axes(axis, "squeeze")
    if checked is None:
        return torch.squeeze(x)
    dims = (checked,) if isinstance(checked, int) else checked
    for d in dims:
        if x.shape[d] not in (1, None):
            raise ArgumentError(
                f"keras.ops.squeeze: cannot squeeze axis {d} of size {x.shape[d]}; expected size 1 "
                f"(shape {tuple(x.shape)})"
            )
    return torch.squeeze(x, dim=dims)


def concatenate(xs: Sequence[Any], axis: int = 0) -> Any:
    """The tensors joined along an existing ``axis``."""
    return torch.cat(tensors(xs, "concatenate"), dim=axis)


def stack(x: Sequence[Any], axis: int = 0) -> Any:
    """The tensors joined along a new ``axis``."""
    return torch.stack(tensors(x, "stack"), dim=axis)


def hstack(xs: Sequence[Any]) -> Any:
    """The tensors joined along axis 1 (axis 0 for 1-D tensors), as numpy."""
    return torch.hstack(tensors(xs, "hstack"))


def vstack(xs: Sequence[Any]) -> Any:
    """The tensors joined along axis 0 (1-D tensors become rows), as numpy."""
    return torch.vstack(tensors(xs, "vstack"))


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """``x`` cut along ``axis`` into N equal parts (an int) or at the given indices (a list).

    Raises:
        ArgumentError: an int that does not divide the axis.
    """
    x = tensor(x)
    if isinstance(indices_or_sections, int):
        length = x.shape[axis]
        if indices_or_sections <= 0 or (length is not None and length % indices_or_sections):
            raise ArgumentError(
                f"keras.ops.split: cannot split an axis of size {length} into "
                f"{indices_or_sections} equal parts. Pass a list of split indices instead"
            )
        return list(torch.tensor_split(x, indices_or_sections, dim=axis))
    return list(torch.tensor_split(x, [int(i) for i in indices_or_sections], dim=axis))


def tile(x: Any, repeats: Any) -> Any:
    """``x`` repeated ``repeats`` times along each axis (numpy's ``tile``)."""
    return torch.tile(tensor(x), _shape_arg(repeats, "tile"))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Any:
    """Each element repeated ``repeats`` times along ``axis`` (flattened when None), as numpy."""
    x = tensor(x)
    reps = repeats if isinstance(repeats, int) else tensor(repeats, like=x)
    if axis is None:
        return torch.repeat_interleave(torch.reshape(x, (-1,)), reps)
    return torch.repeat_interleave(x, reps, dim=axis)


def flip(x: Any, axis: Any = None) -> Any:
    """``x`` reversed along ``axis`` (every axis when None)."""
    x = tensor(x)
    checked = axes(axis, "flip")
    dims = (
        tuple(range(x.ndim))
        if checked is None
        else (checked,)
        if isinstance(checked, int)
        else checked
    )
    return torch.flip(x, dims)


def roll(x: Any, shift: Any, axis: Any = None) -> Any:
    """``x`` shifted circularly by ``shift`` along ``axis`` (flattened when None)."""
    x = tensor(x)
    if axis is None:
        return torch.reshape(torch.roll(torch.reshape(x, (-1,)), shift), x.shape)
    return torch.roll(x, shift, dims=axis)


def moveaxis(x: Any, source: Any, destination: Any) -> Any:
    """``x`` with axis ``source`` moved to ``destination``."""
    return torch.movedim(tensor(x), source, destination)


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    """``x`` with two axes exchanged."""
    return torch.swapaxes(tensor(x), axis1, axis2)


def broadcast_to(x: Any, shape: Any) -> Any:
    """``x`` broadcast to ``shape``."""
    return torch.broadcast_to(tensor(x), _shape_arg(shape, "broadcast_to"))


def ravel(x: Any) -> Any:
    """``x`` flattened to one axis."""
    return torch.reshape(tensor(x), (-1,))


def take(x: Any, indices: Any, axis: int | None = None) -> Any:
    """Elements of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` when None); negative indices count from the end."""
    x = tensor(x)
    idx = tensor(indices, like=x).long()
    if axis is None:
        x, axis = torch.reshape(x, (-1,)), 0
    # One advanced index: the result is x.shape[:axis] + idx.shape + x.shape[axis + 1:], as numpy's take.
    return x[(builtins.slice(None),) * (axis % x.ndim) + (idx,)]


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> Any:
    """Elements of ``x`` picked along ``axis`` by ``indices`` of the same rank (broadcast), as numpy."""
    x = tensor(x)
    idx = tensor(indices, like=x).long()
    if axis is None:
        x, axis = torch.reshape(x, (-1,)), 0
    axis = axis % x.ndim
    others = [(a, b) for i, (a, b) in enumerate(zip(x.shape, idx.shape, strict=True)) if i != axis]
    if any(a != b for a, b in others):  # broadcast every axis but ``axis``
        shape = list(
            torch.broadcast_shapes(
                (*x.shape[:axis], 1, *x.shape[axis + 1 :]),
                (*idx.shape[:axis], 1, *idx.shape[axis + 1 :]),
            )
        )
        idx = torch.broadcast_to(idx, (*shape[:axis], idx.shape[axis], *shape[axis + 1 :]))
        x = torch.broadcast_to(x, (*shape[:axis], x.shape[axis], *shape[axis + 1 :]))
    return torch.gather(x, axis, idx)


def slice(inputs: Any, start_indices: Sequence[int], shape: Sequence[int]) -> Any:
    """The block of ``inputs`` starting at ``start_indices`` with size ``shape`` (-1: to the end)."""
    x = tensor(inputs)
    index = tuple(
        builtins.slice(int(s), None if int(n) == -1 else int(s) + int(n))
        for s, n in zip(start_indices, shape, strict=True)
    )
    return x[index]


def slice_update(inputs: Any, start_indices: Sequence[int], updates: Any) -> Any:
    """A copy of ``inputs`` with the block at ``start_indices`` replaced by ``updates``."""
    x = tensor(inputs)
    upd = tensor(updates, like=x).to(x.dtype)
    index = tuple(
        builtins.slice(int(s), int(s) + int(n))
        for s, n in zip(start_indices, upd.shape, strict=True)
    )
    out = torch.clone(x)
    out[index] = upd
    return out


def scatter_update(inputs: Any, indices: Any, updates: Any) -> Any:
    """A copy of ``inputs`` with the entries at ``indices`` (rows of coordinates) set to ``updates``."""
    x = tensor(inputs)
    idx = tensor(indices, like=x).long()
    out = torch.clone(x)
    out[tuple(torch.unbind(idx, dim=-1))] = tensor(updates, like=x).to(x.dtype)
    return out


def scatter(indices: Any, values: Any, shape: Any) -> Any:
    """Zeros of ``shape`` with ``values`` added at ``indices`` (rows of coordinates)."""
    vals = tensor(values)
    idx = tensor(indices, like=vals).long()
    out = torch.zeros(_shape_arg(shape, "scatter"), dtype=vals.dtype, device=vals.device)
    return torch.index_put(out, tuple(torch.unbind(idx, dim=-1)), vals, accumulate=True)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> Any:
    """``x`` padded as ``numpy.pad``: ``pad_width`` is an int, ``(before, after)`` or one pair per axis.

    Raises:
        ArgumentError: an unknown ``mode``, or ``constant_values`` with a mode other than "constant".
    """
    x = tensor(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}
    if mode not in modes:
        raise ArgumentError(
            f"keras.ops.pad: expected `mode` to be one of 'constant', 'reflect', 'edge', 'wrap'. Received: mode={mode!r}"
        )
    if constant_values is not None and mode != "constant":
        raise ArgumentError(
            f"keras.ops.pad: `constant_values` needs mode='constant'. Received: mode={mode!r}"
        )
    flat = [int(v) for pair_ in reversed(widths.tolist()) for v in pair_]
    if mode == "constant":
        return F.pad(x, flat, value=0 if constant_values is None else constant_values)
    # torch pads up to 3 trailing axes of an (N, C, ...) input in these modes.
    rows = widths.tolist()
    lead = next((i for i, w in enumerate(rows) if w != [0, 0]), x.ndim)
    if lead == x.ndim:
        return x
    if x.ndim - lead > 3:
        raise ArgumentError(
            f"keras.ops.pad: mode={mode!r} pads at most the last 3 axes. Received: pad_width={pad_width!r}"
        )
    work = torch.reshape(x, (-1, 1, *x.shape[lead:]))
    padded = F.pad(
        work, [int(v) for pair_ in reversed(rows[lead:]) for v in pair_], mode=modes[mode]
    )
    return torch.reshape(padded, (*x.shape[:lead], *padded.shape[2:]))


def tril(x: Any, k: int = 0) -> Any:
    """``x`` with the entries above diagonal ``k`` zeroed."""
    return torch.tril(tensor(x), diagonal=k)


def triu(x: Any, k: int = 0) -> Any:
    """``x`` with the entries below diagonal ``k`` zeroed."""
    return torch.triu(tensor(x), diagonal=k)


def diag(x: Any, k: int = 0) -> Any:
    """The ``k``-th diagonal of a matrix, or a matrix with a vector on it."""
    return torch.diag(tensor(x), diagonal=k)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal of ``x`` over two axes."""
    return torch.diagonal(tensor(x), offset=offset, dim1=axis1, dim2=axis2)


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The sum of the diagonal of ``x`` over two axes."""
    return torch.sum(diagonal(x, offset, axis1, axis2), dim=-1)


# -- products ----------------------------------------------------------------------
def matmul(x1: Any, x2: Any) -> Any:
    """The matrix product, broadcast over leading axes (``x1 @ x2``)."""
    a, b = pair(x1, x2)
    return torch.matmul(a, b)


def dot(x1: Any, x2: Any) -> Any:
    """numpy's ``dot``: a product for scalars, the sum over the last axis of ``x1`` and the second-to-last of ``x2``."""
    a, b = pair(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return torch.multiply(a, b)
    if b.ndim == 1:
        return torch.tensordot(a, b, dims=([-1], [0]))
    return torch.tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 2]))


def tensordot(x1: Any, x2: Any, axes: Any = 2) -> Any:
    """The sum of products over ``axes`` (an int: the last axes of ``x1`` with the first of ``x2``)."""
    a, b = pair(x1, x2)
    return torch.tensordot(a, b, dims=axes)


def einsum(subscripts: str, *operands: Any) -> Any:
    """Einstein summation, as ``numpy.einsum``."""
    return torch.einsum(subscripts, *tensors(list(operands), "einsum"))


def outer(x1: Any, x2: Any) -> Any:
    """The outer product of the flattened ``x1`` and ``x2``."""
    a, b = pair(x1, x2)
    return torch.outer(torch.reshape(a, (-1,)), torch.reshape(b, (-1,)))


def inner(x1: Any, x2: Any) -> Any:
    """The sum of products over the last axes of ``x1`` and ``x2``."""
    a, b = pair(x1, x2)
    return torch.inner(a, b)


def cross(x1: Any, x2: Any, axis: int = -1) -> Any:
    """The cross product of 3-vectors along ``axis``."""
    a, b = pair(x1, x2)
    return torch.linalg.cross(a, b, dim=axis)


# -- creation ----------------------------------------------------------------------
def _dtype_of(values: Sequence[Any], dtype: Any, owner: str) -> torch.dtype:
    target = to_dtype(dtype, owner)
    if target is not None:
        return target
    if builtins.any(
        isinstance(v, float) or (isinstance(v, torch.Tensor) and v.is_floating_point())
        for v in values
    ):
        return torch.get_default_dtype()
    return torch.int32


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Any:
    """Evenly spaced values in ``[start, stop)`` (``[0, start)`` with one argument); int32 for ints."""
    if stop is None:
        start, stop = 0, start
    target = _dtype_of((start, stop, step), dtype, "arange")
    return torch.arange(start, stop, step, dtype=target, device=creation_device())


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop`` (included when ``endpoint``)."""
    target = to_dtype(dtype, "linspace") or torch.get_default_dtype()
    if endpoint:
        out = torch.linspace(float(start), float(stop), num, dtype=torch.float64)
        step = (float(stop) - float(start)) / builtins.max(num - 1, 1)
    else:
        step = (float(stop) - float(start)) / num
        out = torch.linspace(float(start), float(stop) - step, num, dtype=torch.float64)
    out = out.to(device=creation_device(), dtype=target)
    return (out, step) if retstep else out


def zeros(shape: Any, dtype: Any = None) -> Any:
    """A tensor of zeros (float32 by default)."""
    return torch.zeros(
        _shape_arg(shape, "zeros"), dtype=to_dtype(dtype, "zeros"), device=creation_device()
    )


def ones(shape: Any, dtype: Any = None) -> Any:
    """A tensor of ones (float32 by default)."""
    return torch.ones(
        _shape_arg(shape, "ones"), dtype=to_dtype(dtype, "ones"), device=creation_device()
    )


def empty(shape: Any, dtype: Any = None) -> Any:
    """An uninitialized tensor (float32 by default)."""
    return torch.empty(
        _shape_arg(shape, "empty"), dtype=to_dtype(dtype, "empty"), device=creation_device()
    )


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Any:
    """A tensor of ``fill_value`` (float32 for floats, int32 for ints, unless ``dtype``)."""
    target = _dtype_of((fill_value,), dtype, "full")
    if isinstance(fill_value, bool) and dtype is None:
        target = torch.bool
    return torch.full(_shape_arg(shape, "full"), fill_value, dtype=target, device=creation_device())


def zeros_like(x: Any, dtype: Any = None) -> Any:
    """Zeros shaped like ``x`` (of its dtype unless ``dtype``)."""
    return torch.zeros_like(tensor(x), dtype=to_dtype(dtype, "zeros_like"))


def ones_like(x: Any, dtype: Any = None) -> Any:
    """Ones shaped like ``x`` (of its dtype unless ``dtype``)."""
    return torch.ones_like(tensor(x), dtype=to_dtype(dtype, "ones_like"))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Any:
    """``fill_value`` shaped like ``x`` (of its dtype unless ``dtype``)."""
    return torch.full_like(tensor(x), fill_value, dtype=to_dtype(dtype, "full_like"))


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    """An ``N x M`` matrix with ones on diagonal ``k`` (float32 by default)."""
    M = N if M is None else M
    target = to_dtype(dtype, "eye") or torch.get_default_dtype()
    return torch.tril(torch.triu(torch.ones(N, M, dtype=target, device=creation_device()), k), k)


def identity(n: int, dtype: Any = None) -> Any:
    """The ``n x n`` identity matrix (float32 by default)."""
    target = to_dtype(dtype, "identity") or torch.get_default_dtype()
    return torch.eye(n, dtype=target, device=creation_device())


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Any:
    """Ones at and below diagonal ``k`` of an ``N x M`` matrix."""
    M = N if M is None else M
    return torch.tril(
        torch.ones(N, M, dtype=to_dtype(dtype, "tri") or torch.get_default_dtype()), k
    )


def meshgrid(*x: Any, indexing: str = "xy") -> list[Any]:
    """Coordinate grids from 1-D tensors (``indexing="xy"`` or ``"ij"``, as numpy)."""
    return list(torch.meshgrid(*tensors(list(x), "meshgrid"), indexing=indexing))


def array(x: Any, dtype: Any = None) -> Any:
    """``x`` as a tensor (see `convert_to_tensor`)."""
    return tensor(x, dtype)


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[Any]:
    """``x`` cut into its slices along ``axis``."""
    return list(torch.unbind(tensor(x), dim=axis))
