"""Decision logic shared by callbacks that watch a logged quantity.

Pure functions, testable without a model: which direction is better for a
monitored key, whether a value improves on a reference, and the one-time
warning for a key that is not in the logs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from epochal.errors import ArgumentError

if TYPE_CHECKING:
    from epochal.callbacks.base import CallbackContext

Mode = Literal["min", "max"]
MODES = ("auto", "min", "max")


def check_mode(owner: str, mode: str) -> None:
    """Raise for a ``mode`` other than auto/min/max (Keras silently falls back; we do not)."""
    if mode not in MODES:
        raise ArgumentError(
            f"{owner}: expected `mode` to be one of 'auto', 'min', 'max'. Received: mode={mode!r}"
        )


def resolve_mode(owner: str, monitor: str, mode: str, model: CallbackContext | None) -> Mode:
    """The direction in which ``monitor`` improves.

    ``"min"``/``"max"`` are taken as given. For ``"auto"``: a loss (``loss``,
    ``val_loss``, or any key ending in ``loss``) is minimized; a compiled
    metric uses its known direction (accuracy, AUC, F1, ... up; errors down).

    Raises:
        ArgumentError: ``mode="auto"`` and the direction of ``monitor`` is unknown.
    """
    check_mode(owner, mode)
    if mode in ("min", "max"):
        return mode  # type: ignore[return-value]
    name = monitor.removeprefix("val_")
    if name.endswith("loss"):
        return "min"
    if name in ("learning_rate", "lr"):
        return "min"
    direction = model.metric_direction(name) if model is not None else None
    if direction is not None:
        return direction
    raise ArgumentError(
        f"{owner}: cannot tell whether monitor={monitor!r} should be minimized or maximized. "
        "Pass mode='min' or mode='max'."
    )


def is_improvement(current: float, reference: float | None, mode: Mode, min_delta: float) -> bool:
    """Whether ``current`` beats ``reference`` by more than ``min_delta`` (Keras semantics).

    ``min_delta`` is a magnitude: in min mode ``current`` must be below
    ``reference - |min_delta|``, in max mode above ``reference + |min_delta|``.
    A missing reference is always beaten; NaN never improves.
    """
    if math.isnan(current):
        return False
    if reference is None:
        return True
    delta = abs(min_delta)
    if mode == "min":
        return current + delta < reference
    return current - delta > reference


def initial_best(mode: Mode) -> float:
    """The reference a first value always beats."""
    return math.inf if mode == "min" else -math.inf


def monitor_value(
    owner: str,
    monitor: str,
    logs: Mapping[str, Any] | None,
    warned: set[str],
    expected: Mapping[str, Any] | None = None,
) -> float | None:
    """The monitored value from ``logs``, or ``None`` with a one-time warning listing the keys.

    ``warned`` is the caller's set of keys already warned about, so a key
    missing every epoch warns once, not once per epoch. ``expected`` is the
    fit's ``params``: a key listed in its ``"metrics"`` is merely absent this
    epoch (validation runs every few epochs) and does not warn.
    """
    logs = logs or {}
    value = logs.get(monitor)
    if value is None:
        expected_keys = (expected or {}).get("metrics") or ()
        if monitor not in expected_keys:
            warn_missing(owner, monitor, logs, warned)
        return None
    return float(value)


def warn_missing(owner: str, monitor: str, available: Iterable[str], warned: set[str]) -> None:
    """Warn, once per key, that ``monitor`` is not among the ``available`` log keys."""
    if monitor in warned:
        return
    warned.add(monitor)
    keys = ", ".join(sorted(available)) or "(none)"
    warnings.warn(
        f"{owner} is conditioned on monitor={monitor!r}, which is not in the logs. "
        f"Available keys: {keys}.",
        RuntimeWarning,
        stacklevel=4,
    )
