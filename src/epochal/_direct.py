"""A model's forward through its layers' ``forward`` directly, where no one can tell.

``module(x)`` goes through torch's ``_call_impl``: it looks for hooks and a
tracer, then calls ``module.forward(x)``. That costs a microsecond or two a
layer a step, a third of a small model's forward. For a module whose class
keeps torch's ``__call__``, with no hooks of its own, no global hooks, no
tracer running and no ``module.compile()``, torch itself calls nothing but
``module.forward(x)``; a ``nn.Sequential`` (its ``forward`` torch's own) is
then the loop over its layers, so nested Sequentials flatten into one list.

`Forward` is the engine's forward (the loop's, and the training step's):
the same layers, called directly while `Forward.direct` is on, through
``__call__`` otherwise. The loop turns it on for an epoch, an evaluation or
a prediction, after looking at the hooks, and looks again after every batch
callback (a callback may register a hook); anything else that calls the
forward (``train_on_batch``, a user holding it) goes through ``__call__``.
Under ``compile=True`` the engine keeps the ``__call__`` path (`Forward.slow`)
for torch.compile to trace: it inlines the calls anyway, and a function
switched between calls would make it compile again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as _module_globals

from epochal._tree import call_module

__all__ = ["Forward", "direct_calls", "hooked", "hooks_active", "look_again", "plain"]

Fn = Callable[..., Any]

_CALL = nn.Module.__call__
_CALL_IMPL = nn.Module._call_impl
_SEQUENTIAL_FORWARD = nn.Sequential.forward


def hooks_active() -> bool:
    """Whether a global module hook is set or a tracer runs: every call then goes through ``__call__``."""
    g = _module_globals
    return bool(
        g._global_forward_hooks
        or g._global_forward_pre_hooks
        or g._global_backward_hooks
        or g._global_backward_pre_hooks
        or torch._C._get_tracing_state()
    )


def hooked(module: nn.Module) -> bool:
    """Whether ``module`` has hooks of its own or was compiled with ``module.compile()``."""
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
        or module._compiled_call_impl is not None
    )


def plain(module: nn.Module) -> bool:
    """Whether ``module(...)`` is exactly ``module.forward(...)`` (global hooks aside)."""
    cls = type(module)
    return cls.__call__ is _CALL and cls._call_impl is _CALL_IMPL and not hooked(module)


def _steps(module: nn.Module, out: list[Fn]) -> None:
    """Append the calls ``module(x)`` makes, one argument in, one out, plain Sequentials opened."""
    if not plain(module):
        out.append(module)
    elif (
        type(module).forward is _SEQUENTIAL_FORWARD
        and "forward" not in module.__dict__
        and None not in module._modules.values()
    ):
        for layer in module._modules.values():
            assert layer is not None
            _steps(layer, out)
    else:
        out.append(module.forward)


def _chain(fns: Sequence[Fn], spread: bool) -> Fn:
    """One function calling ``fns`` in turn; with ``spread`` the first takes a tuple/dict input spread."""
    first, rest = fns[0], tuple(fns[1:])
    if not rest:
        return (lambda x: call_module(first, x)) if spread else first
    if spread:

        def run_spread(x: Any) -> Any:
            x = call_module(first, x)
            for fn in rest:
                x = fn(x)
            return x

        return run_spread

    def run(x: Any) -> Any:
        x = first(x)
        for fn in rest:
            x = fn(x)
        return x

    return run


class Forward:
    """``layers`` called in turn, then ``last``: through ``__call__``, or directly while `direct` is on.

    ``spread``: the input of the first layer is spread the way multi-input data
    asks (a tuple positionally, a dict by keyword), as `epochal._tree.call_module`.
    """

    def __init__(
        self, layers: Sequence[nn.Module], last: Fn | None = None, *, spread: bool = False
    ) -> None:
        self.layers = list(layers)
        self.last = last
        self.spread = spread
        self.slow: Fn = self._build(direct=False)  # every layer through __call__
        self.call: Fn = self.slow
        self.depth = 0  # `direct` blocks open (an evaluate inside a training epoch: two)

    def __call__(self, x: Any) -> Any:
        return self.call(x)

    def _build(self, *, direct: bool) -> Fn:
        fns: list[Fn] = []
        for layer in self.layers:
            if direct:
                _steps(layer, fns)
            else:
                fns.append(layer)
        if self.last is not None:
            fns.append(self.last)
        if not fns:
            return lambda x: x
        return _chain(fns, self.spread)

    def look(self) -> None:
        """Call the layers directly where nothing would notice (hooks looked at now)."""
        self.call = self.slow if hooks_active() else self._build(direct=True)

    def direct(self) -> _Direct:
        """Direct calls for the block (`look` again after user code runs inside it)."""
        return _Direct(self)


class _Direct:
    """The context of `Forward.direct` (a class: cheaper than a generator, entered every call)."""

    __slots__ = ("_forward",)

    def __init__(self, forward: Forward | None) -> None:
        self._forward = forward

    def __enter__(self) -> None:
        forward = self._forward
        if forward is not None:
            forward.depth += 1
            forward.look()

    def __exit__(self, *exc: object) -> None:
        forward = self._forward
        if forward is not None:
            forward.depth -= 1
            if forward.depth:  # back in an outer block, after user code: look again
                forward.look()
            else:
                forward.call = forward.slow


def look_again(forward: Any) -> None:
    """`Forward.look` for an engine's forward inside a `direct` block (after a callback ran)."""
    if isinstance(forward, Forward) and forward.depth:
        forward.look()


def direct_calls(forward: Any) -> _Direct:
    """`Forward.direct` for a forward that is a `Forward`; any other callable is left alone."""
    return _Direct(forward if isinstance(forward, Forward) else None)
