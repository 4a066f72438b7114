"""A run's report as one self-contained HTML file: verdict, curves, settings, values.

The file has no external assets: the figure is an inline base64 PNG and the
CSS is inline, so it can be mailed, attached to a ticket or opened offline.
Without matplotlib the report still renders, with a note in place of the
figure. Every string that comes from the user (keys, settings) is escaped.

Example:
    >>> from epochal.report import write_report
    >>> write_report("runs/exp1/report.html", history=model.history.history,
    ...              settings={"optimizer": "adam", "learning_rate": 1e-3})  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from epochal._curves import Curve, read_curves
from epochal.diagnose import Diagnosis, diagnose, lower_is_better
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.plot import MISSING_MATPLOTLIB, plot_history

__all__ = ["describe_weights", "report_checkpoint", "run_facts", "versions", "write_report"]

FIGURE_DPI = 100

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.verdict { border-left: 0.35rem solid #888; background: #f6f6f6; padding: 0.6rem 1rem; }
.verdict.good { border-color: #2a9d4b; } .verdict.warn { border-color: #e0a100; }
.verdict.bad { border-color: #c62828; }
.summary { font-weight: 600; }
.note { color: #666; font-style: italic; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.7rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f0f0; }
img { max-width: 100%; height: auto; }
"""

_TONE = {
    "converged": "good",
    "still_improving": "good",
    "overfitting": "warn",
    "underfitting": "warn",
    "insufficient_data": "warn",
    "unstable": "bad",
    "diverging": "bad",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: object) -> str:
    """A setting or logged value as text: floats to 6 significant digits, lists joined."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(_flatten(value, prefix=f"{name}."))
        else:
            rows.append((name, _fmt(value)))
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """An HTML table of formatted cells (escaped here); numbers in ``numeric`` columns go right."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(c)}</td>'
            if i in numeric and _is_number(c)
            else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _values_rows(curves: Mapping[str, Curve]) -> list[list[str]]:
    """Final and best value of each key; best is the min of losses, the max of scores."""
    rows = []
    for key, c in curves.items():
        if not len(c.values):
            continue
        final = [_fmt(c.values[-1]), str(int(c.epochs[-1]) + 1)]
        direction = lower_is_better(key)
        finite = np.flatnonzero(np.isfinite(c.values))
        if direction is None or not len(finite):
            best = ["", ""]
        else:
            pick = np.argmin if direction else np.argmax
            i = int(finite[pick(c.values[finite])])
            best = [_fmt(c.values[i]), str(int(c.epochs[i]) + 1)]
        rows.append([key, *final, *best])
    return rows


def _figure_html(
    history: Mapping[str, Sequence[float]],
    epochs: Mapping[str, Sequence[int]] | None,
    events: Mapping[str, Any] | None,
) -> str:
    try:
        fig = plot_history(history, epochs, events=events)
    except ModuleNotFoundError as exc:
        if exc.name != "matplotlib":
            raise
        return f'<p class="note">The curves are not drawn: {_e(MISSING_MATPLOTLIB)}.</p>'
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="learning curves of the run">'


def _diagnosis_html(diagnosis: Diagnosis | None, error: str | None) -> str:
    if diagnosis is None:
        return f'<p class="note">No verdict: {_e(error)}</p>'
    parts = [
        f'<div class="verdict {_TONE.get(diagnosis.verdict, "")}">',
        f'<p class="summary">{_e(diagnosis.summary)}</p>',
        f"<p>{_e(diagnosis.advice)}</p>",
    ]
    if diagnosis.cannot_judge:
        items = "".join(f"<li>{_e(c)}</li>" for c in diagnosis.cannot_judge)
        parts.append(f"<p>Could not judge:</p><ul>{items}</ul>")
    parts.append("</div>")
    if diagnosis.evidence:
        rows = [[k, _fmt(v)] for k, v in diagnosis.evidence.items()]
        parts.append(
            "<details><summary>Evidence (epochs 0-based)</summary>"
            + _table(["quantity", "value"], rows, {1})
            + "</details>"
        )
    return "".join(parts)


_FACT_ROWS = (
    ("batch_size", "batch size"),
    ("train_samples", "training samples"),
    ("validation_samples", "validation samples"),
    ("parameters", "parameters"),
    ("trainable_parameters", "trainable parameters"),
    ("layers", "layers"),
    ("wall_time_s", "wall time (s)"),
    ("test", "test score"),
    ("versions", "versions"),
)
"""The run's facts the report lists, in order, with their row labels."""


def versions() -> dict[str, str]:
    """The versions of epochal, torch and Python (the report lists them)."""
    import torch

    from epochal import __version__

    return {"epochal": __version__, "torch": torch.__version__, "python": platform.python_version()}


def describe_weights(weights: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter count and layers (``name: shapes``) from a ``state_dict``-like mapping."""
    layers: dict[str, list[str]] = {}
    count = 0
    for name, tensor in weights.items():
        shape = tuple(getattr(tensor, "shape", ()))
        if not name.endswith(("running_mean", "running_var", "num_batches_tracked")):
            count += int(np.prod(shape)) if shape else 1
        owner, _, leaf = name.rpartition(".")
        layers.setdefault(owner or "(module)", []).append(f"{leaf} {'x'.join(map(str, shape))}")
    return {
        "parameters": count,
        "layers": [f"{owner} ({', '.join(parts)})" for owner, parts in layers.items()],
    }


def run_facts(
    model: Any = None,
    *,
    batch_size: int | None = None,
    train_samples: int | None = None,
    validation_samples: int | None = None,
    wall_time_s: float | None = None,
    test: Mapping[str, float] | float | None = None,
) -> dict[str, Any]:
    """The facts of a run the report lists; ``model`` (an `epochal.Model`) gives its size."""
    facts: dict[str, Any] = {
        "batch_size": batch_size,
        "train_samples": train_samples,
        "validation_samples": validation_samples,
        "wall_time_s": wall_time_s,
        "test": test,
        "versions": versions(),
    }
    module = getattr(model, "module", None)
    if module is not None:
        params = list(module.parameters())
        facts["parameters"] = sum(p.numel() for p in params)
        facts["trainable_parameters"] = sum(p.numel() for p in params if p.requires_grad)
        facts["layers"] = describe_weights(module.state_dict())["layers"]
    return facts


def _facts_rows(facts: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for key, label in _FACT_ROWS:
        value = facts.get(key)
        if value is None:
            text = "not recorded"
        elif isinstance(value, Mapping):
            text = ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            text = "; ".join(str(v) for v in value)
        else:
            text = _fmt(value)
        rows.append([label, text])
    return rows


def write_report(
    path: str | os.PathLike[str],
    *,
    history: Mapping[str, Sequence[float]],
    epochs: Mapping[str, Sequence[int]] | None = None,
    settings: Mapping[str, Any],
    diagnosis: Diagnosis | None = None,
    events: Mapping[str, Any] | None = None,
    baseline_loss: float | None = None,
    facts: Mapping[str, Any] | None = None,
    callbacks: Sequence[str] | None = None,
) -> Path:
    """Write a self-contained HTML report of a training run.

    The report holds the verdict (:func:`epochal.diagnose.diagnose`) with its
    advice, the learning curves as an inline PNG, the final and best value
    of every logged key, the run's settings and the early-stopping events.
    Epochs are printed 1-based, as Keras prints them.

    Args:
        path: The HTML file to write (its folder must exist); overwritten.
        history: Key -> one float per logged epoch (``History.history``).
        epochs: Key -> the 0-based epochs at which each value was logged;
            ``None`` means ``0..n-1`` for every key.
        settings: The run's settings to list (optimizer, loss, learning
            rate, batch size, epochs, seed, ...); nested mappings are
            flattened to dotted names.
        diagnosis: A verdict already made; ``None`` runs ``diagnose`` on
            ``history`` with ``baseline_loss`` and ``events``.
        events: 0-based ``stopped_epoch``/``best_epoch``/``restored_epoch``.
        baseline_loss: The trivial predictor's loss, for the verdict.
        facts: The run's facts (`run_facts`): batch size, data sizes, parameter
            count and layers, wall time, test score, versions; missing ones
            read "not recorded" (versions default to the running ones).
        callbacks: The class names of the callbacks the run used, so that the
            verdict's advice does not recommend them.

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        ArgumentTypeError: ``settings``, ``diagnosis`` or ``path`` has a wrong type.
        ArgumentError: the history is malformed.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"Expected `path` to be a str or a path. Received: {type(path).__name__}"
        )
    if not isinstance(settings, Mapping):
        raise ArgumentTypeError(
            "Expected `settings` to be a mapping such as {'optimizer': 'adam'}. "
            f"Received: settings of type {type(settings).__name__}"
        )
    if facts is not None and not isinstance(facts, Mapping):
        raise ArgumentTypeError(
            "Expected `facts` to be None or a mapping such as run_facts(model, batch_size=32). "
            f"Received: facts of type {type(facts).__name__}"
        )
    if diagnosis is not None and not isinstance(diagnosis, Diagnosis):
        raise ArgumentTypeError(
            "Expected `diagnosis` to be None or an epochal.diagnose.Diagnosis. "
            f"Received: {type(diagnosis).__name__}"
        )
    curves = read_curves(history, epochs)
    error = None
    if diagnosis is None:
        try:
            diagnosis = diagnose(
                history, epochs, baseline_loss=baseline_loss, events=events, callbacks=callbacks
            )
        except ArgumentError as exc:  # e.g. no loss logged: the rest of the report still helps
            error = str(exc)

    event_rows = [
        [key, str(int(value) + 1)]
        for key, value in (events or {}).items()
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    ]
    epochs_run = max((int(c.epochs[-1]) + 1 for c in curves.values() if len(c.epochs)), default=0)
    title = "Training report"
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="note">{epochs_run} epoch(s); epochs are numbered from 1.</p>',
        "<h2>Verdict</h2>",
        _diagnosis_html(diagnosis, error),
        "<h2>Learning curves</h2>",
        _figure_html(history, epochs, events),
        "<h2>Final and best values</h2>",
        _table(
            ["key", "final", "at epoch", "best", "at epoch"], _values_rows(curves), {1, 2, 3, 4}
        ),
        "<h2>Run</h2>",
        _table(["fact", "value"], _facts_rows({"versions": versions(), **(facts or {})}), {1}),
        "<h2>Settings</h2>",
        _table(["setting", "value"], _flatten(settings), set())
        if settings
        else '<p class="note">No settings recorded.</p>',
    ]
    if event_rows:
        body += ["<h2>Events</h2>", _table(["event", "epoch"], event_rows, {1})]
    document = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    out = Path(path)
    out.write_text(document, encoding="utf-8")
    return out


def _learning_rate_setting(compiled_lr: Any, history: Mapping[str, Sequence[float]]) -> Any:
    """The learning rate as the run used it: the compiled one, else the first logged one."""
    if compiled_lr is not None:
        return compiled_lr
    logged = history.get("learning_rate")
    if logged:
        return f"{_fmt(float(logged[0]))} (the optimizer's default)"
    return "the optimizer's default"


def report_checkpoint(
    run_dir: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    facts: Mapping[str, Any] | None = None,
) -> tuple[Path, Diagnosis]:
    """Write the HTML report of the run saved under ``run_dir``.

    Args:
        run_dir: a checkpoint (``model.save``), a ``fit`` checkpoint_dir, or a
            directory holding either.
        output: the HTML file; by default ``report.html`` inside ``run_dir``
            (beside the checkpoint when ``run_dir`` is a checkpoint itself).
        facts: facts the checkpoint does not hold (`run_facts`): batch size,
            data sizes, wall time, test score. Parameter count and layers come
            from the saved weights.

    Returns:
        (the path written, the verdict).

    Raises:
        CheckpointError: no intact checkpoint under ``run_dir``.
    """
    from epochal._runio import read_checkpoint
    from epochal.callbacks.history import History

    root = Path(run_dir)
    ckpt = read_checkpoint(root)
    meta = ckpt.meta
    history = ckpt.history or History()  # checked when read: a bad log is a CheckpointError
    if "baseline_loss" in meta:
        history.baseline_loss = meta["baseline_loss"]
    if "events" in meta:
        history.events = dict(meta["events"] or {})
    used = sorted({str(k).split("#")[0] for k in (ckpt.state.get("callbacks") or {})})
    diagnosis = diagnose(
        history.history,
        history.epochs_by_key,
        baseline_loss=history.baseline_loss,
        events=history.events or None,
        callbacks=used,
    )
    compiled = {k: v for k, v in (meta.get("compile") or {}).items() if k != "rebuildable"}
    settings = {
        "seed": meta.get("seed"),
        "epochs trained": meta.get("epoch"),
        "optimizer steps": meta.get("step"),
        "stopped early": meta.get("stopped"),
        "callbacks": ", ".join(used) if used else "none",
        "checkpoint": str(ckpt.path),
        **compiled,
    }
    settings["learning_rate"] = _learning_rate_setting(
        compiled.get("learning_rate"), history.history
    )
    # What the run recorded about its fit calls (read defensively: older checkpoints lack it).
    raw = meta.get("params")
    recorded: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    all_facts: dict[str, Any] = {
        "batch_size": recorded.get("batch_size"),
        "train_samples": recorded.get("samples"),
        **describe_weights(ckpt.weights),
        "versions": versions(),
    }
    all_facts.update({k: v for k, v in (facts or {}).items() if v is not None})
    if output is None:
        is_checkpoint = (root / "manifest.json").exists()
        output = root.parent / f"{root.name}-report.html" if is_checkpoint else root / "report.html"
    path = write_report(
        output,
        history=history.history,
        epochs=history.epochs_by_key,
        settings=settings,
        diagnosis=diagnosis,
        events=history.events or None,
        baseline_loss=history.baseline_loss,
        facts=all_facts,
    )
    return path, diagnosis
