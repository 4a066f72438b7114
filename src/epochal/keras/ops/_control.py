"""Keras's control-flow ops, run eagerly (as Keras's torch backend runs them): Python loops and branches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from epochal.errors import ArgumentTypeError
from epochal.keras.ops._convert import is_symbolic, tensor


def _eager(owner: str, *values: Any) -> None:
    if any(is_symbolic(v) for v in values):
        raise ArgumentTypeError(
            f"keras.ops.{owner} runs Python control flow on values, which a functional model's "
            "symbolic tensors do not have: use it inside a keras.layers.Layer's call(), or use "
            "keras.ops.where for a data-dependent choice"
        )


def _callable(owner: str, name: str, fn: Any) -> None:
    if not callable(fn):
        raise ArgumentTypeError(
            f"keras.ops.{owner}: expected `{name}` to be callable. Received: {fn!r}"
        )


def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    """``true_fn()`` if ``pred`` holds, else ``false_fn()``."""
    _callable("cond", "true_fn", true_fn)
    _callable("cond", "false_fn", false_fn)
    _eager("cond", pred)
    return true_fn() if bool(tensor(pred)) else false_fn()


def fori_loop(lower: int, upper: int, body_fun: Callable[[int, Any], Any], init_val: Any) -> Any:
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``, starting from ``init_val``."""
    _callable("fori_loop", "body_fun", body_fun)
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(
    cond: Callable[..., Any],
    body: Callable[..., Any],
    loop_vars: Any,
    maximum_iterations: int | None = None,
) -> Any:
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds (at most ``maximum_iterations`` times)."""
    _callable("while_loop", "cond", cond)
    _callable("while_loop", "body", body)
    single = not isinstance(loop_vars, (list, tuple))
    state = (loop_vars,) if single else tuple(loop_vars)
    count = 0
    while (maximum_iterations is None or count < maximum_iterations) and bool(tensor(cond(*state))):
        out = body(*state)
        state = (out,) if single else tuple(out)
        count += 1
    return state[0] if single else type(loop_vars)(state)


def scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int = 1,
) -> tuple[Any, Any]:
    """``carry, y = f(carry, x)`` over the first axis of ``xs``; returns the last carry and the stacked ``y``."""
    _callable("scan", "f", f)
    if xs is None:
        items: Sequence[Any] = [None] * int(length or 0)
    else:
        xs = tensor(xs)
        _eager("scan", xs)
        items = list(torch.unbind(xs, dim=0))
    if reverse:
        items = items[::-1]
    carry, ys = init, []
    for x in items:
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    stacked = torch.stack([tensor(y) for y in ys]) if ys and ys[0] is not None else None
    return carry, stacked


def map(f: Callable[[Any], Any], xs: Any) -> Any:
    """``f`` applied to each slice of ``xs`` along its first axis, results stacked."""
    _callable("map", "f", f)
    xs = tensor(xs)
    _eager("map", xs)
    return torch.stack([tensor(f(x)) for x in torch.unbind(xs, dim=0)])


def vectorized_map(function: Callable[[Any], Any], elements: Any) -> Any:
    """``function`` applied to each slice of ``elements`` along its first axis, results stacked."""
    _callable("vectorized_map", "function", function)
    if isinstance(elements, (list, tuple)):
        parts = [tensor(e) for e in elements]
        return torch.stack(
            [
                tensor(function(type(elements)(row)))
                for row in zip(*(torch.unbind(p, 0) for p in parts), strict=True)
            ]
        )
    return map(function, elements)
