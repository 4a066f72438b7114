"""Reductions, sorting and cumulative ops with Keras's ``axis``/``keepdims`` (numpy semantics)."""

from __future__ import annotations

from typing import Any

import torch

from epochal.errors import ArgumentError
from epochal.keras.ops._convert import axes, floating, tensor, to_dtype


def _dims(x: Any, axis: Any, owner: str) -> tuple[int, ...]:
    """``axis`` as a tuple of axes (every axis for None)."""
    checked = axes(axis, owner)
    if checked is None:
        return tuple(range(x.ndim))
    return (checked,) if isinstance(checked, int) else checked


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The sum over ``axis`` (every axis when None)."""
    x = tensor(x)
    return torch.sum(x, dim=_dims(x, axis, "sum"), keepdim=keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The mean over ``axis`` (every axis when None); integers average to floats."""
    x = floating(x)
    return torch.mean(x, dim=_dims(x, axis, "mean"), keepdim=keepdims)


def _extreme(fn: Any, name: str, x: Any, axis: Any, keepdims: bool, initial: Any) -> Any:
    x = tensor(x)
    dims = _dims(x, axis, name)
    out = fn(x, dim=dims, keepdim=keepdims) if dims else x
    if initial is not None:
        out = (torch.clamp_min if name == "max" else torch.clamp_max)(out, initial)
    return out


def max(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> Any:
    """The largest value over ``axis``; at least ``initial`` when given."""
    return _extreme(torch.amax, "max", x, axis, keepdims, initial)


def min(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> Any:
    """The smallest value over ``axis``; at most ``initial`` when given."""
    return _extreme(torch.amin, "min", x, axis, keepdims, initial)


amax = max
amin = min


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
    """The product over ``axis`` (every axis when None)."""
    x = tensor(x, dtype)
    dims = sorted((d % x.ndim for d in _dims(x, axis, "prod")), reverse=True) if x.ndim else []
    for d in dims:
        x = torch.prod(x, dim=d, keepdim=keepdims)
    return x


def var(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The variance over ``axis`` (population variance, as numpy: divides by ``n``)."""
    x = floating(x)
    return torch.var(x, dim=_dims(x, axis, "var"), keepdim=keepdims, correction=0)


def std(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The standard deviation over ``axis`` (population, as numpy: divides by ``n``)."""
    x = floating(x)
    return torch.std(x, dim=_dims(x, axis, "std"), keepdim=keepdims, correction=0)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Whether any element over ``axis`` is true (non-zero)."""
    x = tensor(x)
    return torch.any(x, dim=_dims(x, axis, "any"), keepdim=keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Whether every element over ``axis`` is true (non-zero)."""
    x = tensor(x)
    return torch.all(x, dim=_dims(x, axis, "all"), keepdim=keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(x)))`` over ``axis``, computed stably."""
    x = floating(x)
    return torch.logsumexp(x, dim=_dims(x, axis, "logsumexp"), keepdim=keepdims)


def count_nonzero(x: Any, axis: Any = None) -> Any:
    """The number of non-zero elements over ``axis``."""
    x = tensor(x)
    return torch.count_nonzero(x, dim=_dims(x, axis, "count_nonzero"))


def average(x: Any, axis: Any = None, weights: Any = None) -> Any:
    """The (weighted) mean over ``axis``; 1-D ``weights`` run along ``axis``."""
    x = floating(x)
    if weights is None:
        return mean(x, axis)
    w = tensor(weights, like=x).to(x.dtype)
    if w.ndim == 1 and x.ndim > 1 and isinstance(axis, int):
        shape = [1] * x.ndim
        shape[axis] = -1
        w = torch.reshape(w, shape)
    return torch.sum(x * w, dim=_dims(x, axis, "average")) / torch.sum(
        torch.broadcast_to(w, x.shape), dim=_dims(x, axis, "average")
    )


def _index_result(indices: Any) -> Any:
    # Keras returns int32 indices.
    return indices.to(torch.int32)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """The index of the largest value along ``axis`` (of the flattened ``x`` when None), as int32."""
    x = tensor(x)
    if axis is None:
        out = torch.argmax(torch.reshape(x, (-1,)))
        return _index_result(torch.reshape(out, (1,) * x.ndim) if keepdims else out)
    return _index_result(torch.argmax(x, dim=axis, keepdim=keepdims))


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """The index of the smallest value along ``axis`` (of the flattened ``x`` when None), as int32."""
    x = tensor(x)
    if axis is None:
        out = torch.argmin(torch.reshape(x, (-1,)))
        return _index_result(torch.reshape(out, (1,) * x.ndim) if keepdims else out)
    return _index_result(torch.argmin(x, dim=axis, keepdim=keepdims))


def sort(x: Any, axis: int = -1) -> Any:
    """``x`` sorted ascending along ``axis`` (flattened when None)."""
    x = tensor(x)
    if axis is None:
        return torch.sort(torch.reshape(x, (-1,))).values
    return torch.sort(x, dim=axis).values


def argsort(x: Any, axis: int = -1) -> Any:
    """The indices that sort ``x`` ascending along ``axis`` (stable), as int32."""
    x = tensor(x)
    if axis is None:
        return _index_result(torch.argsort(torch.reshape(x, (-1,)), stable=True))
    return _index_result(torch.argsort(x, dim=axis, stable=True))


def top_k(x: Any, k: int, sorted: bool = True) -> tuple[Any, Any]:
    """The ``k`` largest values along the last axis and their indices (int32).

    Raises:
        ArgumentError: ``k`` is not a positive int.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ArgumentError(
            f"keras.ops.top_k: expected `k` to be a positive int. Received: k={k!r}"
        )
    values, indices = torch.topk(tensor(x), k, dim=-1, largest=True, sorted=sorted)
    return values, _index_result(indices)


def in_top_k(targets: Any, predictions: Any, k: int) -> Any:
    """Whether each target class is among the ``k`` largest predictions of its row."""
    preds = tensor(predictions)
    top = torch.topk(preds, k, dim=-1).indices
    return torch.any(torch.eq(top, torch.unsqueeze(tensor(targets, like=preds).long(), -1)), dim=-1)


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Any:
    """The running sum along ``axis`` (of the flattened ``x`` when None)."""
    x = tensor(x)
    if axis is None:
        x, axis = torch.reshape(x, (-1,)), 0
    return torch.cumsum(x, dim=axis, dtype=to_dtype(dtype, "cumsum"))


def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> Any:
    """The running product along ``axis`` (of the flattened ``x`` when None)."""
    x = tensor(x)
    if axis is None:
        x, axis = torch.reshape(x, (-1,)), 0
    return torch.cumprod(x, dim=axis, dtype=to_dtype(dtype, "cumprod"))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """A vector or matrix norm, as ``numpy.linalg.norm`` (2-norm of the flattened ``x`` by default)."""
    x = floating(x)
    if axis is None and ord is None:
        return torch.linalg.vector_norm(x, keepdim=keepdims)
    if axis is None:
        axis = tuple(range(x.ndim)) if x.ndim <= 2 else None
    checked = axes(axis, "norm")
    if isinstance(checked, tuple) and len(checked) == 2:
        return torch.linalg.matrix_norm(
            x, ord="fro" if ord is None else ord, dim=checked, keepdim=keepdims
        )
    return torch.linalg.vector_norm(x, ord=2 if ord is None else ord, dim=checked, keepdim=keepdims)


def median(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The median over ``axis`` (the mean of the two middle values for even counts, as numpy)."""
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def quantile(
    x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False
) -> Any:
    """The ``q``-th quantile(s) over ``axis`` (``q`` in [0, 1])."""
    x = floating(x)
    qt = tensor(q, like=x).to(x.dtype)
    if axis is None:
        return torch.quantile(torch.reshape(x, (-1,)), qt, interpolation=method)
    if isinstance(axis, int):
        return torch.quantile(x, qt, dim=axis, keepdim=keepdims, interpolation=method)
    dims = sorted(d % x.ndim for d in _dims(x, axis, "quantile"))
    rest = [d for d in range(x.ndim) if d not in dims]
    moved = torch.permute(x, (*rest, *dims))
    flat = torch.reshape(moved, (*moved.shape[: len(rest)], -1))
    out = torch.quantile(flat, qt, dim=-1, interpolation=method)
    if keepdims:
        offset = out.ndim - len(rest)  # a 1-D ``q`` puts its axis first
        for d in dims:
            out = torch.unsqueeze(out, d + offset)
    return out


def searchsorted(sorted_sequence: Any, values: Any, side: str = "left") -> Any:
    """Where ``values`` would be inserted into the 1-D ``sorted_sequence`` to keep it sorted (int32)."""
    seq = tensor(sorted_sequence)
    return _index_result(
        torch.searchsorted(seq, tensor(values, like=seq).to(seq.dtype), right=side == "right")
    )


def digitize(x: Any, bins: Any) -> Any:
    """The index of the bin of each value of ``x`` (numpy's ``digitize`` with increasing bins), as int32."""
    b = tensor(bins)
    return _index_result(torch.bucketize(tensor(x, like=b).to(b.dtype), b, right=True))


def bincount(x: Any, weights: Any = None, minlength: int = 0) -> Any:
    """How often each non-negative integer appears in the 1-D ``x`` (weighted when ``weights`` is given)."""
    x = tensor(x).long()
    w = None if weights is None else tensor(weights, like=x)
    return torch.bincount(x, weights=w, minlength=minlength)
