"""Dry runs: one forward on a zero batch, to build lazy layers or read output shapes.

A dry run never trains: it runs in eval mode (dropout off, batch-norm
statistics frozen) under ``torch.no_grad()`` and puts every module's
train/eval flag back afterwards -- modules created during the run (a lazy
layer's children) take their parent's flag.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from epochal._modes import evaluating, submodules
from epochal.layers._base import Layer, Shape
from epochal.layers._core import Embedding, InputLayer

# Stand-ins for variable-size (None) axes of an input shape.
NONE_FILL = 64


def is_built(module: nn.Module) -> bool:
    """Whether every lazy layer inside ``module`` has its parameters.

    Counts epochal's lazy layers and torch's own lazy modules (``nn.LazyLinear``, ...).

    Example:
        >>> from epochal.layers import Dense
        >>> is_built(Dense(3)), is_built(Dense(3, input_shape=(4,)))
        (False, True)
    """
    for sub in module.modules():
        if isinstance(sub, Layer) and not sub.built:
            return False
    return not any(isinstance(p, nn.parameter.UninitializedParameter) for p in module.parameters())


def _first_leaf(module: nn.Module) -> nn.Module:
    while True:
        child = next(iter(module.children()), None)
        if child is None or isinstance(module, Layer):
            return module
        module = child


def input_dtype(module: nn.Module) -> torch.dtype:
    """The dtype of a dry-run input: integer ids for an embedding first, else the module's float."""
    declared = getattr(module, "input_dtype", None)  # a SequentialModule's Input(dtype=...)
    if isinstance(declared, torch.dtype):
        return declared
    first = _first_leaf(module)
    if isinstance(first, InputLayer) and first.dtype is not None:
        return first.dtype
    if isinstance(first, (Embedding, nn.Embedding)):
        return torch.long
    return reference_float(module)[1]


def reference_float(module: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and dtype of the module's first floating tensor (CPU, default dtype if none)."""
    # The modules' own tables rather than parameters()/buffers(): the same
    # tensors in the same order, without building their names (this runs
    # at every fit/evaluate/predict call).
    subs = submodules(module)
    for table in ("_parameters", "_buffers"):
        for sub in subs:
            for tensor in sub.__dict__[table].values():
                if (
                    tensor is not None
                    and tensor.is_floating_point()
                    and not nn.parameter.is_lazy(tensor)
                ):
                    return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def zero_batch(module: nn.Module, shape: Shape, *, batch: int, fill: int = NONE_FILL) -> Tensor:
    """Zeros of shape ``(batch, *shape)`` (None axes of size ``fill``) for ``module``."""
    device, _ = reference_float(module)
    sizes = (batch, *(fill if d is None else d for d in shape))
    return torch.zeros(sizes, dtype=input_dtype(module), device=device)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restores torch's global CPU RNG, and the CUDA ones if initialized, on exit."""
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def eval_forward(module: nn.Module, x: Any) -> Any:
    """``module(x)`` in eval mode without gradients; train/eval flags restored after."""
    with evaluating(module), torch.no_grad():
        return module(x)
