"""Inference mode for a block of work, every submodule's own mode given back after.

`evaluate` and `predict` run the model in eval mode (dropout off, batch-norm
statistics frozen). Afterwards each submodule is back in the mode it was in,
mixed modes included (a frozen batch-norm layer the user keeps in eval mode
inside a training model stays so). A model already in eval mode throughout
is left untouched: nothing to switch, nothing to restore.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

__all__ = ["evaluating"]


@contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """``module.eval()`` for the block; the submodules that were training train again after."""
    training = [sub for sub in module.modules() if sub.training]
    if training:
        module.eval()  # through the model's own eval/train, if it has one
    try:
        yield
    finally:
        for sub in training:
            sub.training = True
