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

1. ``insufficient_data``: fewer than ``MIN_POINTS`` values of ``monitor``.
2. ``diverging``: a NaN or infinite value in the training or validation loss;
   or the training loss's end level is at least ``DIVERGE_FROM_START`` times
   its first value or ``DIVERGE_FROM_MIN`` times its minimum; or it made a
   sustained rise of ``DIVERGE_MIN_RISE``.
3. ``unstable``: the training or monitored loss oscillates: its mean absolute
   deviation from the smoothed curve is at least ``UNSTABLE_MIN_NOISE`` of the
   curve's level, and at least ``UNSTABLE_MIN_FLIP_FRACTION`` of consecutive
   steps reverse direction with both steps larger than ``UNSTABLE_MIN_JUMP``
   of the level (needs ``UNSTABLE_MIN_POINTS`` values).
4. ``overfitting``: the validation loss made a sustained rise of
   ``OVERFIT_MIN_RISE`` or more, and the training loss (smoothed at the
   validation minimum, end level now) rose by at most
   ``OVERFIT_TRAIN_TOLERANCE`` over the same epochs. ``since_epoch`` is the
   epoch of the smoothed validation minimum. When the validation loss rises
   that way but the training loss rose more than the tolerance, or the
   judged series is the training loss itself (no validation data), the
   verdict is ``unstable``: the optimization is not settling.
5. ``underfitting``: the training loss's end level is above
   ``UNDERFIT_BASELINE_RATIO`` times ``baseline_loss`` (the trivial constant
   predictor), or, without a baseline, above ``UNDERFIT_START_RATIO`` times its
   first value; and neither the training loss nor ``monitor`` is clearly
   decreasing.
6. ``still_improving``: ``monitor`` is clearly decreasing (or, at an
   underfitting level, the training loss is): more epochs would help.
7. ``converged``: otherwise: flat, at a level below the underfitting line.

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

import math
from collections.abc import Mapping, Sequence
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

_ERROR_NAMES = ("mse", "mae", "rmse", "mape", "msle", "error", "hinge", "crossentropy")


@dataclass(frozen=True)
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
    return _judge(curves, monitor=monitor, baseline_loss=baseline_loss, events=events or {})


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


def _judge(
    curves: Mapping[str, Curve],
    *,
    monitor: str,
    baseline_loss: float | None,
    events: Mapping[str, Any],
) -> Diagnosis:
    ev = event_epochs(events)
    suffix = _events_suffix(ev)
    train_key = monitor.removeprefix("val_")
    val_key = "val_" + train_key
    cannot: list[str] = []
    if monitor in curves:
        mon = curves[monitor]
    elif monitor.startswith("val_") and train_key in curves:
        mon = curves[train_key]
    else:
        raise ArgumentError(
            f"Expected `monitor` to be a key of `history`. Received: monitor={monitor!r}; "
            f"available keys: {sorted(curves)}"
        )
    train = curves.get(train_key)
    val = curves.get(val_key)
    if val is None:
        cannot.append(f"overfitting: no validation data ({val_key!r} is not in the history)")
    elif len(val.values) < MIN_POINTS:
        cannot.append(f"overfitting: fewer than {MIN_POINTS} values of {val_key!r}")
    if train is None:
        cannot.append(f"underfitting: no training series {train_key!r} in the history")
    use_baseline = baseline_loss is not None and train_key == "loss"
    if not use_baseline:
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
    evidence.update(ev)

    def verdict(v: Verdict, summary: str, advice: str, since: int | None = None) -> Diagnosis:
        return Diagnosis(v, since, best_epoch, evidence, advice, summary + suffix, tuple(cannot))

    # 1. insufficient data
    if len(mon.values) < MIN_POINTS:
        return verdict(
            "insufficient_data",
            f"insufficient data: {len(mon.values)} epoch(s) of {mon.key}; "
            f"at least {MIN_POINTS} are needed to judge the curves",
            f"With fewer than {MIN_POINTS} values of {mon.key} no trend can be told from noise. "
            "Train for more epochs (fit continues the run) and diagnose again.",
        )

    # 2. diverging
    for curve in (train, val, mon):
        if curve is None:
            continue
        bad = ~np.isfinite(curve.values)
        if bad.any():
            first = int(curve.epochs[np.argmax(bad)])
            evidence.update(nonfinite_key=curve.key, nonfinite_epoch=first)
            return verdict(
                "diverging",
                f"diverging: {curve.key} is {curve.values[np.argmax(bad)]} from epoch {first + 1}",
                _ADVICE_DIVERGING,
            )
    if train is not None and len(train.values) < MIN_POINTS:
        train = None  # too short to judge; the monitored series stands in for it
    base = train if train is not None else mon
    start, low, end = float(base.values[0]), float(np.min(base.values)), _end_level(base.values)
    if low > 0 and (end >= DIVERGE_FROM_START * start or end >= DIVERGE_FROM_MIN * low):
        evidence.update(
            series=base.key, start=start, minimum=low, end_level=end, growth_vs_min=end / low
        )
        return verdict(
            "diverging",
            f"diverging: {base.key} grew to {end / low:.3g}x its minimum "
            f"({_num(low)} -> {_num(end)})",
            _ADVICE_DIVERGING,
        )
    rise = _rise_after_minimum(base)
    if rise.significant(DIVERGE_MIN_RISE):
        evidence.update(
            series=base.key, rise_pct=_pct(rise.rise), rise_t=rise.t, rise_from_epoch=rise.min_epoch
        )
        return verdict(
            "diverging",
            f"diverging: {base.key} rose {_pct(rise.rise):.0f}% since epoch "
            f"{rise.min_epoch + 1} (trend t = {rise.t:.1f})",
            _ADVICE_DIVERGING,
        )

    # 3. unstable
    for curve in dict.fromkeys(c for c in (train, mon) if c is not None):
        if len(curve.values) < UNSTABLE_MIN_POINTS:
            continue
        noise, flips = _oscillation(curve.values)
        if noise >= UNSTABLE_MIN_NOISE and flips >= UNSTABLE_MIN_FLIP_FRACTION:
            evidence.update(series=curve.key, noise_pct=_pct(noise), reversal_fraction=flips)
            return verdict(
                "unstable",
                f"unstable: {curve.key} swings {_pct(noise):.0f}% around its trend, "
                f"reversing direction in {flips:.0%} of epochs",
                _ADVICE_UNSTABLE,
            )

    # 4. overfitting (and both losses rising)
    rising = val if val is not None and len(val.values) >= MIN_POINTS else mon
    rise = _rise_after_minimum(rising)
    if rise.significant(OVERFIT_MIN_RISE):
        evidence.update(
            series=rising.key,
            min_epoch=rise.min_epoch,
            min_value=rise.min_value,
            end_level=rise.end_level,
            rise_pct=_pct(rise.rise),
            rise_t=rise.t,
        )
        train_change: float | None = None
        if train is not None and rising is not train:
            smooth = _smooth_level(train.values)
            j = max(0, int(np.searchsorted(train.epochs, rise.min_epoch, side="right")) - 1)
            train_change = _relative(_end_level(train.values) - float(smooth[j]), float(smooth[j]))
            evidence["train_fall_pct"] = _pct(-train_change)
        if rising is not train and (
            train_change is None or train_change <= OVERFIT_TRAIN_TOLERANCE
        ):
            moved = "" if train_change is None else f" while {train_key} {_moved(train_change)}"
            return verdict(
                "overfitting",
                f"overfitting since epoch {rise.min_epoch + 1}: {rising.key} rose "
                f"{_pct(rise.rise):.0f}% from its minimum{moved}",
                _advice_overfitting(rise.min_epoch, rising.key, ev),
                since=rise.min_epoch,
            )
        return verdict(
            "unstable",
            f"unstable: {rising.key} rose {_pct(rise.rise):.0f}% since epoch "
            f"{rise.min_epoch + 1}" + ("" if rising is train else f" and {train_key} rose too"),
            _ADVICE_RISING,
        )

    # 5.-7. underfitting, still improving, converged
    level_curve = train if train is not None else mon
    level = _end_level(level_curve.values)
    evidence["final_level"] = level
    if use_baseline and baseline_loss is not None:
        ratio = level / baseline_loss
        evidence.update(baseline_loss=baseline_loss, baseline_ratio=ratio)
        high = ratio > UNDERFIT_BASELINE_RATIO
        against = f"{ratio:.0%} of the trivial predictor's {_num(baseline_loss)}"
    else:
        first_value = float(level_curve.values[0])
        ratio = level / first_value if first_value > 0 else 0.0
        evidence["start_ratio"] = ratio
        high = ratio > UNDERFIT_START_RATIO
        against = f"{ratio:.0%} of its first epoch's {_num(first_value)}"
    mon_trend = _recent_trend(mon)
    train_trend = _recent_trend(train) if train is not None else mon_trend
    evidence.update(
        trend_series=mon.key,
        trend_points=mon_trend.points,
        trend_slope=mon_trend.slope,
        trend_rel_slope_pct=_pct(mon_trend.rel_slope),
        trend_t=mon_trend.t,
    )
    if high and not mon_trend.clearly_decreasing and not train_trend.clearly_decreasing:
        return verdict(
            "underfitting",
            f"underfitting: {level_curve.key} ends at {_num(level)}, {against}, "
            "and is no longer falling",
            _ADVICE_UNDERFITTING,
        )
    if mon_trend.clearly_decreasing or (high and train_trend.clearly_decreasing):
        shown, trend = (
            (mon, mon_trend) if mon_trend.clearly_decreasing else (level_curve, train_trend)
        )
        return verdict(
            "still_improving",
            f"still improving: {shown.key} falls {_pct(-trend.rel_slope):.2g}% per epoch "
            f"over the last {trend.points} values (t = {trend.t:.1f})",
            _ADVICE_IMPROVING,
        )
    best = ""
    if best_epoch is not None:
        best = f" (best {_num(float(evidence['best_value']))} at epoch {best_epoch + 1})"
    return verdict(
        "converged",
        f"converged: {mon.key} is flat at {_num(_end_level(mon.values))}{best}",
        _ADVICE_CONVERGED,
    )


# --- Advice ----------------------------------------------------------------------------------

_ADVICE_DIVERGING = (
    "The loss is blowing up or became NaN/Inf: the optimization is diverging and the weights "
    "after this point are not usable. Lower the learning rate (often by 3-10x), add gradient "
    "clipping (clipnorm=1.0), check the inputs and targets for NaN/Inf or unscaled features, "
    "and check that the loss matches the model's output (logits vs probabilities)."
)
_ADVICE_UNSTABLE = (
    "The loss jumps up and down from epoch to epoch instead of settling: the steps are too "
    "large or too noisy. Lower the learning rate, use a larger batch size, or add a schedule "
    "(ReduceLROnPlateau); if only the validation loss swings, the validation set may be too "
    "small to measure it reliably."
)
_ADVICE_RISING = (
    "The monitored loss has been rising for several epochs, and not only on validation data, "
    "so this is not plain overfitting: the optimization is drifting away from a good point. "
    "Lower the learning rate or decay it (ReduceLROnPlateau), add gradient clipping, and "
    "restore the weights from the best epoch (EarlyStopping(restore_best_weights=True))."
)
_ADVICE_UNDERFITTING = (
    "The training loss stays high and has stopped falling: the model is not learning the "
    "training data well (it does little better than always predicting the same value). Try "
    "a larger model, a higher learning rate or more epochs, less regularization (dropout, "
    "weight decay), better features or input scaling, and check that labels match inputs."
)
_ADVICE_IMPROVING = (
    "The monitored loss is still falling clearly: training stopped before the model "
    "finished learning. Train more epochs (calling fit again continues the run); "
    "EarlyStopping(monitor='val_loss', patience=10, restore_best_weights=True) stops it "
    "when it is done."
)
_ADVICE_CONVERGED = (
    "The monitored loss has flattened at a good level: more epochs at this learning rate "
    "will not help much. To go further, lower the learning rate (ReduceLROnPlateau) for a "
    "last improvement, or change the model or the data; to save time, use EarlyStopping."
)


def _advice_overfitting(since: int, key: str, ev: Mapping[str, int]) -> str:
    restored = ev.get("restored_epoch")
    use = (
        f"The restored weights from epoch {restored + 1} are the ones to keep. "
        if restored is not None
        else f"Keep the weights from about epoch {since + 1}: "
        f"EarlyStopping(monitor={key!r}, patience=5, restore_best_weights=True) does that. "
    )
    return (
        f"{key} stopped improving at epoch {since + 1} and has risen since while the training "
        "loss did not: the model is learning details of the training set that do not carry "
        f"over to new data. {use}To generalize better, add regularization (dropout, weight "
        "decay, data augmentation), use more training data, or use a smaller model."
    )
