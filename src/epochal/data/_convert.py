"""Turning user arrays (numpy, torch, pandas, lists) into tensors, with clear errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch.utils.weak import WeakIdKeyDictionary

from epochal._tree import Tree, leaves, tree_map
from epochal.errors import ArgumentTypeError, DataError

__all__ = ["as_tensor_tree", "check_finite", "is_array_like", "is_array_tree", "tree_length"]


def _is_pandas(value: Any) -> bool:
    module = type(value).__module__
    return module.split(".")[0] == "pandas" and type(value).__name__ in ("DataFrame", "Series")


def is_array_like(value: Any) -> bool:
    """A single in-memory array: numpy array, tensor, pandas DataFrame/Series."""
    return isinstance(value, (np.ndarray, torch.Tensor)) or _is_pandas(value)


def is_array_tree(value: Any) -> bool:
    """An array, or a (non-empty) tuple/list/dict whose leaves are all arrays."""
    if is_array_like(value):
        return True
    if isinstance(value, dict):
        return bool(value) and all(is_array_tree(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return bool(value) and all(is_array_tree(v) for v in value)
    return False


def _pandas_to_numpy(value: Any, name: str) -> np.ndarray:
    from pandas.api import types

    is_series = type(value).__name__ == "Series"
    columns = [(value.name, value.dtype)] if is_series else list(value.dtypes.items())
    bad = [str(c) for c, d in columns if not (types.is_numeric_dtype(d) or types.is_bool_dtype(d))]
    if bad:
        raise DataError(
            f"Expected `{name}` to hold numbers. Received a {type(value).__name__} with "
            f"non-numeric columns: {bad}. Encode them (for example with pandas.get_dummies) first"
        )
    integer_only = all(types.is_integer_dtype(d) for _, d in columns)
    return value.to_numpy(dtype=None if integer_only else np.float32)


def _to_numpy(value: Any, name: str) -> np.ndarray:
    if _is_pandas(value):
        return _pandas_to_numpy(value, name)
    return np.asarray(value)


def _leaf_to_tensor(value: Any, name: str, *, float_dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        # The user's tensor itself when it needs no detaching: its finite check
        # is then remembered across calls (see check_finite).
        tensor = value.detach() if value.requires_grad else value
    else:
        array = _to_numpy(value, name)
        if array.ndim == 0:
            raise DataError(
                f"Expected `{name}` to be an array with a batch dimension. Received a scalar."
            )
        if array.dtype.kind not in "biuf":
            raise DataError(
                f"Expected `{name}` to hold numbers. Received an array of dtype {array.dtype}"
            )
        with warnings.catch_warnings():
            # Read-only arrays (pandas copy-on-write views) are fine: epochal never
            # writes into input data, so sharing the memory is safe.
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dtype == torch.bool:
        tensor = tensor.to(float_dtype)
    elif tensor.is_floating_point() and tensor.dtype == torch.float64:
        # Keras casts float inputs to float32 (floatx); so do we. Integer inputs stay
        # integers (class labels, embedding indices).
        tensor = tensor.to(float_dtype)
    elif tensor.is_complex():
        raise DataError(f"Expected `{name}` to hold real numbers. Received dtype {tensor.dtype}.")
    if tensor.ndim == 0:
        raise DataError(
            f"Expected `{name}` to be an array with a batch dimension. Received a scalar."
        )
    return tensor


def as_tensor_tree(value: Any, name: str, *, float_dtype: torch.dtype = torch.float32) -> Tree:
    """Convert an array tree to tensors (on the CPU unless already elsewhere)."""
    if not is_array_tree(value):
        if isinstance(value, list) and value:
            # Nested Python numbers, as Keras accepts them.
            try:
                array = np.asarray(value)
            except ValueError:  # ragged
                array = np.asarray(0, dtype=object)
            if array.dtype.kind in "biuf":
                return _leaf_to_tensor(array, name, float_dtype=float_dtype)
        raise ArgumentTypeError(
            f"Expected `{name}` to be a numpy array, torch tensor, pandas DataFrame/Series, or a "
            f"tuple/dict of those. Received: {name} of type {type(value).__name__}"
        )
    if isinstance(value, dict):
        return {
            k: as_tensor_tree(v, f"{name}[{k!r}]", float_dtype=float_dtype)
            for k, v in value.items()
        }
    if isinstance(value, (tuple, list)) and not is_array_like(value):
        return tuple(
            as_tensor_tree(v, f"{name}[{i}]", float_dtype=float_dtype) for i, v in enumerate(value)
        )
    return _leaf_to_tensor(value, name, float_dtype=float_dtype)


def tree_length(tree: Tree, name: str) -> int:
    """The common first dimension of every leaf; raises when leaves disagree."""
    lengths = {int(t.shape[0]) for t in leaves(tree)}
    if len(lengths) != 1:
        raise DataError(
            f"Expected every array in `{name}` to have the same number of samples. "
            f"Received lengths {sorted(lengths)}"
        )
    return lengths.pop()


#: Tensors found finite, with the version counter and storage they had then:
#: a ``fit`` loop over unchanged tensors checks them once. torch bumps a
#: tensor's ``_version`` on every in-place write through it or its views.
_FOUND_FINITE = WeakIdKeyDictionary()


def check_finite(tree: Tree, name: str) -> None:
    """Raise when a floating-point leaf holds NaN or Inf (one pass, one sync).

    A tensor found finite before and unchanged since (same object, storage and
    version counter) is not read again. Writes that bypass torch (through a
    numpy array sharing the tensor's memory) do not bump the counter: arrays
    given as numpy are converted, and checked, on every call.
    """
    bad: list[str] = []

    def check(t: torch.Tensor) -> torch.Tensor:
        if not t.is_floating_point() or t.numel() == 0:
            return t
        strided = t.layout is torch.strided
        stamp = (t._version, t.data_ptr()) if strided else None
        if strided and _FOUND_FINITE.get(t) == stamp:
            return t
        # min and max carry any NaN or Inf: one pass without a data-sized mask
        # (isfinite(t).all() allocated one and cost ~40x more on large inputs).
        low, high = torch.aminmax(t)
        if not bool(torch.isfinite(low) & torch.isfinite(high)):
            bad.append(f"{int(torch.isnan(t).sum())} NaN and {int(torch.isinf(t).sum())} Inf")
        elif strided:
            _FOUND_FINITE[t] = stamp
        return t

    tree_map(check, tree)
    if bad:
        raise DataError(
            f"Expected `{name}` to contain only finite values. Received {'; '.join(bad)} "
            f"values. Clean or impute the data, or pass check_finite=False to fit to train anyway."
        )
