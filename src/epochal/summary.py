"""A Keras-like text summary of a module: layers, output shapes, parameter counts.

Example:
    >>> from epochal import layers
    >>> net = layers.SequentialModule([layers.Dense(128, input_shape=(10,))])
    >>> print(summarize(net))  # doctest: +SKIP
    Model: "SequentialModule"
    ________________________________________________________________________________
     Layer (type)                         Output Shape                       Param #
    ================================================================================
     dense (Dense)                        (None, 128)                          1,408
    ================================================================================
    Total params: 1,408
    ...
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from torch import Tensor, nn

from epochal.errors import ArgumentTypeError
from epochal.layers import _checks as checks
from epochal.layers._base import Layer, Shape, snake_case
from epochal.layers._dryrun import eval_forward, is_built, preserved_rng, zero_batch
from epochal.layers._sequential import SequentialModule

__all__ = ["Summary", "summarize"]


class Summary(str):
    """The summary table: a ``str`` that a notebook does not show a second time.

    ``Model.summary()`` prints the table and returns it, as Keras prints it;
    Jupyter would show the returned value again below the printed one, so
    its display hook shows nothing. ``print(s)`` and ``str`` uses are as usual.
    """

    __slots__ = ()

    def _ipython_display_(self) -> None:
        """Already printed by ``summary()``: nothing more to show."""


_UNBUILT_NOTE = "(unbuilt: call fit or give input_shape)"
# Two dry runs with different batch sizes and stand-ins for None axes: an
# output axis whose size differs between them is variable and shown as None.
_RUNS = ((2, 64), (3, 97))


def summarize(module: nn.Module, input_shape: Shape | None = None, *, line_length: int = 80) -> str:
    """A Keras-like table of ``module``'s layers with output shapes and parameter counts.

    Rows are the direct children of ``module`` (the layers of a
    :class:`~epochal.layers.SequentialModule`). Output shapes come from a dry
    run -- a forward on a zero batch in eval mode under ``torch.no_grad()`` --
    when the input shape is known (``input_shape``, or the container's own);
    otherwise they show as ``?``. The batch axis (and any axis that follows a
    variable-size input axis) shows as ``None``. Parameter counts follow Keras:
    floating-point buffers such as batch-norm moving statistics count as
    non-trainable parameters.

    Nothing changes: parameters, buffers, train/eval flags and torch's global
    RNG are as they were. A module with unbuilt lazy layers is summarized on a
    copy when ``input_shape`` is given; without it, unbuilt layers show ``?``
    and 0 parameters, with a note.

    Args:
        module: any ``torch.nn.Module``.
        input_shape: the input shape without the batch axis, e.g. ``(784,)``.
        line_length: the table width in characters (columns widen for long cells).

    Returns:
        The summary, lines joined with newlines (no trailing newline).

    Raises:
        ArgumentTypeError: ``module`` is not a module, or ``input_shape`` is not a tuple.
        ArgumentError: a malformed ``input_shape`` or ``line_length``.
    """
    if not isinstance(module, nn.Module):
        raise ArgumentTypeError(
            "summarize: expected `module` to be a torch.nn.Module. "
            f"Received: module={module!r} of type {type(module).__name__}"
        )
    shape = checks.shape("summarize", "input_shape", input_shape)
    line_length = checks.positive_int("summarize", "line_length", line_length)
    if shape is None and isinstance(module, (SequentialModule, Layer)):
        shape = module.input_shape

    target = module
    note = ""
    outputs: dict[str, str] = {}
    if shape is not None:
        with preserved_rng():
            if not is_built(module):
                # Building would change the module: build a copy instead.
                target = copy.deepcopy(module)
                note = f"(built on a copy for input_shape={shape}: the module itself is unbuilt)"
            outputs = _output_shapes(target, shape)

    name_attr = getattr(module, "name", None)
    title = name_attr if isinstance(name_attr, str) and name_attr else type(module).__name__
    rows = []
    unbuilt = False
    for name, child in target.named_children():
        child_built = is_built(child)
        unbuilt = unbuilt or not child_built
        total, _ = _count(child)
        label = f"{name} ({type(child).__name__})" + ("" if child_built else " *")
        rows.append((label, outputs.get(name, "?"), f"{total:,}"))
    if not rows:  # a single layer: one row for the module itself
        child_built = is_built(target)
        unbuilt = not child_built
        name = title if title != type(module).__name__ else snake_case(title)
        label = f"{name} ({type(target).__name__})" + ("" if child_built else " *")
        rows.append((label, outputs.get("", "?"), f"{_count(target)[0]:,}"))

    total, trainable = _count(target)
    lines = _table(title, rows, line_length)
    lines += [
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
    ]
    if unbuilt:
        lines.append(f"* {_UNBUILT_NOTE}")
    if note:
        lines.append(note)
    lines.append("_" * max(line_length, len(lines[1])))
    return Summary("\n".join(lines))


def _count(module: nn.Module) -> tuple[int, int]:
    """``(total, trainable)``: parameters plus floating buffers, shared tensors once."""
    seen: set[int] = set()
    total = trainable = 0
    for tensor in _weights(module):
        if id(tensor) in seen or nn.parameter.is_lazy(tensor):
            continue
        seen.add(id(tensor))
        total += tensor.numel()
        if isinstance(tensor, nn.Parameter) and tensor.requires_grad:
            trainable += tensor.numel()
    return total, trainable


def _weights(module: nn.Module) -> Iterable[Tensor]:
    yield from module.parameters()
    for sub in module.modules():
        persistent = [
            buf
            for name, buf in sub.named_buffers(recurse=False)
            if name not in sub._non_persistent_buffers_set
        ]
        yield from (b for b in persistent if b.is_floating_point())


def _output_shapes(module: nn.Module, shape: Shape) -> dict[str, str]:
    """Output shape text per direct child ("" is the module itself), from two dry runs."""
    runs: list[dict[str, Any]] = []
    for batch, fill in _RUNS:
        seen: dict[str, Any] = {}
        handles = [
            child.register_forward_hook(_recorder(seen, name))
            for name, child in module.named_children()
        ]
        try:
            output = eval_forward(module, zero_batch(module, shape, batch=batch, fill=fill))
            seen[""] = _shapes_of(output)
        finally:
            for handle in handles:
                handle.remove()
        runs.append(seen)
    first, second = runs
    return {name: _shape_text(first[name], second.get(name)) for name in first}


def _recorder(seen: dict[str, Any], name: str) -> Any:
    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        seen[name] = _shapes_of(output)

    return hook


def _shapes_of(output: Any) -> Any:
    """The shapes in a layer output (a tensor, or a tuple/list of them)."""
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return [_shapes_of(item) for item in output]
    return None


def _shape_text(first: Any, second: Any) -> str:
    if isinstance(first, tuple):
        if not isinstance(second, tuple) or len(second) != len(first):
            return str(first)
        dims = ["None" if a != b else str(a) for a, b in zip(first, second, strict=True)]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
    if isinstance(first, list):
        others = second if isinstance(second, list) and len(second) == len(first) else first
        return "[" + ", ".join(_shape_text(a, b) for a, b in zip(first, others, strict=True)) + "]"
    return "?"


def _table(title: str, rows: list[tuple[str, str, str]], line_length: int) -> list[str]:
    header = ("Layer (type)", "Output Shape", "Param #")
    widths = [int(line_length * 0.45), int(line_length * 0.35)]
    widths.append(line_length - sum(widths) - 1)
    for row in (header, *rows):
        widths = [max(w, len(cell) + 2) for w, cell in zip(widths, row, strict=True)]
    width = 1 + sum(widths)

    def line(cells: tuple[str, str, str]) -> str:
        name, out, params = cells
        return (
            " " + name.ljust(widths[0]) + out.ljust(widths[1]) + params.rjust(widths[2] - 1)
        ).rstrip()

    return [
        f'Model: "{title}"',
        "_" * width,
        line(header),
        "=" * width,
        *(line(row) for row in rows),
        "=" * width,
    ]


def connected_table(
    module: nn.Module,
    title: str,
    rows: list[tuple[str, str, int, list[str]]],
    *,
    line_length: int = 100,
) -> str:
    """A Keras-like summary of a graph model: one row per call, with a "Connected to" column.

    Args:
        module: the model (for the total parameter counts; shared layers count once).
        title: the model's name.
        rows: ``(label, output shape, parameter count, inbound calls)`` per call, in order;
            a call with several inbound tensors spans several lines.
        line_length: the table width in characters (columns widen for long cells).

    Returns:
        The summary, lines joined with newlines (no trailing newline).
    """
    header = ("Layer (type)", "Output Shape", "Param #", "Connected to")
    cells = [(label, shape, f"{params:,}", inbound) for label, shape, params, inbound in rows]
    fractions = (0.3, 0.25, 0.1)
    widths = [int(line_length * f) for f in fractions]
    widths.append(line_length - sum(widths) - 1)
    for label, shape, params, inbound in [(*header[:3], [header[3]]), *cells]:
        longest = max((len(s) for s in inbound), default=0)
        widths = [
            max(w, len(c) + 2)
            for w, c in zip(widths, (label, shape, params, "x" * longest), strict=True)
        ]
    width = 1 + sum(widths)

    def line(label: str, shape: str, params: str, connected: str) -> str:
        return (
            " "
            + label.ljust(widths[0])
            + shape.ljust(widths[1])
            + params.rjust(widths[2] - 2)
            + "  "
            + connected
        ).rstrip()

    lines = [f'Model: "{title}"', "_" * width, line(*header), "=" * width]
    for index, (label, shape, params, inbound) in enumerate(cells):
        lines.append(line(label, shape, params, inbound[0] if inbound else "-"))
        lines.extend(line("", "", "", extra) for extra in inbound[1:])
        lines.append("=" * width if index == len(cells) - 1 else "_" * width)
    total, trainable = _count(module)
    lines += [
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        "_" * width,
    ]
    return "\n".join(lines)
