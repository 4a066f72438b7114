"""Draw a run's learning curves: one panel per quantity, with the run's events marked.

matplotlib is an optional extra (``pip install 'epochal[plot]'``); it is
imported when a plot is drawn, never at ``import epochal``. Plots are drawn
on a :class:`matplotlib.figure.Figure` with the Agg canvas, without pyplot,
so they work headless and leave pyplot's global state and backend alone.

Example:
    >>> from epochal.plot import plot_history
    >>> fig = plot_history(model.history.history, path="curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from epochal._curves import Curve, event_epochs, read_curves
from epochal.errors import ArgumentError, ArgumentTypeError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MISSING_MATPLOTLIB", "plot_history"]

MISSING_MATPLOTLIB = "History.plot needs matplotlib: pip install 'epochal[plot]'"
"""The message of the ModuleNotFoundError raised when matplotlib is not installed."""

PANEL_HEIGHT = 2.6
"""Inches per quantity panel; the learning-rate panel is half that."""
FIGURE_WIDTH = 7.5
PNG_DPI = 120
NOTEBOOK_DPI = 80
"""Resolution of the PNG a notebook shows (the figure is 7.5 inches wide)."""
MARKERS_UP_TO = 40
"""Series with at most this many points get a marker on every value."""
LOG_SCALE_RATIO = 20.0
"""A positive series spanning more than this factor is drawn on a log scale."""
MAX_LR_LINES = 12
"""With more learning-rate changes than this (a schedule), only the LR panel shows them."""

_TRAIN_COLOR = "tab:blue"
_VAL_COLOR = "tab:orange"
_BEST_COLOR = "tab:green"
_STOP_COLOR = "tab:red"
_LR_COLOR = "0.45"


def _import_matplotlib() -> tuple[Any, Any]:
    """(CurvesFigure, FigureCanvasAgg), or a ModuleNotFoundError saying how to install matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ModuleNotFoundError(MISSING_MATPLOTLIB, name="matplotlib") from exc
    return _curves_figure_class(Figure), FigureCanvasAgg


_CURVES_FIGURE: Any = None


def _curves_figure_class(figure_cls: Any) -> Any:
    """A matplotlib ``Figure`` that shows itself in a notebook (made once, on first use).

    The figure is drawn without pyplot, so no backend shows it at the end of a
    cell: it is displayed once, as the cell's value, through ``_repr_png_``,
    without ``%matplotlib inline``.
    """
    global _CURVES_FIGURE
    if _CURVES_FIGURE is None:

        class CurvesFigure(figure_cls):
            """The learning-curves figure: a matplotlib Figure with a notebook display."""

            def _repr_png_(self) -> bytes:
                buffer = io.BytesIO()
                self.savefig(buffer, format="png", dpi=NOTEBOOK_DPI)
                return buffer.getvalue()

            def _repr_html_(self) -> None:
                return None  # the PNG is the display; matplotlib's own HTML hook is for webagg

            def __repr__(self) -> str:
                panels = [ax.get_ylabel() for ax in self.axes if ax.get_ylabel()]
                return f"<learning curves: {', '.join(panels)}>"

        _CURVES_FIGURE = CurvesFigure
    return _CURVES_FIGURE


def _quantities(
    curves: Mapping[str, Curve], metrics: Sequence[str] | str | None, lr_key: str
) -> list[str]:
    """The panel names, ``loss`` first: each is a training key and/or its ``val_`` twin."""
    available: list[str] = []
    for key in curves:
        name = key.removeprefix("val_")
        if key != lr_key and name not in available:
            available.append(name)
    if not available:
        raise ArgumentError(
            "Expected `history` to hold at least one series to plot besides the learning "
            f"rate. Received keys: {sorted(curves)}"
        )
    available.sort(key=lambda name: name != "loss")  # stable: loss first, the rest as logged
    if metrics is None:
        return available
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, Sequence) or not all(isinstance(m, str) for m in metrics):
        raise ArgumentTypeError(
            "Expected `metrics` to be None or a list of metric names such as ['accuracy']. "
            f"Received: metrics={metrics!r}"
        )
    chosen = ["loss"] if "loss" in available else []
    for metric in metrics:
        name = metric.removeprefix("val_")
        if name not in available:
            raise ArgumentError(
                f"Expected `metrics` to name logged quantities. Received: {metric!r}; "
                f"available: {available}"
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


def _lr_changes(lr: Curve | None) -> list[int]:
    """The 0-based epochs whose learning rate differs from the previous logged one."""
    if lr is None or len(lr.values) < 2:
        return []
    changed = ~np.isclose(lr.values[1:], lr.values[:-1], rtol=1e-9, atol=0.0)
    return [int(e) for e in lr.epochs[1:][changed]]


def _draw_series(ax: Axes, curve: Curve, *, label: str, color: str) -> Curve:
    values = np.where(np.isfinite(curve.values), curve.values, np.nan)
    ax.plot(
        curve.epochs + 1,
        values,
        label=label,
        color=color,
        linewidth=1.6,
        marker="o" if len(values) <= MARKERS_UP_TO else None,
        markersize=3.5,
    )
    return curve


def _maybe_log_scale(ax: Axes, series: Sequence[Curve]) -> None:
    finite = np.concatenate([c.values[np.isfinite(c.values)] for c in series])
    if len(finite) and np.min(finite) > 0 and np.max(finite) / np.min(finite) > LOG_SCALE_RATIO:
        ax.set_yscale("log")


def plot_history(
    history: Mapping[str, Sequence[float]],
    epochs: Mapping[str, Sequence[int]] | None = None,
    *,
    metrics: Sequence[str] | str | None = None,
    path: str | os.PathLike[str] | None = None,
    events: Mapping[str, Any] | None = None,
    lr_key: str = "learning_rate",
    title: str | None = None,
) -> Figure:
    """Draw the learning curves of a run, one panel per quantity.

    The loss comes first, then each metric; a quantity's training and
    ``val_`` series share a panel. The x axis is the epoch, numbered from 1
    as Keras prints it. Marked on every panel: the best epoch of
    ``val_loss`` (green dashed line, and a star on the loss panel), the
    early-stopping epoch from ``events`` (red dash-dot line), and epochs at
    which the learning rate changed (grey dotted lines, between the two
    epochs). When the learning rate changes, a small panel at the bottom
    shows it.

    Args:
        history: Key -> one float per logged epoch (``History.history``).
        epochs: Key -> the 0-based epochs at which each value was logged;
            ``None`` means ``0..n-1`` for every key.
        metrics: Which quantities to draw besides the loss (names without the
            ``val_`` prefix); ``None`` draws all of them.
        path: Where to save the figure; its suffix picks the format
            (``.png`` or ``.svg``). ``None`` only returns the figure.
        events: 0-based ``stopped_epoch`` and ``best_epoch`` from early
            stopping (``best_epoch`` is used when there is no ``val_loss``).
        lr_key: The history key of the learning rate.
        title: A title above the panels.

    Returns:
        A :class:`matplotlib.figure.Figure` (Agg canvas attached) that a
        notebook displays inline as a PNG, once, without ``%matplotlib``.

    Raises:
        ModuleNotFoundError: matplotlib is not installed.
        ArgumentError: ``path`` has another suffix, ``metrics`` names an
            unlogged quantity, or the history is malformed.
        ArgumentTypeError: an argument has the wrong type.

    Example:
        >>> h = model.history.history  # doctest: +SKIP
        >>> fig = plot_history(h, metrics=["accuracy"], path="run.svg")  # doctest: +SKIP
    """
    fmt = None
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise ArgumentTypeError(
                f"Expected `path` to be None, a str or a path. Received: {type(path).__name__}"
            )
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in ("png", "svg"):
            raise ArgumentError(
                "Expected `path` to end in '.png' or '.svg' (the suffix picks the format). "
                f"Received: path={os.fspath(path)!r}"
            )
    if events is not None and not isinstance(events, Mapping):
        raise ArgumentTypeError(
            f"Expected `events` to be None or a mapping. Received: {type(events).__name__}"
        )
    ev = event_epochs(events or {})
    curves = read_curves(history, epochs)
    names = _quantities(curves, metrics, lr_key)
    figure_cls, canvas_cls = _import_matplotlib()
    from matplotlib.ticker import MaxNLocator

    val_loss = curves.get("val_loss")
    best = _best_epoch(val_loss) if val_loss is not None else ev.get("best_epoch")
    lr = curves.get(lr_key)
    changes = _lr_changes(lr)

    ratios = [1.0] * len(names) + ([0.5] if changes else [])
    fig = figure_cls(
        figsize=(FIGURE_WIDTH, PANEL_HEIGHT * sum(ratios) + (0.4 if title else 0.0)),
        layout="constrained",
    )
    canvas_cls(fig)
    axes = fig.subplots(len(ratios), 1, sharex=True, squeeze=False, height_ratios=ratios)[:, 0]
    for ax, name in zip(axes, names, strict=False):
        drawn = [
            _draw_series(ax, curves[key], label=label, color=color)
            for key, label, color in (
                (name, "training", _TRAIN_COLOR),
                (f"val_{name}", "validation", _VAL_COLOR),
            )
            if key in curves
        ]
        _maybe_log_scale(ax, drawn)
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
    _mark_events(
        axes,
        loss_ax=axes[0] if names[0] == "loss" else None,
        val_loss=val_loss,
        best=best,
        stopped=ev.get("stopped_epoch"),
        lr_changes=changes,
    )
    for ax in axes[: len(names)]:
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    if changes and lr is not None:
        _draw_lr_panel(axes[-1], lr)

    last_epoch = max(int(c.epochs[-1]) for c in curves.values() if len(c.epochs))
    axes[-1].set_xlim(0.5, last_epoch + 1.5)
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].set_xlabel("epoch")
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, format=fmt, dpi=PNG_DPI)
    return fig


def _best_epoch(curve: Curve) -> int | None:
    """The 0-based epoch of the lowest finite value, or None."""
    finite = np.flatnonzero(np.isfinite(curve.values))
    if not len(finite):
        return None
    return int(curve.epochs[finite[np.argmin(curve.values[finite])]])


def _mark_events(
    axes: Sequence[Axes],
    *,
    loss_ax: Axes | None,
    val_loss: Curve | None,
    best: int | None,
    stopped: int | None,
    lr_changes: Sequence[int],
) -> None:
    """Vertical lines on every panel; their legend entries and the best-value star on the loss."""
    lr_lines = lr_changes if len(lr_changes) <= MAX_LR_LINES else []
    for ax in axes:
        if best is not None:
            ax.axvline(best + 1, color=_BEST_COLOR, linestyle="--", linewidth=1.2, gid="best_epoch")
        if stopped is not None:
            ax.axvline(
                stopped + 1, color=_STOP_COLOR, linestyle="-.", linewidth=1.2, gid="stopped_epoch"
            )
        for e in lr_lines:
            # Between the last epoch at the old rate and the first one at the new rate.
            ax.axvline(e + 0.5, color=_LR_COLOR, linestyle=":", linewidth=1.2, gid="lr_change")
    if loss_ax is None:
        return
    if best is not None and val_loss is not None and best in val_loss.epochs:
        value = float(val_loss.values[np.flatnonzero(val_loss.epochs == best)[0]])
        loss_ax.plot(
            [best + 1],
            [value],
            marker="*",
            markersize=14,
            color=_BEST_COLOR,
            linestyle="none",
            zorder=5,
            gid="best_epoch_marker",
            label=f"best val_loss {value:.4g} (epoch {best + 1})",
        )
    elif best is not None:
        loss_ax.plot([], [], color=_BEST_COLOR, linestyle="--", label=f"best epoch {best + 1}")
    if stopped is not None:
        loss_ax.plot(
            [], [], color=_STOP_COLOR, linestyle="-.", label=f"early stop (epoch {stopped + 1})"
        )
    if lr_lines:
        loss_ax.plot([], [], color=_LR_COLOR, linestyle=":", label="learning rate change")


def _draw_lr_panel(ax: Axes, lr: Curve) -> None:
    ax.plot(lr.epochs + 1, lr.values, color=_LR_COLOR, drawstyle="steps-mid", linewidth=1.4)
    values = lr.values
    if np.all(np.isfinite(values) & (values > 0)) and values.max() / values.min() >= 10:
        ax.set_yscale("log")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
