"""What a run's learning curves mean: one verdict, the numbers behind it, and advice.

:func:`diagnose` reads a Keras-style history (key -> one float per logged
epoch) and names what the curves show. It works on plain data, so it can
judge a run that is still going, one loaded from disk, or one from another
library.

Epochs are 0-based run indices in the data (``since_epoch``, ``best_epoch``,
``evidence``) and 1-based in the printed ``summary`` and ``advice``, as Keras
prints them ("Epoch 14/100").

The rules, checked in this order; the first that holds is the verdict.
``monitor`` is the judged series (``val_loss`` by default, ``loss`` when the
run has no validation data). Terms:

- *smoothed*: a centered moving median over ``2 * SMOOTH_HALF_WINDOW + 1``
  logged points (the window shrinks symmetrically at the ends); minima are
  located on that median further smoothed by a (1, 2, 3, 2, 1) weighted mean.
- *trend*: the least-squares slope (per epoch) over the last
  ``TREND_MIN_POINTS``..``TREND_MAX_POINTS`` logged points (a third of the
  run) and its t-statistic, refitted once without outliers (``OUTLIER_Z``).
- *clearly decreasing*: trend t <= -``T_SIGNIFICANT`` and a fall of at least
  ``IMPROVING_MIN_REL_SLOPE`` of the level per epoch.
- *end level*: the median of the last ``END_POINTS`` values.
- *sustained rise* of at least r: the smoothed minimum has at least
  ``RISE_MIN_POINTS_AFTER`` points after it, the end level is at least
  ``max(r, RISE_NOISE_MULTIPLE * noise)`` above it (noise: the mean
  |value - median-smoothed| / level), and the points after the minimum have
  a rising trend with t >= ``T_SIGNIFICANT``.

1. ``insufficient_data``: fewer than ``MIN_POINTS`` values of ``monitor``
   ("too few epochs to judge").
2. ``diverging``: a NaN or infinite value in the training or validation loss;
   or the training loss's end level is at least ``DIVERGE_FROM_START`` times
   its first value or ``DIVERGE_FROM_MIN`` times its minimum; or it made a
   sustained rise of ``DIVERGE_MIN_RISE``.
3. ``unstable``: the training or monitored loss oscillates: its mean absolute
   deviation from the smoothed curve is at least ``UNSTABLE_MIN_NOISE`` of the
   curve's level, and at least ``UNSTABLE_MIN_FLIP_FRACTION`` of consecutive
   steps reverse direction with both steps larger than ``UNSTABLE_MIN_JUMP``
   of the level (needs ``UNSTABLE_MIN_POINTS`` values).
4. ``insufficient_data``: fewer than ``TREND_MIN_POINTS`` values of
   ``monitor`` and none of the rules above: too few epochs to tell a trend
   from noise; the summary says whether the series was still falling.
5. ``overfitting``: the validation loss made a sustained rise of
   ``OVERFIT_MIN_RISE`` or more, and the training loss (smoothed at the
   validation minimum, end level now) rose by at most
   ``OVERFIT_TRAIN_TOLERANCE`` over the same epochs. ``since_epoch`` is the
   epoch of the smoothed validation minimum. When the validation loss rises
   that way but the training loss rose more than the tolerance, or the
   judged series is the training loss itself (no validation data), the
   verdict is ``unstable``: the optimization is not settling.
6. ``underfitting``: the training loss's end level is above
   ``UNDERFIT_BASELINE_RATIO`` times ``baseline_loss`` (the trivial constant
   predictor), or, without a baseline, above ``UNDERFIT_START_RATIO`` times its
   first value; and neither the training loss nor ``monitor`` is clearly
   decreasing, nor still falling at its last epochs. A ``baseline_loss`` of 0
   (constant targets) cannot be compared against: the first value is used.
7. ``still_improving``: ``monitor`` is clearly decreasing (or, at an
   underfitting level, the training loss is), or its last ``END_POINTS``
   values fall at every step and the last is below every earlier value by at
   least ``END_FALL_MIN`` and ``RISE_NOISE_MULTIPLE`` times its noise: more
   epochs would help.
8. ``converged``: otherwise: flat, at a level below the underfitting line.
   A run still improving at its last epochs is never called converged.

A single noisy epoch cannot trigger overfitting or divergence: both need a
rise that survives the moving median and a significant trend over several
points. The baseline comparison uses ``baseline_loss`` only for the ``loss``
series (it is the loss of the trivial predictor on the training targets).

Example:
    >>> d = diagnose({"loss": [1.0, 0.7, 0.5, 0.4, 0.35], "val_loss": [1.0, 0.8, 0.6, 0.5, 0.45]})
    >>> d.verdict
    'still_improving'
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from epochal._curves import Curve, event_epochs, read_curves
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["Diagnosis", "Verdict", "diagnose"]

Verdict = Literal[
    "overfitting",
    "underfitting",
    "still_improving",
    "converged",
    "diverging",
    "unstable",
    "insufficient_data",
]

MIN_POINTS = 3
"""Fewer logged values of the monitored series than this: ``insufficient_data``."""
SMOOTH_HALF_WINDOW = 2
"""Half width of the centered moving median (window of 5 logged points)."""
END_POINTS = 3
"""The end level of a series is the median of its last this-many values."""
TREND_MIN_POINTS = 5
"""The recent trend uses at least this many points (all of them if the run is shorter)..."""
TREND_MAX_POINTS = 15
"""...and at most this many; in between, a third of the run."""
OUTLIER_Z = 3.5
"""Trend lines are refitted without points this many robust SDs (1.4826 MAD) off the line."""
T_SIGNIFICANT = 3.0
"""|t| of a least-squares slope at or above this is a significant trend.

Stricter than the usual 2: the rise after a minimum is tested after choosing
that minimum, which biases the test, and a false verdict costs the user more
than a late one."""
DIVERGE_FROM_START = 2.0
"""Training loss end level at least this times its first value: diverging."""
DIVERGE_FROM_MIN = 10.0
"""Training loss end level at least this times its minimum: diverging."""
DIVERGE_MIN_RISE = 0.20
"""Training loss a significant 20% or more above its smoothed minimum: diverging."""
RISE_MIN_POINTS_AFTER = 3
"""A rise (overfitting or divergence) needs this many logged points after the minimum."""
RISE_NOISE_MULTIPLE = 3.0
"""A rise must also be at least 3x the series' noise (mean |value - smoothed| / level)."""
UNSTABLE_MIN_POINTS = 5
"""Oscillation is judged only on series with at least this many values."""
UNSTABLE_MIN_NOISE = 0.10
"""Mean |value - smoothed| / level at or above this (10%) is large noise."""
UNSTABLE_MIN_JUMP = 0.05
"""A step larger than 5% of the level counts towards oscillation."""
UNSTABLE_MIN_FLIP_FRACTION = 0.30
"""At least 30% of consecutive step pairs reverse direction with large steps."""
OVERFIT_MIN_RISE = 0.10
"""Validation loss end level at least 10% above its smoothed minimum."""
OVERFIT_TRAIN_TOLERANCE = 0.05
"""Training loss may rise by at most 5% over the same epochs ("stays flat")."""
UNDERFIT_BASELINE_RATIO = 0.8
"""Training loss end level above 0.8 x the trivial predictor's loss: underfitting."""
UNDERFIT_START_RATIO = 0.9
"""Without a baseline: end level above 0.9 x the first epoch's loss (fell < 10%)."""
IMPROVING_MIN_REL_SLOPE = 0.002
"""A clear decrease falls by at least 0.2% of its level per epoch."""
END_FALL_MIN = 0.02
"""The last END_POINTS values falling at every step, the last 2% below the earlier best."""

_ERROR_NAMES = ("mse", "mae", "rmse", "mape", "msle", "error", "hinge", "crossentropy")


@dataclass(frozen=True, repr=False)
class Diagnosis:
    """The verdict on a run's learning curves.

    Attributes:
        verdict: What the curves show (see the module docstring for the rules).
        since_epoch: For ``overfitting``: the 0-based epoch of the smoothed
            validation-loss minimum, where overfitting set in; else ``None``.
        best_epoch: The 0-based epoch of the lowest monitored value, or ``None``.
        evidence: The numbers behind the verdict (percentages end in ``_pct``,
            epochs are 0-based).
        advice: One paragraph: what the verdict means and what to do.
        summary: One line for the end of ``fit``; epochs in it are 1-based, as
            Keras prints them.
        cannot_judge: What could not be judged from the data given.
    """

    verdict: Verdict
    since_epoch: int | None
    best_epoch: int | None
    evidence: dict[str, float | int | str]
    advice: str
    summary: str
    cannot_judge: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"{self.summary}\n{self.advice}"

    def __repr__(self) -> str:
        return f"<Diagnosis {self.summary}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display: the verdict line, then the advice."""
        printer.text(str(self))

    def _repr_html_(self) -> str:
        """Notebook display: the verdict line in bold, the advice, what could not be judged."""
        e = html.escape
        parts = [f"<div><p><b>{e(self.summary)}</b></p><p>{e(self.advice)}</p>"]
        if self.cannot_judge:
            items = "".join(f"<li>{e(c)}</li>" for c in self.cannot_judge)
            parts.append(f"<details><summary>Could not judge</summary><ul>{items}</ul></details>")
        parts.append("</div>")
        return "".join(parts)


def lower_is_better(key: str) -> bool | None:
    """Whether a smaller value of ``key`` is better: True for losses and errors,
    False for scores (accuracy, AUC, ...), None for the learning rate."""
    name = key.removeprefix("val_").lower()
    if name in ("learning_rate", "lr"):
        return None
    return name.endswith("loss") or any(e in name for e in _ERROR_NAMES)


def diagnose(
    history: Mapping[str, Sequence[float]],
    epochs: Mapping[str, Sequence[int]] | None = None,
    *,
    baseline_loss: float | None = None,
    monitor: str = "val_loss",
    events: Mapping[str, Any] | None = None,
    callbacks: Iterable[str] | None = None,
) -> Diagnosis:
    """Name what a run's learning curves show: overfitting, underfitting, and so on.

    Args:
        history: Key -> one float per logged epoch (``History.history`` /
            ``model.history.history``).
        epochs: Key -> the 0-based run epochs at which each value was logged,
            for series logged only some epochs (``validation_freq``). ``None``
            means every key was logged at epochs ``0..n-1``.
        baseline_loss: The loss of the trivial constant predictor on the
            training targets; makes the underfitting rule absolute.
        monitor: The lower-is-better series to judge (a loss or an error
            metric). If it is a ``val_`` key missing from ``history``, the
            training series is judged instead and overfitting is listed in
            ``cannot_judge``.
        events: Early-stopping facts, 0-based: ``stopped_epoch``,
            ``best_epoch``, ``restored_epoch``; mentioned in the summary.
        callbacks: The class names of the callbacks the run used (for example
            ``["EarlyStopping"]``), so that the advice never recommends them.

    Returns:
        A :class:`Diagnosis`. Its ``summary`` and ``advice`` print epochs
        1-based, as Keras does; its fields hold them 0-based.

    Raises:
        ArgumentError: ``monitor`` is not a lower-is-better key, neither it nor
            its training series is in ``history``, or the data is malformed.
        ArgumentTypeError: ``history``, ``epochs`` or ``events`` has a wrong type.

    Example:
        >>> d = diagnose(model.history.history, baseline_loss=0.69)  # doctest: +SKIP
        >>> print(d.summary)  # doctest: +SKIP
        overfitting since epoch 14: val_loss rose 18% from its minimum while loss fell 31%
    """
    curves = read_curves(history, epochs)
    if not isinstance(monitor, str) or lower_is_better(monitor) is not True:
        raise ArgumentError(
            "Expected `monitor` to name a lower-is-better series (a loss or an error metric), "
            f"such as 'val_loss' or 'loss'. Received: monitor={monitor!r}"
        )
    if baseline_loss is not None and not (
        isinstance(baseline_loss, (int, float)) and math.isfinite(baseline_loss)
    ):
        raise ArgumentError(
            f"Expected `baseline_loss` to be None or a finite float. Received: {baseline_loss!r}"
        )
    if events is not None and not isinstance(events, Mapping):
        raise ArgumentTypeError(
            "Expected `events` to be None or a mapping such as {'stopped_epoch': 23}. "
            f"Received: events of type {type(events).__name__}"
        )
    if callbacks is not None and (
        isinstance(callbacks, str) or not all(isinstance(n, str) for n in callbacks)
    ):
        raise ArgumentTypeError(
            "Expected `callbacks` to be None or a list of callback class names such as "
            f"['EarlyStopping']. Received: {callbacks!r:.80}"
        )
    used = frozenset(n.split("#")[0] for n in callbacks or ())
    return _judge(
        curves, monitor=monitor, baseline_loss=baseline_loss, events=events or {}, used=used
    )


# --- Pure numeric pieces -------------------------------------------------------------------


def _smooth(y: np.ndarray) -> np.ndarray:
    """Centered moving median; the window shrinks symmetrically at the ends.

    A median keeps monotone stretches exactly as they are (no lag on a steep
    first epochs) and ignores a single outlier in the window.
    """
    n = len(y)
    out = np.empty(n)
    k = SMOOTH_HALF_WINDOW
    if n > 2 * k:  # the interior at once; only the ends need shrinking windows
        windows = np.lib.stride_tricks.sliding_window_view(y, 2 * k + 1)
        out[k : n - k] = np.median(windows, axis=1)
        edges = [*range(k), *range(n - k, n)]
    else:
        edges = list(range(n))
    for i in edges:
        h = min(k, i, n - 1 - i)
        out[i] = np.median(y[i - h : i + h + 1])
    return out


_HANN = np.array([1.0, 2.0, 3.0, 2.0, 1.0])


def _smooth_level(y: np.ndarray) -> np.ndarray:
    """The moving median, then a (1, 2, 3, 2, 1)-weighted moving mean (Tukey's "hanning").

    Used where a minimum is located: the median alone is flat at the bottom
    of a curve and so places the minimum less precisely.
    """
    med = _smooth(y)
    n = len(med)
    out = np.empty(n)
    for i in range(n):
        h = min(2, i, n - 1 - i)
        w = _HANN[2 - h : 3 + h]
        out[i] = float(w @ med[i - h : i + h + 1]) / float(w.sum())
    return out


def _end_level(y: np.ndarray) -> float:
    """The median of the last ``END_POINTS`` values: one spike does not move it."""
    return float(np.median(y[-END_POINTS:]))


def _relative(change: float, reference: float) -> float:
    """``change / |reference|``, with a zero reference giving 0 or +-inf."""
    if reference != 0:
        return change / abs(reference)
    return 0.0 if change == 0 else math.copysign(math.inf, change)


@dataclass(frozen=True)
class _Trend:
    """Least-squares line through the last points of a series (x in epochs)."""

    slope: float
    t: float
    rel_slope: float
    points: int

    @property
    def clearly_decreasing(self) -> bool:
        return self.t <= -T_SIGNIFICANT and self.rel_slope <= -IMPROVING_MIN_REL_SLOPE


def _fit_line(x: np.ndarray, y: np.ndarray) -> _Trend:
    """Slope per epoch, its t-statistic, and the slope relative to the mean level.

    Least squares, refitted once without outliers (residual above
    ``OUTLIER_Z`` robust standard deviations), so one bad epoch neither
    hides a trend nor makes one.
    """
    trend, resid = _least_squares(x, y)
    if len(y) >= TREND_MIN_POINTS:
        spread = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        keep = np.abs(resid) <= OUTLIER_Z * spread
        if spread > 0 and not keep.all() and keep.sum() >= TREND_MIN_POINTS - 1:
            trend, _ = _least_squares(x[keep], y[keep])
    return trend


def _least_squares(x: np.ndarray, y: np.ndarray) -> tuple[_Trend, np.ndarray]:
    xm = x.astype(np.float64) - float(np.mean(x))
    sxx = float(xm @ xm)
    if len(y) < 2 or sxx == 0:
        return _Trend(0.0, 0.0, 0.0, len(y)), np.zeros(len(y))
    yc = y - float(np.mean(y))
    slope = float(xm @ yc) / sxx
    resid = yc - slope * xm
    dof = len(y) - 2
    se = math.sqrt(float(resid @ resid) / dof / sxx) if dof > 0 else 0.0
    # A perfect line (or two points) has no residual: the trend is as certain as it gets.
    flat_or_inf = 0.0 if slope == 0 else math.copysign(math.inf, slope)
    t = slope / se if se > 0 else flat_or_inf
    return _Trend(slope, t, _relative(slope, float(np.mean(y))), len(y)), resid


def _recent_trend(curve: Curve) -> _Trend:
    """The trend over the last third of the run, clamped to the TREND_*_POINTS range."""
    n = len(curve.values)
    k = min(n, max(TREND_MIN_POINTS, min(TREND_MAX_POINTS, n // 3)))
    return _fit_line(curve.epochs[-k:], curve.values[-k:])


@dataclass(frozen=True)
class _Rise:
    """How a series moved after its smoothed minimum."""

    min_index: int
    min_epoch: int
    min_value: float
    end_level: float
    rise: float
    t: float
    points_after: int
    noise: float

    def significant(self, threshold: float) -> bool:
        """Sustained: enough points, above ``threshold`` and the noise, and a rising trend."""
        return (
            self.points_after >= RISE_MIN_POINTS_AFTER
            and self.rise >= max(threshold, RISE_NOISE_MULTIPLE * self.noise)
            and self.t >= T_SIGNIFICANT
        )


def _rise_after_minimum(curve: Curve) -> _Rise:
    smooth = _smooth_level(curve.values)
    # Of tied points (a flat bottom) take the one with the lowest value.
    tied = np.flatnonzero(smooth == np.min(smooth))
    i = int(tied[np.argmin(curve.values[tied])])
    after = len(smooth) - 1 - i
    end = _end_level(curve.values)
    # The trend starts after the minimum: the selected low point itself would bias it upward.
    t = _fit_line(curve.epochs[i + 1 :], curve.values[i + 1 :]).t if after >= 3 else 0.0
    return _Rise(
        min_index=i,
        min_epoch=int(curve.epochs[i]),
        min_value=float(smooth[i]),
        end_level=end,
        rise=_relative(end - float(smooth[i]), float(smooth[i])),
        t=t,
        points_after=after,
        noise=_oscillation(curve.values)[0],
    )


def _oscillation(y: np.ndarray) -> tuple[float, float]:
    """(mean relative deviation from the smoothed curve, fraction of large reversals)."""
    smooth = _smooth(y)
    level = np.maximum(np.abs(smooth), np.finfo(np.float64).tiny)
    noise = float(np.mean(np.abs(y - smooth) / level))
    steps = np.diff(y)
    large = np.abs(steps) > UNSTABLE_MIN_JUMP * level[1:]
    flips = large[1:] & large[:-1] & (np.sign(steps[1:]) != np.sign(steps[:-1]))
    return noise, float(np.mean(flips)) if len(flips) else 0.0


# --- The rules -------------------------------------------------------------------------------


def _pct(x: float) -> float:
    return round(100.0 * x, 2)


def _num(x: float) -> str:
    return f"{x:.4g}"


def _moved(change: float) -> str:
    """How the training loss moved, for the overfitting summary."""
    if change <= -OVERFIT_TRAIN_TOLERANCE:
        return f"fell {_pct(-change):.0f}%"
    return f"stayed flat ({_pct(change):+.0f}%)"


def _events_suffix(ev: Mapping[str, int]) -> str:
    parts = []
    if "stopped_epoch" in ev:
        parts.append(f"early stopping at epoch {ev['stopped_epoch'] + 1}")
    if "restored_epoch" in ev:
        parts.append(f"restored epoch {ev['restored_epoch'] + 1} weights")
    return "".join(f"; {p}" for p in parts)


@dataclass
class _Case:
    """What the rules read: the series, the baseline, and what was used and found so far."""

    mon: Curve
    train: Curve | None
    val: Curve | None
    train_key: str
    baseline_loss: float | None
    events: dict[str, int]
    used: frozenset[str]
    evidence: dict[str, float | int | str]
    cannot: list[str]
    best_epoch: int | None

    @property
    def base(self) -> Curve:
        """The training series when it is long enough to judge, else the monitored one."""
        return self.train if self.train is not None else self.mon

    def verdict(self, v: Verdict, summary: str, advice: str, since: int | None = None) -> Diagnosis:
        suffix = _events_suffix(self.events)
        return Diagnosis(
            v, since, self.best_epoch, self.evidence, advice, summary + suffix, tuple(self.cannot)
        )


def _case(
    curves: Mapping[str, Curve],
    monitor: str,
    baseline_loss: float | None,
    events: Mapping[str, Any],
    used: frozenset[str],
) -> _Case:
    """Pick the series to judge and note what cannot be judged from them."""
    train_key = monitor.removeprefix("val_")
    val_key = "val_" + train_key
    if monitor in curves:
        mon = curves[monitor]
    elif monitor.startswith("val_") and train_key in curves:
        mon = curves[train_key]
    else:
        raise ArgumentError(
            f"Expected `monitor` to be a key of `history`. Received: monitor={monitor!r}; "
            f"available keys: {sorted(curves)}"
        )
    train, val = curves.get(train_key), curves.get(val_key)
    cannot: list[str] = []
    if val is None:
        cannot.append(f"overfitting: no validation data ({val_key!r} is not in the history)")
    elif len(val.values) < MIN_POINTS:
        cannot.append(f"overfitting: fewer than {MIN_POINTS} values of {val_key!r}")
    if train is None:
        cannot.append(f"underfitting: no training series {train_key!r} in the history")
    usable = baseline_loss if train_key == "loss" else None
    if usable is not None and usable <= 0:
        # Constant targets: the trivial predictor is already perfect, so no ratio to it exists.
        cannot.append(
            f"underfitting against the trivial predictor: its loss is {_num(usable)} "
            "(constant targets); judged against the first epoch instead"
        )
        usable = None
    elif usable is None:
        cannot.append(
            "underfitting against the trivial predictor: no baseline_loss for this series; "
            "judged against the first epoch instead"
        )
    finite = np.isfinite(mon.values)
    best_epoch = int(mon.epochs[finite][np.argmin(mon.values[finite])]) if finite.any() else None
    evidence: dict[str, float | int | str] = {"monitor": mon.key, "points": len(mon.values)}
    if best_epoch is not None:
        evidence["best_epoch"] = best_epoch
        evidence["best_value"] = float(np.min(mon.values[finite]))
    ev = event_epochs(events)
    evidence.update(ev)
    if ev:  # early-stopping events: the run used EarlyStopping
        used = used | {"EarlyStopping"}
    return _Case(mon, train, val, train_key, usable, ev, used, evidence, cannot, best_epoch)


def _rule_no_data(c: _Case) -> Diagnosis | None:
    """1. Fewer than MIN_POINTS values: nothing can be told."""
    n = len(c.mon.values)
    if n >= MIN_POINTS:
        return None
    return c.verdict(
        "insufficient_data",
        f"too few epochs to judge: {n} epoch(s) of {c.mon.key}; "
        f"at least {MIN_POINTS} are needed to judge the curves",
        f"With fewer than {MIN_POINTS} values of {c.mon.key} no trend can be told from noise. "
        "Train for more epochs (fit continues the run) and diagnose again.",
    )


def _rule_nonfinite(c: _Case) -> Diagnosis | None:
    """2a. A NaN or infinite loss: diverging."""
    for curve in (c.train, c.val, c.mon):
        if curve is None:
            continue
        bad = ~np.isfinite(curve.values)
        if bad.any():
            first = int(curve.epochs[np.argmax(bad)])
            c.evidence.update(nonfinite_key=curve.key, nonfinite_epoch=first)
            return c.verdict(
                "diverging",
                f"diverging: {curve.key} is {curve.values[np.argmax(bad)]} from epoch {first + 1}",
                _advice_diverging(c.used),
            )
    return None


def _rule_growth(c: _Case) -> Diagnosis | None:
    """2b. The training loss grew to a multiple of its start or its minimum: diverging."""
    if c.train is not None and len(c.train.values) < MIN_POINTS:
        c.train = None  # too short to judge; the monitored series stands in for it
    base = c.base
    start, low, end = float(base.values[0]), float(np.min(base.values)), _end_level(base.values)
    if not (low > 0 and (end >= DIVERGE_FROM_START * start or end >= DIVERGE_FROM_MIN * low)):
        return None
    c.evidence.update(
        series=base.key, start=start, minimum=low, end_level=end, growth_vs_min=end / low
    )
    return c.verdict(
        "diverging",
        f"diverging: {base.key} grew to {end / low:.3g}x its minimum ({_num(low)} -> {_num(end)})",
        _advice_diverging(c.used),
    )


def _rule_rise(c: _Case) -> Diagnosis | None:
    """2c. The training loss made a sustained rise of DIVERGE_MIN_RISE: diverging."""
    base = c.base
    rise = _rise_after_minimum(base)
    if not rise.significant(DIVERGE_MIN_RISE):
        return None
    c.evidence.update(
        series=base.key, rise_pct=_pct(rise.rise), rise_t=rise.t, rise_from_epoch=rise.min_epoch
    )
    return c.verdict(
        "diverging",
        f"diverging: {base.key} rose {_pct(rise.rise):.0f}% since epoch {rise.min_epoch + 1} "
        f"(trend t = {rise.t:.1f})",
        _advice_diverging(c.used),
    )


def _rule_unstable(c: _Case) -> Diagnosis | None:
    """3. The training or monitored loss oscillates widely: unstable."""
    for curve in dict.fromkeys(x for x in (c.train, c.mon) if x is not None):
        if len(curve.values) < UNSTABLE_MIN_POINTS:
            continue
        noise, flips = _oscillation(curve.values)
        if noise >= UNSTABLE_MIN_NOISE and flips >= UNSTABLE_MIN_FLIP_FRACTION:
            c.evidence.update(series=curve.key, noise_pct=_pct(noise), reversal_fraction=flips)
            return c.verdict(
                "unstable",
                f"unstable: {curve.key} swings {_pct(noise):.0f}% around its trend, "
                f"reversing direction in {flips:.0%} of epochs",
                _advice_unstable(c.used),
            )
    return None


def _rule_too_short(c: _Case) -> Diagnosis | None:
    """4. Fewer than TREND_MIN_POINTS values: no trend yet; say where the curve is heading."""
    n = len(c.mon.values)
    if n >= TREND_MIN_POINTS:
        return None
    first, last = float(c.mon.values[0]), float(c.mon.values[-1])
    change = _relative(last - first, first)
    c.evidence["change_pct"] = _pct(change)
    if last < first and last <= float(np.min(c.mon.values)):
        heading = f"{c.mon.key} is still falling ({_num(first)} -> {_num(last)})"
        advice = (
            f"{n} epochs are too few to tell a trend from noise, and {c.mon.key} was still "
            "falling at the last epoch: train more epochs (calling fit again continues the "
            "run) and diagnose again."
        )
    else:
        heading = f"{c.mon.key} went {_num(first)} -> {_num(last)}"
        advice = (
            f"{n} epochs are too few to tell a trend from noise: train at least "
            f"{TREND_MIN_POINTS} epochs (calling fit again continues the run) and diagnose again."
        )
    return c.verdict(
        "insufficient_data",
        f"too few epochs to judge: {n} epoch(s) of {c.mon.key}; {heading}",
        advice,
    )


def _rule_rising(c: _Case) -> Diagnosis | None:
    """5. A sustained rise of the validation loss: overfitting (or unstable if training rose too)."""
    val = c.val
    rising = val if val is not None and len(val.values) >= MIN_POINTS else c.mon
    rise = _rise_after_minimum(rising)
    if not rise.significant(OVERFIT_MIN_RISE):
        return None
    c.evidence.update(
        series=rising.key,
        min_epoch=rise.min_epoch,
        min_value=rise.min_value,
        end_level=rise.end_level,
        rise_pct=_pct(rise.rise),
        rise_t=rise.t,
    )
    train = c.train
    train_change: float | None = None
    if train is not None and rising is not train:
        smooth = _smooth_level(train.values)
        j = max(0, int(np.searchsorted(train.epochs, rise.min_epoch, side="right")) - 1)
        train_change = _relative(_end_level(train.values) - float(smooth[j]), float(smooth[j]))
        c.evidence["train_fall_pct"] = _pct(-train_change)
    if rising is not train and (train_change is None or train_change <= OVERFIT_TRAIN_TOLERANCE):
        moved = "" if train_change is None else f" while {c.train_key} {_moved(train_change)}"
        return c.verdict(
            "overfitting",
            f"overfitting since epoch {rise.min_epoch + 1}: {rising.key} rose "
            f"{_pct(rise.rise):.0f}% from its minimum{moved}",
            _advice_overfitting(rise.min_epoch, rising.key, c.events, c.used),
            since=rise.min_epoch,
        )
    return c.verdict(
        "unstable",
        f"unstable: {rising.key} rose {_pct(rise.rise):.0f}% since epoch {rise.min_epoch + 1}"
        + ("" if rising is train else f" and {c.train_key} rose too"),
        _advice_rising(c.events, c.used),
    )


@dataclass(frozen=True)
class _Level:
    """Where the training loss ended against the trivial predictor (or its start)."""

    level: float
    high: bool
    against: str
    mon_trend: _Trend
    train_trend: _Trend
    end_fall: float


def _level(c: _Case) -> _Level:
    curve = c.base
    level = _end_level(curve.values)
    c.evidence["final_level"] = level
    if c.baseline_loss is not None:
        ratio = level / c.baseline_loss
        c.evidence.update(baseline_loss=c.baseline_loss, baseline_ratio=ratio)
        high = ratio > UNDERFIT_BASELINE_RATIO
        against = f"{ratio:.0%} of the trivial predictor's {_num(c.baseline_loss)}"
    else:
        first_value = float(curve.values[0])
        ratio = level / first_value if first_value > 0 else 0.0
        c.evidence["start_ratio"] = ratio
        high = ratio > UNDERFIT_START_RATIO
        against = f"{ratio:.0%} of its first epoch's {_num(first_value)}"
    mon_trend = _recent_trend(c.mon)
    train_trend = _recent_trend(c.train) if c.train is not None else mon_trend
    end_fall = _end_fall(c.mon.values)
    c.evidence.update(
        trend_series=c.mon.key,
        trend_points=mon_trend.points,
        trend_slope=mon_trend.slope,
        trend_rel_slope_pct=_pct(mon_trend.rel_slope),
        trend_t=mon_trend.t,
        end_fall_pct=_pct(end_fall),
    )
    return _Level(level, high, against, mon_trend, train_trend, end_fall)


def _end_fall(y: np.ndarray) -> float:
    """How far the last value beat the run's earlier best, when the end is still falling.

    Zero unless the last END_POINTS values fall at every step and the last one
    is below every value before them by more than both END_FALL_MIN and
    RISE_NOISE_MULTIPLE times the noise: a run still improving at its last
    epochs, whatever its longer trend says.
    """
    tail = y[-END_POINTS:]
    if len(y) <= END_POINTS or not np.all(np.diff(tail) < 0):
        return 0.0
    earlier_best = float(np.min(y[:-END_POINTS]))
    fall = _relative(earlier_best - float(tail[-1]), earlier_best)
    noise = _oscillation(y)[0]
    return fall if fall >= max(END_FALL_MIN, RISE_NOISE_MULTIPLE * noise) else 0.0


def _rule_underfitting(c: _Case, lv: _Level) -> Diagnosis | None:
    """6. High training loss that no longer falls: underfitting."""
    if not lv.high or lv.mon_trend.clearly_decreasing or lv.train_trend.clearly_decreasing:
        return None
    if lv.end_fall > 0:
        return None
    return c.verdict(
        "underfitting",
        f"underfitting: {c.base.key} ends at {_num(lv.level)}, {lv.against}, "
        "and is no longer falling",
        _advice_underfitting(c.used),
    )


def _rule_improving(c: _Case, lv: _Level) -> Diagnosis | None:
    """7. The monitored loss still falls clearly (trend, or its last epochs): still improving."""
    if lv.mon_trend.clearly_decreasing or (lv.high and lv.train_trend.clearly_decreasing):
        shown, trend = (
            (c.mon, lv.mon_trend) if lv.mon_trend.clearly_decreasing else (c.base, lv.train_trend)
        )
        return c.verdict(
            "still_improving",
            f"still improving: {shown.key} falls {_pct(-trend.rel_slope):.2g}% per epoch "
            f"over the last {trend.points} values (t = {trend.t:.1f})",
            _advice_improving(c.used),
        )
    if lv.end_fall > 0:
        return c.verdict(
            "still_improving",
            f"still improving: {c.mon.key} fell at each of the last {END_POINTS} epochs, "
            f"to {_pct(lv.end_fall):.2g}% below its earlier best",
            _advice_improving(c.used),
        )
    return None


def _rule_converged(c: _Case) -> Diagnosis:
    """8. Otherwise: flat, below the underfitting line."""
    best = ""
    if c.best_epoch is not None:
        best = f" (best {_num(float(c.evidence['best_value']))} at epoch {c.best_epoch + 1})"
    return c.verdict(
        "converged",
        f"converged: {c.mon.key} is flat at {_num(_end_level(c.mon.values))}{best}",
        _advice_converged(c.used),
    )


_EARLY_RULES = (
    _rule_no_data,
    _rule_nonfinite,
    _rule_growth,
    _rule_rise,
    _rule_unstable,
    _rule_too_short,
    _rule_rising,
)
_LEVEL_RULES = (_rule_underfitting, _rule_improving)


def _judge(
    curves: Mapping[str, Curve],
    *,
    monitor: str,
    baseline_loss: float | None,
    events: Mapping[str, Any],
    used: frozenset[str] = frozenset(),
) -> Diagnosis:
    """Apply the rules in order; the first that holds is the verdict."""
    c = _case(curves, monitor, baseline_loss, events, used)
    for rule in _EARLY_RULES:
        found = rule(c)
        if found is not None:
            return found
    lv = _level(c)
    for level_rule in _LEVEL_RULES:
        found = level_rule(c, lv)
        if found is not None:
            return found
    return _rule_converged(c)


# --- Advice ----------------------------------------------------------------------------------
# Advice never recommends what the run already did: ``used`` names its callbacks
# (and early stopping is implied by its events).


def _early_stopping_used(used: frozenset[str], events: Mapping[str, int] | None = None) -> bool:
    return "EarlyStopping" in used or bool(events and "stopped_epoch" in events)


def _advice_diverging(used: frozenset[str]) -> str:
    return (
        "The loss is blowing up or became NaN/Inf: the optimization is diverging and the "
        "weights after this point are not usable. Lower the learning rate (often by 3-10x), "
        "add gradient clipping (clipnorm=1.0), check the inputs and targets for NaN/Inf or "
        "unscaled features, and check that the loss matches the model's output (logits vs "
        "probabilities)."
    )


def _advice_unstable(used: frozenset[str]) -> str:
    schedule = (
        "lower ReduceLROnPlateau's factor or patience"
        if "ReduceLROnPlateau" in used
        else "add a schedule (ReduceLROnPlateau)"
    )
    return (
        "The loss jumps up and down from epoch to epoch instead of settling: the steps are too "
        f"large or too noisy. Lower the learning rate, use a larger batch size, or {schedule}; "
        "if only the validation loss swings, the validation set may be too small to measure "
        "it reliably."
    )


def _advice_rising(events: Mapping[str, int], used: frozenset[str]) -> str:
    restored = events.get("restored_epoch")
    keep = (
        f"The weights restored from epoch {restored + 1} are the ones to keep."
        if restored is not None
        else "Restore the weights from the best epoch (EarlyStopping(restore_best_weights=True))."
    )
    decay = "" if "ReduceLROnPlateau" in used else " or decay it (ReduceLROnPlateau)"
    return (
        "The monitored loss has been rising for several epochs, and not only on validation "
        "data, so this is not plain overfitting: the optimization is drifting away from a good "
        f"point. Lower the learning rate{decay}, add gradient clipping. {keep}"
    )


def _advice_underfitting(used: frozenset[str]) -> str:
    return (
        "The training loss stays high and has stopped falling: the model is not learning the "
        "training data well (it does little better than always predicting the same value). "
        "Try a larger model, a higher learning rate or more epochs, less regularization "
        "(dropout, weight decay), better features or input scaling, and check that labels "
        "match inputs."
    )


def _advice_improving(used: frozenset[str]) -> str:
    stop = (
        "; your EarlyStopping stops it when it is done"
        if _early_stopping_used(used)
        else "; EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True) "
        "stops it when it is done"
    )
    return (
        "The monitored loss is still falling clearly: training stopped before the model "
        f"finished learning. Train more epochs (calling fit again continues the run){stop}."
    )


def _advice_converged(used: frozenset[str]) -> str:
    lower = (
        "lower the learning rate further"
        if "ReduceLROnPlateau" in used
        else "lower the learning rate (ReduceLROnPlateau) for a last improvement"
    )
    save = "" if _early_stopping_used(used) else "; to save time, use EarlyStopping"
    return (
        "The monitored loss has flattened at a good level: more epochs at this learning rate "
        f"will not help much. To go further, {lower}, or change the model or the data{save}."
    )


def _advice_overfitting(since: int, key: str, ev: Mapping[str, int], used: frozenset[str]) -> str:
    restored = ev.get("restored_epoch")
    if restored is not None:
        use = f"The restored weights from epoch {restored + 1} are the ones to keep. "
    elif _early_stopping_used(used, ev):
        use = (
            f"Keep the weights from about epoch {since + 1}: your EarlyStopping does that "
            "with restore_best_weights=True. "
        )
    else:
        use = (
            f"Keep the weights from about epoch {since + 1}: "
            f"EarlyStopping(monitor={key!r}, patience=5, restore_best_weights=True) does that. "
        )
    return (
        f"{key} stopped improving at epoch {since + 1} and has risen since while the training "
        "loss did not: the model is learning details of the training set that do not carry "
        f"over to new data. {use}To generalize better, add regularization (dropout, weight "
        "decay, data augmentation), use more training data, or use a smaller model."
    )
