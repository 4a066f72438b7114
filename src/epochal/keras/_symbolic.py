"""Symbolic tensors: ``keras.Input`` and the calls recorded on it (the functional API).

A `KerasTensor` stands for a batch that does not exist yet: it has a shape
(``None`` for the batch axis and other variable axes), a dtype, and the
`Node` that produced it. Calling a layer (any epochal layer, a
``keras.layers.Layer`` subclass, a model) on KerasTensors records a module
call; a torch function or tensor method applied to one (``torch.cat``,
``x + 1``, ``x.reshape(...)``, and so ``keras.ops``) is recorded through
``__torch_function__``. Nothing is computed: output shapes come from running
the call on meta tensors, twice, with different stand-in sizes for the
variable axes -- an output axis whose size differs between the runs is
variable (``None``). Lazy layers are built first, drawing their initial
weights as an eager first call would.

`keras.Model(inputs, outputs)` walks the recorded nodes back from the outputs
and emits them as a ``torch.fx`` graph (see `epochal.keras.functional`).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils import _pytree as pytree

from epochal._modes import evaluating
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.layers import _base
from epochal.layers import _checks as checks
from epochal.layers._base import Layer
from epochal.layers._core import InputLayer
from epochal.layers._dryrun import is_built, preserved_rng

__all__ = ["Input", "KerasTensor", "Node", "is_symbolic", "symbolic_call"]

DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}

# Stand-in sizes for variable axes in the two meta runs of a call.
_FILLS = (8, 13)
# The size of variable axes when a lazy module must be built by a real forward.
_BUILD_FILL = 2

_SERIAL = itertools.count()


@dataclass(eq=False)
class Node:
    """One recorded call: an input, a module call, a torch function or a tensor method.

    ``args``/``kwargs`` hold KerasTensors where the call took symbolic
    tensors; ``outputs`` is the call's result with KerasTensors in it.
    """

    kind: str  # "input", "module", "function" or "method"
    target: Any  # the InputLayer, the module, the function, or the method name
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    outputs: Any = None
    # Creation order: a node is always made after the nodes it reads.
    serial: int = field(default_factory=lambda: next(_SERIAL))

    def parents(self) -> Iterator[KerasTensor]:
        """The KerasTensors this call read."""
        for leaf in pytree.tree_leaves((self.args, self.kwargs)):
            if isinstance(leaf, KerasTensor):
                yield leaf


class KerasTensor:
    """A symbolic batch: shape (``None`` where variable), dtype, and the call that made it.

    Use it as Keras's: call layers on it, apply torch functions, tensor
    methods, operators or ``keras.ops`` to it, and pass the results to
    ``keras.Model(inputs, outputs)``. It holds no values: ``bool()``,
    iteration and ``numpy()`` raise.

    Example:
        >>> from epochal import keras
        >>> x = keras.Input(shape=(10,))
        >>> (x * 2).shape
        (None, 10)
    """

    __slots__ = ("__weakref__", "_node", "_path", "dtype", "name", "shape")

    def __init__(
        self,
        shape: tuple[int | None, ...],
        dtype: torch.dtype,
        node: Node,
        path: tuple[Any, ...] = (),
        name: str | None = None,
    ) -> None:
        self.shape: tuple[int | None, ...] = tuple(shape)
        self.dtype = dtype
        self._node = node
        self._path = path
        self.name = name

    @property
    def ndim(self) -> int:
        """The number of axes, the batch axis included."""
        return len(self.shape)

    def size(self, dim: int | None = None) -> Any:
        """``shape`` or ``shape[dim]`` (``None`` for a variable axis)."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        """The number of axes (as ``torch.Tensor.dim``)."""
        return len(self.shape)

    def __repr__(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        name = f", name={self.name}" if self.name else ""
        return f"<KerasTensor shape={self.shape}, dtype={dtype}{name}>"

    __hash__ = object.__hash__

    @classmethod
    def __torch_function__(
        cls,
        func: Callable[..., Any],
        types: Any,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        return record_function(func, tuple(args), kwargs or {})

    def __getattr__(self, name: str) -> Any:
        method = getattr(torch.Tensor, name, None)
        if name.startswith("_") or not callable(method):
            raise AttributeError(
                f"A KerasTensor (a symbolic batch) has no attribute {name!r}: it holds no "
                "values; it takes layers, torch functions, tensor methods and keras.ops"
            )

        def call(*args: Any, **kwargs: Any) -> Any:
            return record_function(method, (self, *args), kwargs)

        return call

    def __bool__(self) -> bool:
        raise TypeError(
            "A KerasTensor (a symbolic batch) has no truth value: its values exist only when "
            "the model runs. Use torch.where / keras.ops.where for a data-dependent choice"
        )

    def __iter__(self) -> Iterator[Any]:
        raise TypeError(
            "A KerasTensor (a symbolic batch) cannot be iterated: index it (x[:, 0]) or use "
            "torch.unbind / keras.ops.unstack"
        )

    def __len__(self) -> int:
        raise TypeError("A KerasTensor (a symbolic batch) has no len(): read x.shape instead")

    def numpy(self) -> Any:
        """Raises: a symbolic batch holds no values."""
        raise TypeError(
            "A KerasTensor (a symbolic batch) holds no values: build a keras.Model with it "
            "and call the model on data"
        )

    __array__ = numpy


def _binary(name: str, *, reverse: bool = False) -> Callable[..., Any]:
    method = getattr(torch.Tensor, name)

    def op(self: KerasTensor, other: Any) -> Any:
        return record_function(method, (self, other), {})

    op.__name__ = name
    return op


def _unary(name: str) -> Callable[..., Any]:
    method = getattr(torch.Tensor, name)

    def op(self: KerasTensor) -> Any:
        return record_function(method, (self,), {})

    op.__name__ = name
    return op


_BINARY = (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
    "and", "or", "xor", "lshift", "rshift",
)  # fmt: skip
for _name in _BINARY:
    setattr(KerasTensor, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(KerasTensor, f"__r{_name}__", _binary(f"__r{_name}__"))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(KerasTensor, f"__{_name}__", _binary(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(KerasTensor, f"__{_name}__", _unary(f"__{_name}__"))
setattr(KerasTensor, "__getitem__", _binary("__getitem__"))  # noqa: B010
# __eq__ is recorded (x == 0 is a graph op), so hashing stays by identity.
setattr(KerasTensor, "__hash__", object.__hash__)  # noqa: B010


def is_symbolic(args: Any, kwargs: Any) -> bool:
    """Whether a call's arguments hold a KerasTensor (at any depth of lists, tuples, dicts)."""
    return any(isinstance(leaf, KerasTensor) for leaf in pytree.tree_leaves((args, kwargs)))


# -- running a call on meta tensors ------------------------------------------------------


def _meta_of(value: Any, fill: int) -> Any:
    if isinstance(value, KerasTensor):
        sizes = [fill if d is None else d for d in value.shape]
        return torch.empty(sizes, dtype=value.dtype, device="meta")
    if isinstance(value, Tensor):
        return value.detach().to("meta")
    return value


def _symbolic_outputs(first: Any, second: Any, node: Node, what: str) -> Any:
    """KerasTensors for the tensors in a meta run's result (axes that differ are None)."""
    flat_a, spec = pytree.tree_flatten(first)
    flat_b, spec_b = pytree.tree_flatten(second)
    if spec != spec_b or len(flat_a) != len(flat_b):
        raise ArgumentError(f"{what}: its output structure depends on the batch size")
    leaves: list[Any] = []
    for index, (a, b) in enumerate(zip(flat_a, flat_b, strict=True)):
        if isinstance(a, Tensor):
            shape = tuple(
                None if da != db else int(da) for da, db in zip(a.shape, b.shape, strict=True)
            )
            path = (
                _path_of(first, index)
                if spec.num_leaves > 1 or not isinstance(first, Tensor)
                else ()
            )
            leaves.append(KerasTensor(shape, a.dtype, node, path))
        elif a == b:
            leaves.append(a)
        else:
            raise ArgumentError(
                f"{what}: returned {a!r} on a symbolic batch, a value that depends on the "
                "batch's size. Read sizes from x.shape (None where variable) instead"
            )
    return pytree.tree_unflatten(leaves, spec)


def _path_of(tree: Any, index: int) -> tuple[Any, ...]:
    """The keys leading to the ``index``-th leaf of ``tree`` (its getitem path)."""
    paths, _ = pytree.tree_flatten_with_path(tree)
    keys = []
    for entry in paths[index][0]:
        key = getattr(entry, "key", getattr(entry, "idx", None))
        keys.append(key)
    return tuple(keys)


def _describe(func: Any) -> str:
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    module = getattr(func, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def record_function(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record ``func(*args, **kwargs)`` on symbolic tensors; returns symbolic results."""
    what = _describe(func)
    for leaf in pytree.tree_leaves((args, kwargs)):
        if isinstance(leaf, nn.Parameter):
            raise ArgumentTypeError(
                f"{what} was applied to a symbolic tensor with a parameter of a torch.nn.Module "
                "as an argument: calling a plain torch module on keras.Input cannot be recorded. "
                "Wrap it: keras.layers.TorchModuleWrapper(module)(x)"
            )
    runs = []
    with torch.no_grad(), preserved_rng():
        for fill in _FILLS:
            meta_args, meta_kwargs = pytree.tree_map(
                lambda v, fill=fill: _meta_of(v, fill), (args, kwargs)
            )
            try:
                runs.append(func(*meta_args, **meta_kwargs))
            except Exception as exc:
                raise ArgumentError(
                    f"{what} failed on symbolic inputs {_shapes_text(args, kwargs)}: {exc}"
                ) from exc
    kind, target = _function_target(func)
    node = Node(kind, target, args, dict(kwargs))
    node.outputs = _symbolic_outputs(runs[0], runs[1], node, what)
    return node.outputs


_OPERATORS: dict[str, tuple[Callable[..., Any], bool]] = {
    "__getitem__": (operator.getitem, False),
    "__neg__": (operator.neg, False),
    "__pos__": (operator.pos, False),
    "__abs__": (operator.abs, False),
    "__invert__": (operator.invert, False),
    "__lt__": (operator.lt, False),
    "__le__": (operator.le, False),
    "__gt__": (operator.gt, False),
    "__ge__": (operator.ge, False),
    "__eq__": (operator.eq, False),
    "__ne__": (operator.ne, False),
}
for _name in _BINARY:
    _fn = getattr(operator, _name if _name not in ("and", "or") else f"{_name}_")
    _OPERATORS[f"__{_name}__"] = (_fn, False)
    _OPERATORS[f"__r{_name}__"] = (_fn, True)


def _function_target(func: Callable[..., Any]) -> tuple[str, Any]:
    """How the graph calls ``func``: an operator, a tensor method by name, or the function."""
    name = getattr(func, "__name__", None)
    if name is not None and getattr(torch.Tensor, name, None) is func:
        if name in _OPERATORS:
            op, reverse = _OPERATORS[name]
            return ("rfunction" if reverse else "function"), op
        return "method", name
    return "function", func


def _shapes_text(args: Any, kwargs: Any) -> str:
    shapes = [
        str(leaf.shape)
        for leaf in pytree.tree_leaves((args, kwargs))
        if isinstance(leaf, KerasTensor)
    ]
    return ", ".join(shapes)


# -- module calls -----------------------------------------------------------------------


def _ensure_module_built(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Build ``module``'s lazy layers for these symbolic inputs, as an eager first call would."""
    if is_built(module):
        return
    tensors = [leaf for leaf in pytree.tree_leaves((args, kwargs)) if isinstance(leaf, KerasTensor)]
    if (
        isinstance(module, Layer)
        and type(module)._build is not Layer._build
        and len(tensors) == 1
        and not any(True for _ in itertools.islice(module.children(), 1))
    ):
        # A plain lazy layer builds from the input's channel count: nothing to compute.
        x = tensors[0]
        channels = x.shape[module._channel_axis]
        if channels is None:
            raise ArgumentError(
                f"{type(module).__name__}: expected the channel axis of its input to have a "
                f"known size. Received: an input of shape {x.shape}"
            )
        dtype = x.dtype if x.dtype.is_floating_point else torch.get_default_dtype()
        module._build(channels, device=torch.device("cpu"), dtype=dtype, initialize=True)
        return
    # Anything else builds by one real forward on a small zero batch (eval mode, no grad).
    zeros_args, zeros_kwargs = pytree.tree_map(_zeros_of, (args, kwargs))
    with evaluating(module), torch.no_grad():
        module(*zeros_args, **zeros_kwargs)


def _zeros_of(value: Any) -> Any:
    if isinstance(value, KerasTensor):
        sizes = [_BUILD_FILL if d is None else d for d in value.shape]
        return torch.zeros(sizes, dtype=value.dtype)
    return value


def symbolic_call(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record ``module(*args, **kwargs)`` on symbolic inputs; returns symbolic outputs.

    Builds the module's lazy layers first, then infers output shapes on meta
    tensors (the module's own weights untouched).

    Raises:
        ArgumentError: the call fails on inputs of these shapes (the message says why).
    """
    what = f"{type(module).__name__}" + (
        f" {module.name!r}" if isinstance(getattr(module, "name", None), str) else ""
    )
    try:
        _ensure_module_built(module, args, kwargs)
    except (ArgumentError, ArgumentTypeError):
        raise
    except Exception as exc:
        raise ArgumentError(
            f"{what} cannot be called on symbolic inputs {_shapes_text(args, kwargs)}: {exc}"
        ) from exc
    state = {
        name: torch.empty_like(t, device="meta")
        for name, t in itertools.chain(
            module.named_parameters(remove_duplicate=False),
            module.named_buffers(remove_duplicate=False),
        )
    }
    runs = []
    with torch.no_grad(), preserved_rng():
        for fill in _FILLS:
            meta_args, meta_kwargs = pytree.tree_map(
                lambda v, fill=fill: _meta_of(v, fill), (args, kwargs)
            )
            try:
                runs.append(
                    torch.func.functional_call(
                        module, state, meta_args, meta_kwargs, tie_weights=False, strict=False
                    )
                )
            except (ArgumentError, ArgumentTypeError):
                raise
            except Exception as exc:
                raise ArgumentError(
                    f"{what} cannot be called on symbolic inputs {_shapes_text(args, kwargs)}: {exc}"
                ) from exc
    node = Node("module", module, args, dict(kwargs))
    node.outputs = _symbolic_outputs(runs[0], runs[1], node, what)
    calls = module.__dict__.setdefault("_keras_calls", [])
    calls.append(node)
    return node.outputs


# The base Layer's __call__ asks this hook; importing this module installs it.
_base.SYMBOLIC_HOOK = (is_symbolic, symbolic_call)


# -- keras.Input --------------------------------------------------------------------------


def Input(
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    dtype: str | torch.dtype | None = None,
    sparse: bool | None = None,
    batch_shape: Sequence[int | None] | None = None,
    name: str | None = None,
    tensor: Any = None,
    optional: bool = False,
) -> KerasTensor:
    """Keras's ``Input``: a symbolic batch to build a functional model from.

    Also the first entry of a ``keras.Sequential`` list, where it declares the input.

    Args:
        shape: the shape without the batch axis, e.g. ``(784,)``; ``None`` for a
            variable axis, e.g. ``(None, 16)`` for sequences of any length.
        batch_size: a fixed batch size (default: any).
        dtype: a Keras dtype name (``"float32"``, ``"int32"``, ...) or a torch dtype
            (default: torch's default float dtype).
        sparse: accepted for Keras compatibility; only ``False``/``None``.
        batch_shape: Keras's alternative to ``shape``, with the batch axis first.
        name: the input's name: the key of this input when data is a dict.
        tensor: not supported (Keras's wrapping of an existing tensor).
        optional: not supported (Keras's optional inputs).

    Returns:
        A `KerasTensor` of shape ``(batch_size, *shape)``.

    Raises:
        ArgumentError: neither or both of ``shape`` and ``batch_shape``, a bad
            size, an unknown dtype name, or an unsupported option.

    Example:
        >>> from epochal import keras
        >>> keras.Input(shape=(28, 28, 1), name="image")
        <KerasTensor shape=(None, 28, 28, 1), dtype=float32, name=image>
    """
    if (shape is None) == (batch_shape is None):
        raise ArgumentError(
            "Input: expected exactly one of `shape` and `batch_shape`. "
            f"Received: shape={shape!r}, batch_shape={batch_shape!r}"
        )
    if sparse or tensor is not None or optional:
        raise ArgumentError(
            "Input: `sparse`, `tensor` and `optional` are not available in epochal.keras. "
            f"Received: sparse={sparse!r}, tensor={tensor!r}, optional={optional!r}"
        )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
    ):
        raise ArgumentError(
            "Input: expected `batch_size` to be a positive int or None. "
            f"Received: batch_size={batch_size!r}"
        )
    if batch_shape is not None:
        if (
            isinstance(batch_shape, (str, bytes))
            or not isinstance(batch_shape, Sequence)
            or not batch_shape
        ):
            raise ArgumentError(
                "Input: expected `batch_shape` to be a non-empty tuple. "
                f"Received: batch_shape={batch_shape!r}"
            )
        batch_size = batch_shape[0]
        shape = tuple(batch_shape)[1:]
    dims = _dims(shape)
    torch_dtype = _dtype(dtype)
    checks.layer_name("Input", name)
    layer = InputLayer(dims, dtype=torch_dtype, name=name)
    node = Node("input", layer)
    tensor_ = KerasTensor(
        (batch_size, *dims), torch_dtype or torch.get_default_dtype(), node, name=name
    )
    node.outputs = tensor_
    layer.__dict__["_keras_calls"] = [node]
    return tensor_


def _dims(shape: Any) -> tuple[int | None, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise ArgumentError(
            f"Input: expected `shape` to be a tuple of ints. Received: shape={shape!r}"
        )
    dims: list[int | None] = []
    for d in shape:
        if d is None:
            dims.append(None)
        elif isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise ArgumentError(
                "Input: expected `shape` to hold non-negative ints or None. "
                f"Received: shape={tuple(shape)!r}"
            )
        else:
            dims.append(int(d))
    return tuple(dims)


def _dtype(dtype: Any) -> torch.dtype | None:
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ArgumentError(
                f"Input: unknown dtype {dtype!r}. Expected one of: {', '.join(DTYPES)}, "
                "or a torch.dtype"
            )
        return DTYPES[dtype]
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    raise ArgumentTypeError(
        f"Input: expected `dtype` to be a dtype name or a torch.dtype. Received: dtype={dtype!r}"
    )
