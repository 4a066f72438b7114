"""`TensorBoard`: write the logs as TensorBoard scalars.

Only scalars are written, through ``torch.utils.tensorboard.SummaryWriter``,
which needs the optional ``tensorboard`` package
(``pip install 'epochal[tensorboard]'``); it is imported when a `TensorBoard`
callback is created, not when epochal is imported.
"""

from __future__ import annotations

import os
import struct
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import torch

from epochal.callbacks.base import Callback, Logs
from epochal.errors import ArgumentError, ArgumentTypeError

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

__all__ = ["TensorBoard"]

_TRAIN, _VALIDATION = "train", "validation"
# Where this process left each (log_dir, run id)'s event files: (epoch, batch).
# A fit starting there has nothing of its own to drop; any other start is a
# resume (or a restart) and scans the run's files once.
_LEFT_AT: dict[tuple[str, str], tuple[int, int]] = {}


def _summary_writer_class() -> type[SummaryWriter]:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch raises a plain ImportError when tensorboard is missing
        raise ModuleNotFoundError(
            "TensorBoard: writing TensorBoard logs needs the `tensorboard` package, which is "
            "not installed. Install it with: pip install 'epochal[tensorboard]'",
            name="tensorboard",
        ) from exc
    return SummaryWriter


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(
            f"TensorBoard: expected `{name}` to be an int. Received: {name}={value!r}"
        )
    if value < minimum:
        raise ArgumentError(
            f"TensorBoard: expected `{name}` to be >= {minimum}. Received: {name}={value}"
        )
    return value


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(
            f"TensorBoard: expected `{name}` to be a bool. Received: {name}={value!r}"
        )
    return value


class TensorBoard(Callback):
    """Write the epoch logs, and optionally batch logs, as TensorBoard scalars.

    As in Keras, training values go to ``<log_dir>/train`` and validation
    values (the ``val_`` keys, without their prefix) to
    ``<log_dir>/validation``, tagged ``epoch_<key>`` (``epoch_loss``,
    ``epoch_accuracy``, ...) with the run's epoch index as the step, so the
    curves of a run split into several ``fit`` calls join up. The learning
    rate is written as ``epoch_learning_rate``: the value in the logs if a
    callback put one there, else the optimizer's current rate.

    With an integer ``update_freq``, every ``update_freq``-th training batch
    also writes the running batch logs as ``batch_<key>``, with the run's
    batch count as the step (kept with the run across ``fit`` calls). That
    reads every batch log, which waits for the device; with
    ``update_freq="epoch"`` the callback adds no per-batch work at all.

    Args:
        log_dir: the folder to write the event files to.
        histogram_freq: not supported (epochal writes scalars only); a
            non-zero value is ignored with a warning.
        write_graph: accepted for Keras compatibility; no graph is written.
        write_images: not supported; ``True`` is ignored with a warning.
        write_steps_per_second: also write ``epoch_steps_per_second``, the
            training batches per second of wall-clock time of each epoch.
        update_freq: ``"epoch"``, ``"batch"`` (same as 1), or an int ``N >= 1``
            to write batch-level scalars every ``N`` batches.
        profile_batch: not supported; a non-zero value is ignored with a warning.
        embeddings_freq: not supported; a non-zero value is ignored with a warning.
        embeddings_metadata: not supported; a value is ignored with a warning.

    Raises:
        ModuleNotFoundError: the ``tensorboard`` package is not installed.
        ArgumentTypeError: an argument has the wrong type.
        ArgumentError: an argument has an invalid value (e.g. ``update_freq=0``).

    Example:
        >>> model.fit(x, y, epochs=10, callbacks=[TensorBoard(log_dir="runs/tb")])
        >>> # then: tensorboard --logdir runs/tb
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "logs",
        *,
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq: Literal["epoch", "batch"] | int = "epoch",
        profile_batch: int | tuple[int, int] | str = 0,
        embeddings_freq: int = 0,
        embeddings_metadata: str | Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)):
            raise ArgumentTypeError(
                "TensorBoard: expected `log_dir` to be a str or os.PathLike. "
                f"Received: log_dir={log_dir!r}"
            )
        if isinstance(update_freq, str):
            if update_freq not in ("epoch", "batch"):
                raise ArgumentError(
                    "TensorBoard: expected `update_freq` to be 'epoch', 'batch' or an int >= 1. "
                    f"Received: update_freq={update_freq!r}"
                )
            self.update_freq: Literal["epoch"] | int = 1 if update_freq == "batch" else "epoch"
        elif isinstance(update_freq, bool) or not isinstance(update_freq, int):
            raise ArgumentTypeError(
                "TensorBoard: expected `update_freq` to be 'epoch', 'batch' or an int >= 1. "
                f"Received: update_freq={update_freq!r}"
            )
        else:
            self.update_freq = _check_count("update_freq", update_freq, 1)
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _check_count("histogram_freq", histogram_freq, 0)
        self.write_graph = _check_bool("write_graph", write_graph)
        self.write_images = _check_bool("write_images", write_images)
        self.write_steps_per_second = _check_bool("write_steps_per_second", write_steps_per_second)
        self.profile_batch = profile_batch
        self.embeddings_freq = _check_count("embeddings_freq", embeddings_freq, 0)
        self.embeddings_metadata = embeddings_metadata
        ignored = [
            f"{name}={value!r}"
            for name, value, default in (
                ("histogram_freq", histogram_freq, 0),
                ("write_images", write_images, False),
                ("profile_batch", profile_batch, 0),
                ("embeddings_freq", embeddings_freq, 0),
                ("embeddings_metadata", embeddings_metadata, None),
            )
            if value != default
        ]
        if ignored:
            warnings.warn(
                f"TensorBoard: epochal writes scalars only; ignoring {', '.join(ignored)}.",
                UserWarning,
                stacklevel=2,
            )
        self._writer_class = _summary_writer_class()
        self._writers: dict[str, SummaryWriter] = {}
        self._epoch_start = 0.0
        self._epoch_batches = 0
        self.reset_state()

    def wants_hook(self, hook: str) -> bool:
        """Per-batch work only when batches need watching."""
        if hook == "on_train_batch_end":
            return self.update_freq != "epoch" or self.write_steps_per_second
        return False

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._watch_batch(batch, logs)

    # -- run-owned state ------------------------------------------------------
    def reset_state(self) -> None:
        self.global_batch = 0  # training batches seen by the run: the step of batch scalars

    def state_dict(self) -> dict[str, Any]:
        return {"global_batch": self.global_batch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.global_batch = int(state["global_batch"])

    # -- hooks ----------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._close_writers()
        run_id, epoch = self._run_id(), self._run_epoch()
        if run_id is None or epoch is None:
            return
        key = (os.path.realpath(self.log_dir), run_id)
        if _LEFT_AT.get(key) != (epoch, self.global_batch):
            # A resumed or restarted run: points it wrote at or after where it
            # now stands were written after its checkpoint and come again.
            for name in (_TRAIN, _VALIDATION):
                _drop_points_from(
                    os.path.join(self.log_dir, name), run_id, epoch, self.global_batch
                )
        _LEFT_AT.pop(key, None)

    def on_train_end(self, logs: Logs | None = None) -> None:
        self._close_writers()
        run_id, epoch = self._run_id(), self._run_epoch()
        if run_id is not None and epoch is not None:
            _LEFT_AT[(os.path.realpath(self.log_dir), run_id)] = (epoch, self.global_batch)

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._epoch_batches = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        train = {key: value for key, value in logs.items() if not key.startswith("val_")}
        validation = {key[4:]: value for key, value in logs.items() if key.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if "learning_rate" not in train and isinstance(optimizer, torch.optim.Optimizer):
            train["learning_rate"] = float(optimizer.param_groups[0]["lr"])
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._epoch_start
            if elapsed > 0:
                train["steps_per_second"] = self._epoch_batches / elapsed
        for name, values in ((_TRAIN, train), (_VALIDATION, validation)):
            if not values:
                continue
            writer = self._writer(name)
            for key, value in values.items():
                writer.add_scalar(f"epoch_{key}", float(value), global_step=epoch)
            writer.flush()

    def _watch_batch(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """The ``on_train_batch_end`` of instances that watch batches."""
        self.global_batch += 1
        self._epoch_batches += 1
        freq = self.update_freq
        if freq == "epoch" or logs is None or self.global_batch % freq:
            return
        writer = self._writer(_TRAIN)
        # Reading every key waits for the device: the price of update_freq=N.
        for key, value in logs.items():
            writer.add_scalar(f"batch_{key}", float(value), global_step=self.global_batch)

    # -- helpers --------------------------------------------------------------
    def _writer(self, name: str) -> SummaryWriter:
        # Made on first use, so a fit without validation makes no validation folder.
        writer = self._writers.get(name)
        if writer is None:
            run_id = self._run_id()
            suffix = f".{run_id}" if run_id is not None else ""
            writer = self._writer_class(os.path.join(self.log_dir, name), filename_suffix=suffix)
            self._writers[name] = writer
        return writer

    def _run_id(self) -> str | None:
        """The checkpoint_dir run's id (event files are named with it), if any."""
        run_id = self.params.get("run_id") if isinstance(self.params, dict) else None
        return run_id if isinstance(run_id, str) and run_id.isalnum() else None

    def _run_epoch(self) -> int | None:
        run = getattr(self.model, "run", None)
        epoch = getattr(run, "epoch", None)
        return epoch if isinstance(epoch, int) else None

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def _drop_points_from(folder: str, run_id: str, epoch: int, batch: int) -> None:
    """Rewrite the run's event files in ``folder`` without epoch points >= ``epoch``
    and batch points > ``batch`` (a torn last record goes too)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return
    for name in names:
        if not (name.startswith("events.out.tfevents.") and name.endswith(f".{run_id}")):
            continue
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError:
            continue
        records = list(_records(data))
        kept = [raw for raw, payload in records if _keep(payload, epoch, batch)]
        if len(kept) == len(records) and sum(map(len, kept)) == len(data):
            continue
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as file:
            file.write(b"".join(kept))
        os.replace(tmp, path)


def _records(data: bytes) -> Any:
    """(raw record, payload) of each complete TFRecord in an event file."""
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        end = pos + 12 + length + 4
        if end > len(data):
            return
        yield data[pos:end], data[pos + 12 : pos + 12 + length]
        pos = end


def _keep(payload: bytes, epoch: int, batch: int) -> bool:
    from tensorboard.compat.proto import event_pb2

    try:
        event = event_pb2.Event.FromString(payload)
    except Exception:  # not ours to judge: keep it
        return True
    for value in event.summary.value:
        if value.tag.startswith("epoch_") and event.step >= epoch:
            return False
        if value.tag.startswith("batch_") and event.step > batch:
            return False
    return True
