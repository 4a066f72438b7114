"""`CSVLogger`: stream each epoch's logs to a CSV file, one row per epoch."""

from __future__ import annotations

import csv
import json
import os
import stat
import warnings
from collections.abc import Mapping
from typing import IO, Any

from epochal.callbacks.base import Callback, Logs
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["CSVLogger"]

# What Keras writes for a key an epoch did not log (validation every few epochs).
MISSING = "NA"


class CSVLogger(Callback):
    """Write one CSV row per epoch: the run's epoch index, then the logs.

    The columns are ``epoch`` followed by the sorted union of the first
    epoch's log keys and the keys the fit announces (``params["metrics"]``),
    so validation columns exist even when validation runs every few epochs.
    A key an epoch did not log is written as ``NA``, as in Keras. Each row is
    flushed as soon as it is written.

    The file belongs to the training run: the first ``fit`` call of a run
    creates (``append=False``, truncating any old file) or continues
    (``append=True``) the file and writes the header once; later ``fit``
    calls of the same run add rows to it under the same header. Where rows
    are present for epochs the run is about to train again (the process was
    killed after the run's last checkpoint and resumed from it), those rows
    are dropped first, so the file holds each epoch once. The same holds
    when the process was killed before the run's first checkpoint (with
    ``append=True`` the restarted script would otherwise add its epochs
    again): in a ``fit(checkpoint_dir=...)`` run a small ``.<name>.epochal``
    file beside the CSV records which run wrote the rows from where, and a
    run starting over in the same checkpoint directory replaces its own
    earlier rows. The rows of other runs are never touched.

    Args:
        filename: the CSV file, e.g. ``"runs/exp1/log.csv"``; its folder is
            created if needed.
        separator: the one-character field separator.
        append: continue an existing file instead of overwriting it when a
            new run starts. A file that already has an ``epoch,...`` header
            keeps its columns and gets no second header.

    Raises:
        ArgumentTypeError: an argument has the wrong type.
        ArgumentError: ``separator`` is not one character or is a quote or
            line break.

    Example:
        >>> model.fit(x, y, epochs=10, callbacks=[CSVLogger("training.csv")])
    """

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", *, append: bool = False
    ) -> None:
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise ArgumentTypeError(
                "CSVLogger: expected `filename` to be a str or os.PathLike. "
                f"Received: filename={filename!r}"
            )
        if not isinstance(separator, str):
            raise ArgumentTypeError(
                f"CSVLogger: expected `separator` to be a str. Received: separator={separator!r}"
            )
        if len(separator) != 1 or separator in '"\r\n':
            raise ArgumentError(
                "CSVLogger: expected `separator` to be one character other than a quote or "
                f"line break. Received: separator={separator!r}"
            )
        if not isinstance(append, bool):
            raise ArgumentTypeError(
                f"CSVLogger: expected `append` to be a bool. Received: append={append!r}"
            )
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._needs_header = False
        self._trim_pending = False
        self._warned: set[str] = set()
        self._marked = False
        self.reset_state()

    # -- run-owned state ------------------------------------------------------
    def reset_state(self) -> None:
        # The column keys once the header is settled (None: the run has written
        # nothing yet), and the byte offset where the run's rows begin.
        self._keys: list[str] | None = None
        self._start = 0

    def state_dict(self) -> dict[str, Any]:
        return {"keys": None if self._keys is None else list(self._keys), "start": self._start}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        keys = state["keys"]
        self._keys = None if keys is None else [str(key) for key in keys]
        self._start = int(state["start"])

    # -- hooks ----------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._close()
        has_content = os.path.isfile(self.filename) and os.path.getsize(self.filename) > 0
        self._trim_pending = False
        if self._keys is not None:
            # A later fit call of the run: go on under the header already written.
            mode = "a"
            self._trim_pending = has_content
        elif self.append:
            mode = "a"
            if has_content:
                self._keys = self._existing_columns()
                self._start = os.path.getsize(self.filename)
                orphan = self._own_rows_start()
                if orphan is not None:  # this run's rows from an attempt no checkpoint kept
                    self._start, self._trim_pending = orphan, True
        else:
            mode = "w"
            has_content = False
        self._needs_header = not has_content
        self._marked = False
        folder = os.path.dirname(self.filename)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self._file = open(self.filename, mode, newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.writer(self._file, delimiter=self.separator, lineterminator="\n")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self._file is None:  # a hook called outside fit: open as a fit call would
            self.on_train_begin()
        assert self._file is not None  # for mypy: on_train_begin opened it
        if self._trim_pending:
            self._drop_rows_from(epoch)
            self._trim_pending = False
        if self._keys is None:
            announced = self.params.get("metrics") or ()
            self._keys = sorted((set(logs) | set(announced)) - {"epoch"})
        if self._needs_header:
            self._writer.writerow(["epoch", *self._keys])
            self._file.flush()
            self._start = os.path.getsize(self.filename)
            self._needs_header = False
        if not self._marked:
            self._write_marker()
        self._warn_unrecorded(logs)
        self._writer.writerow([epoch, *(logs.get(key, MISSING) for key in self._keys)])
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._close()

    # -- the marker: which checkpointed run wrote the rows from where ---------
    def _marker_path(self) -> str:
        folder, name = os.path.split(self.filename)
        return os.path.join(folder, f".{name}.epochal")

    def _write_marker(self) -> None:
        self._marked = True
        run = self.params.get("run_id")
        if not isinstance(run, str):
            return  # no checkpoint_dir: the run cannot be restarted, nothing to mark
        try:
            with open(self._marker_path(), "w", encoding="utf-8") as file:
                file.write(json.dumps({"run": run, "start": self._start}))
        except OSError:  # best effort: without it, a killed first attempt's rows stay
            pass

    def _own_rows_start(self) -> int | None:
        """Where this run's rows from an earlier, killed attempt begin (per the marker)."""
        run = self.params.get("run_id")
        path = self._marker_path()
        if not isinstance(run, str):
            return None
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode) or os.path.getsize(path) > 4096:
                return None
            with open(path, encoding="utf-8") as file:
                marker = json.loads(file.read())
        except (OSError, ValueError):
            return None
        start = marker.get("start") if isinstance(marker, dict) else None
        if marker.get("run") != run or not isinstance(start, int) or isinstance(start, bool):
            return None
        return start if 0 <= start <= os.path.getsize(self.filename) else None

    # -- helpers --------------------------------------------------------------
    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None

    def _existing_columns(self) -> list[str] | None:
        """The columns of an existing file's ``epoch,...`` header, or None if it has none."""
        with open(self.filename, newline="", encoding="utf-8") as file:
            header = next(csv.reader(file, delimiter=self.separator), [])
        return header[1:] if header[:1] == ["epoch"] else None

    def _drop_rows_from(self, epoch: int) -> None:
        """Cut the file before the first row, after the run's start, of an epoch >= ``epoch``.

        Such rows were written after the checkpoint the run resumed from; the
        run trains those epochs again and writes them anew.
        """
        assert self._file is not None
        separator = self.separator.encode("utf-8")
        position = self._start
        with open(self.filename, "rb") as file:
            file.seek(self._start)
            for line in file:
                first = line.split(separator, 1)[0].strip()
                if first.isdigit() and int(first) >= epoch:
                    self._file.truncate(position)
                    return
                position += len(line)

    def _warn_unrecorded(self, logs: Mapping[str, Any]) -> None:
        assert self._keys is not None
        for key in logs:
            if key not in self._keys and key != "epoch" and key not in self._warned:
                self._warned.add(key)
                warnings.warn(
                    f"CSVLogger: the logs have a key {key!r} that is not a column of "
                    f"{self.filename!r} (its header was written before the key appeared); "
                    f"it is not recorded. Columns: epoch, {', '.join(self._keys)}.",
                    RuntimeWarning,
                    stacklevel=2,
                )
