"""`ProgbarLogger`: the progress display of ``fit``, ``evaluate`` and ``predict``.

``verbose=1`` draws a live tqdm bar per epoch (steps, elapsed time, rate and
the running logs) in a terminal or notebook. When output goes to a pipe or a
file, a live bar would write carriage returns at every refresh, so it prints
one plain line per epoch instead. ``verbose=2`` always prints one line per
epoch. The bar refreshes at most ten times a second and reads the running
logs (a device sync) only then.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from epochal.callbacks.base import Callback, Logs

__all__ = ["ProgbarLogger"]

REFRESH_SECONDS = 0.1


BAR_FORMAT = "{desc} {n_fmt}/{total_fmt}{postfix} |{bar}| {elapsed}<{remaining}, {rate_fmt}"
"""The live bar: the running logs come right after the step count, before the bar
and the times, so that a narrow terminal shrinks the bar and cuts the times first
and the loss and metrics stay visible (80 columns show the loss and three metrics)."""


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (not a terminal IPython)."""
    if "ipykernel" not in sys.modules:
        return False
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _has_widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401  # tqdm's notebook bar is an ipywidgets widget
    except ImportError:
        return False
    return True


def _interactive(stream: TextIO) -> bool:
    """Whether a live bar can redraw in place: a terminal, or a notebook with ipywidgets.

    A notebook without ipywidgets cannot redraw text in place (each refresh
    would be a new line, with a TqdmWarning): it gets one line per epoch.
    """
    if _in_notebook():
        return _has_widgets()
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _format_logs(logs: Mapping[str, Any]) -> str:
    parts = []
    for key in logs:
        try:
            value = float(logs[key])
        except (TypeError, ValueError):
            continue
        parts.append(
            f"{key}: {value:.4g}" if abs(value) < 1e-3 and value else f"{key}: {value:.4f}"
        )
    return " - ".join(parts)


class ProgbarLogger(Callback):
    """Prints progress: a live bar (``verbose=1``) or one line per epoch (``verbose=2``).

    Added by ``fit``/``evaluate``/``predict`` when ``verbose`` is not 0.

    Args:
        verbose: 1 for a bar, 2 for a line per epoch.
        stream: where to write; defaults to ``sys.stdout`` at the time of use.
    """

    def __init__(self, verbose: int = 1, *, stream: TextIO | None = None) -> None:
        super().__init__()
        self.verbose = verbose
        self._stream = stream
        self._bar: Any = None
        self._seen = 0
        self._last = 0.0
        self._start = 0.0
        self._steps: int | None = None
        self._epochs = 0
        self._mode = "fit"
        self._desc: str | None = None
        self._total: int | None = None

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def _live(self) -> bool:
        return self.verbose == 1 and _interactive(self.stream)

    def _open_bar(self, desc: str | None, total: int | None) -> None:
        # The tqdm bar itself is made only once the epoch has run REFRESH_SECONDS:
        # building and closing one costs about half a millisecond, more than a
        # whole short epoch, which just gets its final line.
        self._seen = 0
        self._start = self._last = time.monotonic()
        self._desc, self._total = desc, total

    def _make_bar(self) -> None:
        if _in_notebook():  # _live() checked that ipywidgets is there: a widget bar
            from tqdm.notebook import tqdm
        else:
            from tqdm import tqdm
        self._bar = tqdm(
            total=self._total,
            desc=self._desc,
            unit="step",
            file=self.stream,
            leave=True,
            dynamic_ncols=True,
            mininterval=REFRESH_SECONDS,
            bar_format=BAR_FORMAT,
        )
        # The bar starts late: date it back to the epoch's start so the rate is right.
        started = self._bar._time() - (time.monotonic() - self._start)
        self._bar.start_t = self._bar.last_print_t = started

    def _advance(self, logs: Mapping[str, Any] | None) -> None:
        self._seen += 1
        now = time.monotonic()
        if now - self._last < REFRESH_SECONDS:
            return
        self._last = now
        if self._bar is None:
            if not self._live():
                return
            self._make_bar()
        self._bar.update(self._seen - self._bar.n)
        if logs:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)
        self._bar.refresh()

    def _close(self, desc: str | None, logs: Mapping[str, Any] | None) -> None:
        elapsed = time.monotonic() - self._start
        if self._bar is not None:
            # The bar ends at its full count; all the epoch's logs (validation too) go on
            # a line of their own below it, where a narrow terminal cannot cut them off.
            self._bar.update(self._seen - self._bar.n)
            self._bar.set_postfix_str("", refresh=False)
            self._bar.close()
            self._bar = None
            text = _format_logs(logs or {})
            if text:
                print(f"  {text}", file=self.stream, flush=True)
            return
        per_step = elapsed / max(self._seen, 1)
        total = self._steps if self._steps is not None else self._seen
        head = f"{desc} - " if desc else ""
        line = f"{head}{self._seen}/{total} - {elapsed:.1f}s - {per_step * 1e3:.0f}ms/step"
        text = _format_logs(logs or {})
        print(f"{line} - {text}" if text else line, file=self.stream, flush=True)

    # -- fit ------------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._mode = "fit"
        self._epochs = int(self.params.get("epochs", 0))
        self._steps = self.params.get("steps")

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._open_bar(f"Epoch {epoch + 1}/{self._epochs}", self._steps)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._advance(logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._close(f"Epoch {epoch + 1}/{self._epochs}", logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._bar is not None:  # interrupted mid-epoch
            self._bar.close()
            self._bar = None

    # -- evaluate / predict (not validation inside fit) -----------------------
    def on_test_begin(self, logs: Logs | None = None) -> None:
        if self.params.get("mode") == "evaluate":
            self._steps = self.params.get("steps")
            self._open_bar("Evaluate", self._steps)

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self.params.get("mode") == "evaluate":
            self._advance(logs)

    def on_test_end(self, logs: Logs | None = None) -> None:
        if self.params.get("mode") == "evaluate":
            self._close("Evaluate", logs)

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        self._steps = self.params.get("steps")
        self._open_bar("Predict", self._steps)

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self._advance(None)

    def on_predict_end(self, logs: Logs | None = None) -> None:
        self._close("Predict", None)
