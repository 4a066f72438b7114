"""Learning-curve data as the diagnosis, the plots and the report read it.

A history is Keras-shaped (key -> one float per logged epoch) with, per key,
the epochs the values were logged at; `read_curves` checks and pairs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["Curve", "event_epochs", "read_curves"]


@dataclass(frozen=True, eq=False)
class Curve:
    """One logged series: the 0-based epochs it was logged at and its values."""

    key: str
    epochs: np.ndarray
    values: np.ndarray


def read_curves(
    history: Mapping[str, Sequence[float]], epochs: Mapping[str, Sequence[int]] | None
) -> dict[str, Curve]:
    """Check ``history``/``epochs`` and pair every key's values with its epochs.

    Raises:
        ArgumentTypeError: ``history`` or ``epochs`` is not a mapping, or a
            value is not a sequence of numbers.
        ArgumentError: lengths differ, or epochs are negative or not increasing.
    """
    if not isinstance(history, Mapping):
        raise ArgumentTypeError(
            "Expected `history` to be a mapping of key -> list of floats (History.history). "
            f"Received: history of type {type(history).__name__}"
        )
    if epochs is not None and not isinstance(epochs, Mapping):
        raise ArgumentTypeError(
            "Expected `epochs` to be None or a mapping of key -> list of epoch indices. "
            f"Received: epochs of type {type(epochs).__name__}"
        )
    curves: dict[str, Curve] = {}
    for key, raw in history.items():
        try:
            values = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ArgumentTypeError(
                f"Expected history[{key!r}] to be a sequence of floats. Received: {raw!r:.80}"
            ) from exc
        if values.ndim != 1:
            raise ArgumentError(
                f"Expected history[{key!r}] to be a flat sequence of floats, one per epoch. "
                f"Received: an array of shape {values.shape}"
            )
        if epochs is None:
            at = np.arange(len(values), dtype=np.int64)
        else:
            if key not in epochs:
                raise ArgumentError(
                    f"`epochs` has no entry for history key {key!r}. Expected one list of "
                    f"epoch indices per history key. Received keys: {sorted(epochs)}"
                )
            at = np.asarray(epochs[key])
            if at.ndim != 1 or len(at) != len(values):
                raise ArgumentError(
                    f"Expected epochs[{key!r}] to have one epoch index per value "
                    f"({len(values)}). Received: {len(at) if at.ndim == 1 else at.shape}"
                )
            if len(at) and (
                at.dtype.kind not in "iu" or at[0] < 0 or bool(np.any(np.diff(at) <= 0))
            ):
                raise ArgumentError(
                    f"Expected epochs[{key!r}] to be increasing 0-based integer epoch "
                    f"indices. Received: {list(at)[:20]}"
                )
            at = at.astype(np.int64)
        curves[str(key)] = Curve(str(key), at, values)
    return curves


def event_epochs(events: Mapping[str, Any]) -> dict[str, int]:
    """The early-stopping epochs in ``events``, checked."""
    out: dict[str, int] = {}
    for key in ("stopped_epoch", "best_epoch", "restored_epoch"):
        value = events.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ArgumentError(
                f"Expected events[{key!r}] to be a 0-based epoch index (int >= 0). "
                f"Received: {value!r}"
            )
        out[key] = int(value)
    return out
