"""`History`: the record of logged values per epoch."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from epochal.callbacks.base import Callback, Logs

if TYPE_CHECKING:
    from epochal.diagnose import Diagnosis

__all__ = ["History"]


class History(Callback):
    """Records every epoch's logs, as Keras's ``History`` does.

    ``fit`` returns one holding that call's epochs; ``model.history`` holds
    the whole run. ``history.history`` maps each log key to a list of floats,
    one per epoch in which the key was logged (validation keys are missing on
    epochs without validation, see ``validation_freq``), and
    ``history.epoch`` lists the run's 0-based epoch indices.

    Example:
        >>> h = model.fit(x, y, epochs=3)
        >>> h.history["loss"], h.epoch
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        #: key -> the epoch index of each value in ``history[key]``
        self.epochs_by_key: dict[str, list[int]] = {}
        #: notes for the diagnosis: best/stopped/restored epoch (set by the run)
        self.events: dict[str, Any] = {}
        #: loss of the constant predictor on the training targets (set by the run)
        self.baseline_loss: float | None = None

    def record(self, epoch: int, logs: Mapping[str, Any]) -> None:
        """Append one epoch's logs."""
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
            self.epochs_by_key.setdefault(key, []).append(epoch)

    def merge_last(self, epoch: int, logs: Mapping[str, Any]) -> None:
        """Bring the entry of ``epoch`` (the last recorded) up to date with ``logs``."""
        for key, value in logs.items():
            epochs = self.epochs_by_key.setdefault(key, [])
            values = self.history.setdefault(key, [])
            if epochs and epochs[-1] == epoch:
                values[-1] = float(value)
            else:
                epochs.append(epoch)
                values.append(float(value))

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.record(epoch, logs or {})

    def __repr__(self) -> str:
        """One line per key (first -> last value), then the verdict line, as ``fit`` prints it."""
        if not self.epoch:
            return "History: no epochs"
        lines = [f"History: {_epoch_span(self.epoch)}"]
        for key, values in self.history.items():
            if values:
                lines.append(f"  {key}: {_num(values[0])} -> {_num(values[-1])}")
        verdict = self._verdict_line()
        if verdict:
            lines.append(verdict)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Notebook display: a table of each key's first, last and best value, and the verdict."""
        from html import escape

        from epochal.diagnose import lower_is_better

        rows = []
        for key, values in self.history.items():
            if not values:
                continue
            epochs = self.epochs_by_key.get(key) or list(range(len(values)))
            direction = lower_is_better(key)
            best = ""
            finite = [(v, e) for v, e in zip(values, epochs, strict=False) if math.isfinite(v)]
            if direction is not None and finite:
                v, e = (min if direction else max)(finite, key=lambda pair: pair[0])
                best = f"{_num(v)} (epoch {e + 1})"
            cells = (key, _num(values[0]), _num(values[-1]), best)
            rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in ("key", "first", "last", "best"))
        verdict = self._verdict_line()
        return (
            f"<div><p>History: {escape(_epoch_span(self.epoch))}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            + (f"<p><b>{escape(verdict)}</b></p>" if verdict else "")
            + "</div>"
        )

    def _verdict_line(self) -> str:
        """The diagnosis summary, or '' when these curves cannot be judged (no loss logged)."""
        from epochal.errors import EpochalError

        try:
            return self.diagnose().summary
        except EpochalError:
            return ""

    # -- the run's own copy ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (non-finite floats as strings)."""
        return {
            "epoch": list(self.epoch),
            "history": {k: [_encode(v) for v in vs] for k, vs in self.history.items()},
            "epochs_by_key": {k: list(v) for k, v in self.epochs_by_key.items()},
            "events": dict(self.events),
            "baseline_loss": self.baseline_loss,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        out = cls()
        out.load_dict(data)
        return out

    def load_dict(self, data: Mapping[str, Any]) -> None:
        """Take the records of `to_dict`'s form in place (holders of this object see them)."""
        self.epoch = [int(e) for e in data.get("epoch", [])]
        self.history = {k: [_decode(v) for v in vs] for k, vs in data.get("history", {}).items()}
        self.epochs_by_key = {
            k: [int(e) for e in v] for k, v in data.get("epochs_by_key", {}).items()
        }
        self.events = dict(data.get("events", {}))
        self.baseline_loss = data.get("baseline_loss")

    def slice(self, start: int, stop: int) -> History:
        """The epochs ``start <= epoch < stop`` of this history, as a new `History`."""
        out = History()
        for key, values in self.history.items():
            epochs = self.epochs_by_key[key]  # increasing: bisect, do not scan the run
            lo, hi = bisect.bisect_left(epochs, start), bisect.bisect_left(epochs, stop)
            if hi > lo:
                out.history[key] = values[lo:hi]
                out.epochs_by_key[key] = epochs[lo:hi]
        lo, hi = bisect.bisect_left(self.epoch, start), bisect.bisect_left(self.epoch, stop)
        out.epoch = self.epoch[lo:hi]
        out.events = dict(self.events)
        out.baseline_loss = self.baseline_loss
        return out

    def copy(self) -> History:
        return History.from_dict(self.to_dict())

    # -- reading the curves ---------------------------------------------------
    def diagnose(self, *, monitor: str = "val_loss") -> Diagnosis:
        """Read the learning curves: over/underfitting, still improving, converged, ...

        See `epochal.diagnose` for the rules and thresholds.
        """
        from epochal.diagnose import diagnose

        return diagnose(
            self.history,
            self.epochs_by_key,
            baseline_loss=self.baseline_loss,
            monitor=monitor,
            events=dict(self.events) or None,
        )

    def plot(self, path: Any = None, metrics: Sequence[str] | None = None) -> Any:
        """Draw the learning curves with matplotlib; save to ``path`` (PNG/SVG) if given.

        Returns:
            The matplotlib ``Figure``.
        """
        from epochal.plot import plot_history

        return plot_history(
            self.history,
            self.epochs_by_key,
            metrics=metrics,
            path=path,
            events=dict(self.events) or None,
        )


def _num(value: float) -> str:
    return f"{value:.4g}"


def _epoch_span(epochs: Sequence[int]) -> str:
    """'6 epochs (1-6)', numbered from 1 as Keras prints them."""
    if not epochs:
        return "no epochs"
    n = len(epochs)
    span = f"{epochs[0] + 1}" if n == 1 else f"{epochs[0] + 1}-{epochs[-1] + 1}"
    return f"{n} epoch{'s' if n != 1 else ''} ({span})"


def _encode(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)


def _decode(value: float | str) -> float:
    return float(value)
