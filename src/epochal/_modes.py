"""Inference mode for a block of work, every submodule's own mode given back after.

`evaluate`, `predict`, input probes and the dry runs that build lazy layers
run the model in eval mode (dropout off, batch-norm statistics frozen).
Afterwards each submodule is back in the mode it was in, mixed modes
included (a frozen batch-norm layer the user keeps in eval mode inside a
training model stays so); submodules created during the block (a lazy
layer's children) take their parent's mode. A model already in eval mode
throughout is not switched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

__all__ = ["evaluating", "restore_modes"]


def restore_modes(module: nn.Module, modes: dict[nn.Module, bool], inherited: bool) -> None:
    """Set each submodule's mode from ``modes``; one not in it takes its parent's."""
    mode = modes.get(module, inherited)
    module.training = mode
    for child in module.children():
        restore_modes(child, modes, mode)


@contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """``module.eval()`` for the block; every submodule's mode as it was after."""
    modes = {sub: sub.training for sub in module.modules()}
    if any(modes.values()):
        module.eval()  # through the model's own eval/train, if it has one
    try:
        yield
    finally:
        restore_modes(module, modes, modes[module])
