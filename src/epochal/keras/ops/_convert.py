"""Tensors in, tensors out: Keras dtype names, conversions and the argument helpers the ops share.

Every op takes torch tensors, numpy arrays, Python numbers and lists, and the
symbolic tensors of a functional model. Symbolic tensors are passed to torch
functions untouched (they implement ``__torch_function__``, so the call is
recorded into the graph); everything else becomes a torch tensor first.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from epochal.errors import ArgumentError, ArgumentTypeError

_DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float": torch.float32,
    "float64": torch.float64,
    "double": torch.float64,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}
_NAMES: dict[torch.dtype, str] = {
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.float32: "float32",
    torch.float64: "float64",
    torch.uint8: "uint8",
    torch.int8: "int8",
    torch.int16: "int16",
    torch.int32: "int32",
    torch.int64: "int64",
    torch.bool: "bool",
    torch.complex64: "complex64",
    torch.complex128: "complex128",
}


# The device of the inputs of the keras.layers.Layer call being run (meta while a functional
# model infers shapes), for tensors an op or a sampler makes from nothing (zeros, normal, ...);
# set by the layer's forward.
CALL_DEVICE: contextvars.ContextVar[torch.device | None] = contextvars.ContextVar(
    "epochal_keras_call_device", default=None
)


def creation_device() -> torch.device:
    """Where a new tensor goes: the current layer call's device, else torch's default device."""
    return CALL_DEVICE.get() or torch.get_default_device()


def to_dtype(dtype: Any, owner: str = "cast") -> torch.dtype | None:
    """A torch dtype for a Keras dtype name, a torch or numpy dtype, or a Python type (None stays None).

    Raises:
        ArgumentError: an unknown dtype name.
        ArgumentTypeError: something that is not a dtype.
    """
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if dtype is float:
        return torch.get_default_dtype()
    if dtype is int:
        return torch.int32
    if dtype is bool:
        return torch.bool
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    if isinstance(dtype, str):
        raise ArgumentError(
            f"keras.ops.{owner}: unknown dtype {dtype!r}. Expected one of: "
            f"{', '.join(sorted(set(_NAMES.values())))}"
        )
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise ArgumentTypeError(
            f"keras.ops.{owner}: expected `dtype` to be a dtype name (e.g. 'float32'), a torch "
            f"dtype or a numpy dtype. Received: dtype={dtype!r}"
        ) from None
    if name not in _DTYPES:
        raise ArgumentError(
            f"keras.ops.{owner}: unknown dtype {dtype!r}. Expected one of: "
            f"{', '.join(sorted(set(_NAMES.values())))}"
        )
    return _DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    """Keras's name of a torch dtype (``torch.float32`` -> ``"float32"``)."""
    return _NAMES.get(dtype, str(dtype).removeprefix("torch."))


def is_symbolic(x: Any) -> bool:
    """Whether ``x`` is a tensor-like that torch functions dispatch to (a functional model's symbolic tensor)."""
    return not isinstance(x, Tensor) and hasattr(type(x), "__torch_function__")


def _python_dtype(x: Any) -> torch.dtype | None:
    """Keras's dtype for Python numbers and (nested) lists of them: int32, floatx, bool."""
    items = [x]
    while items and isinstance(items[0], (list, tuple)):
        items = [i for sub in items for i in sub]
    if not items:
        return torch.get_default_dtype()
    if all(isinstance(i, bool) for i in items):
        return torch.bool
    if all(isinstance(i, int) for i in items):
        return torch.int32
    if all(isinstance(i, (int, float)) for i in items):
        return torch.get_default_dtype()
    return None


def tensor(x: Any, dtype: Any = None, *, like: Any = None) -> Any:
    """``x`` as a torch tensor (a symbolic tensor stays itself), on ``like``'s device when given.

    Raises:
        ArgumentTypeError: ``x`` cannot be made a tensor.
    """
    target = to_dtype(dtype)
    if isinstance(x, Tensor) or is_symbolic(x):
        return x if target is None or x.dtype == target else x.to(target)
    device = like.device if isinstance(like, Tensor) and like.device.type != "meta" else None
    if isinstance(x, np.ndarray) and x.dtype == np.float64 and target is None:
        target = torch.float64
    if target is None and isinstance(x, (bool, int, float, list, tuple)):
        target = _python_dtype(x)
    try:
        if isinstance(x, np.ndarray):
            return torch.from_numpy(np.ascontiguousarray(x)).to(device=device, dtype=target)
        return torch.as_tensor(x, dtype=target, device=device)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ArgumentTypeError(
            f"Expected a tensor, a numpy array or a number. Received: {type(x).__name__} ({exc})"
        ) from None


def pair(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Both operands as tensors; a Python number becomes a 0-d tensor, promoting as a scalar does."""
    anchor = x1 if isinstance(x1, Tensor) else x2
    if isinstance(x1, (int, float, bool)) and not isinstance(x2, (int, float, bool)):
        return torch.as_tensor(x1, device=_device(anchor)), tensor(x2)
    if isinstance(x2, (int, float, bool)) and not isinstance(x1, (int, float, bool)):
        return tensor(x1), torch.as_tensor(x2, device=_device(anchor))
    return tensor(x1, like=anchor), tensor(x2, like=anchor)


def _device(x: Any) -> torch.device | None:
    if isinstance(x, Tensor) and x.device.type != "meta":
        return x.device
    return None


def tensors(xs: Sequence[Any], owner: str) -> list[Any]:
    """A list of operands as tensors on one device.

    Raises:
        ArgumentTypeError: ``xs`` is not a list or tuple.
    """
    if isinstance(xs, (Tensor, np.ndarray)) or not isinstance(xs, (list, tuple)):
        raise ArgumentTypeError(
            f"keras.ops.{owner}: expected a list or tuple of tensors. Received: {type(xs).__name__}"
        )
    anchor = next((x for x in xs if isinstance(x, Tensor)), None)
    return [tensor(x, like=anchor) for x in xs]


def axes(axis: Any, owner: str) -> int | tuple[int, ...] | None:
    """A Keras ``axis`` argument (None, an int, or a list/tuple of ints) checked.

    Raises:
        ArgumentTypeError: anything else.
    """
    if axis is None or (isinstance(axis, int) and not isinstance(axis, bool)):
        return axis
    if isinstance(axis, (list, tuple)) and all(
        isinstance(a, int) and not isinstance(a, bool) for a in axis
    ):
        return tuple(axis)
    raise ArgumentTypeError(
        f"keras.ops.{owner}: expected `axis` to be None, an int or a tuple of ints. "
        f"Received: axis={axis!r}"
    )


def floating(x: Any) -> Any:
    """``x`` as a float tensor (integers and booleans become the default float dtype)."""
    x = tensor(x)
    kind = x.dtype
    return x if kind.is_floating_point or kind.is_complex else x.to(torch.get_default_dtype())


def convert_to_tensor(x: Any, dtype: Any = None, sparse: Any = None, ragged: Any = None) -> Any:
    """``x`` as a torch tensor, cast to ``dtype`` if given (Python ints become int32, floats float32).

    Args:
        x: a tensor, numpy array, number or (nested) list.
        dtype: a dtype name, torch or numpy dtype.
        sparse: only None/False is supported.
        ragged: only None/False is supported.

    Returns:
        A torch tensor (a symbolic tensor inside a functional model).

    Raises:
        ArgumentError: ``sparse`` or ``ragged`` was requested.
    """
    if sparse or ragged:
        raise ArgumentError(
            "keras.ops.convert_to_tensor: sparse and ragged tensors are not available in "
            f"epochal.keras. Received: sparse={sparse!r}, ragged={ragged!r}"
        )
    return tensor(x, dtype)


def convert_to_numpy(x: Any) -> np.ndarray:
    """``x`` as a numpy array (detached, on the CPU; bfloat16 becomes float32)."""
    if isinstance(x, np.ndarray):
        return x
    if is_symbolic(x):
        raise ArgumentTypeError(
            "keras.ops.convert_to_numpy: a symbolic tensor (an input of a functional model) has "
            "no values; call it on the model's outputs instead"
        )
    t = tensor(x).detach()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.cpu().numpy()


def cast(x: Any, dtype: Any) -> Any:
    """``x`` converted to ``dtype`` (a Keras dtype name, torch or numpy dtype)."""
    target = to_dtype(dtype, "cast")
    x = tensor(x)
    return x if x.dtype == target else x.to(target)


def dtype(x: Any) -> str:
    """The Keras name of ``x``'s dtype (``"float32"``, ``"int64"``, ...)."""
    return dtype_name(tensor(x).dtype)


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (or a functional model's symbolic tensor)."""
    return isinstance(x, Tensor) or is_symbolic(x)


def shape(x: Any) -> tuple[int | None, ...]:
    """``x``'s shape as a tuple (None for unknown axes of a symbolic tensor)."""
    return tuple(tensor(x).shape)


def ndim(x: Any) -> int:
    """The number of axes of ``x``."""
    return len(shape(x))


def size(x: Any) -> int:
    """The number of elements of ``x``."""
    return int(np.prod([d for d in shape(x) if d is not None], dtype=np.int64))


def stop_gradient(variable: Any) -> Any:
    """``variable`` cut from the autograd graph (``detach``)."""
    return torch.detach(tensor(variable))
