"""Eval mode for a block of work, every submodule's own mode given back after.

`evaluate`, `predict`, input probes and the dry runs that build lazy layers
run the model in eval mode (dropout off, batch-norm statistics frozen).
Afterwards each submodule is back in the mode it was in, mixed modes
included (a frozen batch-norm layer the user keeps in eval mode inside a
training model stays so); submodules created during the block (a lazy
layer's children) take their parent's mode. A model already in eval mode
throughout is not switched.

``evaluating(module, grad=False)`` also turns autograd off for the block:
``torch.inference_mode()`` where that cannot leak (see `keeps_nothing`),
``torch.no_grad()`` elsewhere. A tensor made in inference mode can never
join autograd later; a model that keeps a tensor from its forward (a cache,
a recorded activation, a hook's capture) would fail in the next training
step if that tensor were one, so only modules known to keep nothing get it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import torch
from torch import nn

from epochal._direct import hooked, hooks_active

__all__ = ["evaluating", "keeps_nothing", "restore_modes", "submodules"]

_SET_ATTR = nn.Module.__setattr__
_LAZY = nn.modules.lazy.LazyModuleMixin
_TRAIN = nn.Module.train

# Classes whose calls leave no tensor behind in eval mode: torch.nn's own
# modules (but the recurrent ones: on CUDA their forward re-flattens the
# weights) and epochal's layers (they build their weights outside inference
# mode). Decided once a class.
_KEEPS_NOTHING: dict[type, bool] = {}


def _class_keeps_nothing(cls: type) -> bool:
    known = _KEEPS_NOTHING.get(cls)
    if known is None:
        where = cls.__module__ or ""
        known = (
            where.startswith("torch.nn.modules.") and not issubclass(cls, nn.RNNBase)
        ) or where.startswith("epochal.layers.")
        _KEEPS_NOTHING[cls] = known
    return known


def keeps_nothing(modules: list[nn.Module]) -> bool:
    """Whether calling these modules in eval mode can leave no tensor behind.

    True when each is of a class in `_KEEPS_NOTHING`, has no hooks (user code),
    is not compiled with ``module.compile()``, and has all its weights (a lazy
    module would make them during the call), and no global hook is set.
    """
    if hooks_active():
        return False
    for sub in modules:
        if not _class_keeps_nothing(type(sub)):
            return False
        if hooked(sub) or sub.__dict__.get("built", True) is False:  # (getattr raises in torch)
            return False
        if isinstance(sub, _LAZY) and sub.has_uninitialized_params():
            return False
    return True


def submodules(module: nn.Module) -> list[nn.Module]:
    """``list(module.modules())``: the same modules in the same order, without building names."""
    out = [module]
    seen = {id(module)}
    stack = [iter(module._modules.values())]
    while stack:
        child = next(stack[-1], _END)
        if child is _END:
            stack.pop()
        elif child is not None and id(child) not in seen:
            seen.add(id(child))
            out.append(child)
            stack.append(iter(child._modules.values()))
    return out


_END: Any = object()


def restore_modes(module: nn.Module, modes: dict[nn.Module, bool], inherited: bool) -> None:
    """Set each submodule's mode from ``modes``; one not in it takes its parent's."""
    mode = modes.get(module, inherited)
    module.training = mode
    for child in module.children():
        restore_modes(child, modes, mode)


def _set_training(sub: nn.Module, mode: bool) -> None:
    if type(sub).__setattr__ is _SET_ATTR:
        sub.__dict__["training"] = mode  # what Module.__setattr__ does for a bool
    else:
        sub.training = mode


def _set_modes(subs: list[nn.Module], modes: list[bool]) -> None:
    for sub, mode in zip(subs, modes, strict=True):
        if sub.training != mode:
            _set_training(sub, mode)


class evaluating:
    """``with evaluating(module):`` eval mode for the block; every submodule's mode as it was after.

    With ``grad=False`` autograd is off in the block too: inference mode when
    ``inference`` allows it and the module `keeps_nothing`, no-grad otherwise.
    """

    __slots__ = ("_autograd", "_grad", "_inference", "_modes", "_module", "_subs")

    def __init__(self, module: nn.Module, *, grad: bool = True, inference: bool = False) -> None:
        self._module = module
        self._grad = grad
        self._inference = inference
        self._autograd: Any = None

    def __enter__(self) -> None:
        module = self._module
        subs = submodules(module)
        modes = [sub.training for sub in subs]
        self._subs, self._modes = subs, modes
        if True in modes:
            if all(type(sub).train is _TRAIN for sub in subs):
                for sub in subs:  # what module.eval() does
                    _set_training(sub, False)
            else:
                module.eval()  # through the model's own eval/train
        if not self._grad:
            inference = self._inference and keeps_nothing(subs)
            self._autograd = torch.inference_mode() if inference else torch.no_grad()
            self._autograd.__enter__()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._autograd is not None:
            self._autograd.__exit__(kind, error, trace)
            self._autograd = None
        module, subs, modes = self._module, self._subs, self._modes
        now = submodules(module)
        if len(now) == len(subs) and all(a is b for a, b in zip(now, subs, strict=True)):
            _set_modes(subs, modes)
        else:  # submodules came or went during the block
            restore_modes(module, dict(zip(subs, modes, strict=True)), modes[0])
