"""`BackupAndRestore`: Keras's spelling of ``fit(checkpoint_dir=...)``.

Keras's callback backs the run up at every epoch end (or every ``save_freq``
batches) and, when the interrupted script runs again, restarts the
interrupted epoch from its beginning. epochal does better with the same
arguments: the backup is a run checkpoint directory, and a rerun resumes
exactly, bit for bit, mid-epoch included (see ``fit``'s ``checkpoint_dir``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from epochal.callbacks.base import Callback
from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["BackupAndRestore", "BackupPlan", "backup_plan"]


class BackupAndRestore(Callback):
    """Back the run up so that a killed script resumes where it was (Keras 3 arguments).

    Args:
        backup_dir: the directory of the backups (a run checkpoint directory).
        save_freq: ``"epoch"`` (back up at every epoch end) or an int: also
            every that many batches.
        double_checkpoint: accepted for Keras compatibility: epochal keeps the
            newest intact checkpoints and falls back to the previous one when
            the newest is damaged.
        delete_checkpoint: delete ``backup_dir`` when the ``fit`` call ends
            normally, as Keras does (a rerun then starts afresh). A script of
            several ``fit`` calls that must resume across them passes False.

    Example:
        >>> model.fit(x, y, epochs=100, callbacks=[BackupAndRestore("backups/run1")])
    """

    def __init__(
        self,
        backup_dir: str | os.PathLike[str],
        save_freq: Literal["epoch"] | int = "epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not os.fspath(backup_dir):
            raise ArgumentTypeError(
                f"BackupAndRestore: expected `backup_dir` to be a path. Received: {backup_dir!r}"
            )
        if save_freq is False:
            raise ArgumentError(
                "BackupAndRestore: save_freq=False is not supported: epochal backs up at every "
                "epoch end at least"
            )
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq <= 0
        ):
            raise ArgumentError(
                "BackupAndRestore: expected `save_freq` to be 'epoch' or a positive int. "
                f"Received: save_freq={save_freq!r}"
            )
        for name, value in (
            ("double_checkpoint", double_checkpoint),
            ("delete_checkpoint", delete_checkpoint),
        ):
            if not isinstance(value, bool):
                raise ArgumentTypeError(
                    f"BackupAndRestore: expected `{name}` to be a bool. Received: {name}={value!r}"
                )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint


@dataclass(frozen=True)
class BackupPlan:
    """What a `BackupAndRestore` in a fit's callbacks asks of the call."""

    checkpoint_dir: str | os.PathLike[str] | None
    checkpoint_steps: int | None
    delete_after: Path | None

    def finish(self) -> None:
        """Delete the backups after a call that ended normally (Keras's ``delete_checkpoint``)."""
        if self.delete_after is not None:
            shutil.rmtree(self.delete_after, ignore_errors=True)


def backup_plan(
    callbacks: Sequence[Any],
    checkpoint_dir: str | os.PathLike[str] | None,
    checkpoint_steps: int | None,
) -> BackupPlan:
    """The checkpoint settings of a fit call, with a `BackupAndRestore` among ``callbacks``.

    Raises:
        ArgumentError: two BackupAndRestore callbacks, or one and ``checkpoint_dir``.
    """
    backups = [cb for cb in callbacks if isinstance(cb, BackupAndRestore)]
    if not backups:
        return BackupPlan(checkpoint_dir, checkpoint_steps, None)
    if len(backups) > 1 or checkpoint_dir is not None:
        raise ArgumentError(
            "Pass one way of backing the run up: a single BackupAndRestore callback, or "
            f"fit(checkpoint_dir=...). Received {len(backups)} BackupAndRestore and "
            f"checkpoint_dir={checkpoint_dir!r}"
        )
    backup = backups[0]
    steps = backup.save_freq if isinstance(backup.save_freq, int) else checkpoint_steps
    delete = Path(backup.backup_dir) if backup.delete_checkpoint else None
    return BackupPlan(backup.backup_dir, steps, delete)
