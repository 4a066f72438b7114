"""`CheckpointDir`: a directory of one run's checkpoints, owned, locked, pruned.

A ``checkpoint_dir`` belongs to one run. ``epochal-run.json`` in it records
the run's id and settings (see `epochal._ckpt_run.run_settings`); a fit whose
settings differ is refused before anything changes, naming what differs.
While a fit uses the directory it holds an exclusive ``flock`` on
``.epochal.lock``, so a second process gets an immediate "in use" error; the
lock goes when the fit ends or the process dies. Every checkpoint the run
writes carries the run id in its manifest: only those are resumed from and
only those are pruned, so a ``ModelCheckpoint`` or ``model.save`` directory
inside the folder is never touched.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import secrets
import shutil
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from epochal import _ckpt_io
from epochal import checkpoint as _fmt
from epochal._ckpt_history import HISTORY_FILE
from epochal.errors import ArgumentError, ArgumentTypeError, CheckpointError

if TYPE_CHECKING:
    from epochal.callbacks.history import History

__all__ = ["LOCK_FILE", "RUN_FILE", "CheckpointDir"]

RUN_FILE = "epochal-run.json"
LOCK_FILE = ".epochal.lock"
_MAX_RUN_FILE_BYTES = 1 << 20
# Names fit gives its checkpoints; a format-1 directory (written before run
# ids existed) is adopted by these names.
_FIT_NAME = re.compile(r"epoch-\d{6,}(-step-\d{9,})?")
# Locks this process holds, by the lock file's (device, inode): open descriptors.
_HELD: dict[tuple[int, int], int] = {}


@dataclass
class _LogCursor:
    """Where the newest history log this process wrote ends, to append the next save to it."""

    checkpoint: Path
    size: int
    hasher: Any
    epochs: list[int]  # the History.epoch list it was written from (identity matters)
    written: int
    calls: Any  # the call-record list it was written from (identity matters), or None
    calls_written: int


# The last history log written, by checkpoint directory (resolved path).
_CURSORS: dict[str, _LogCursor] = {}


class CheckpointDir:
    """A directory of a run's checkpoints, newest kept, oldest pruned.

    Each :meth:`save` writes ``root/name`` atomically and records in its
    manifest the run's id and a sequence number one above the run's highest,
    so the order never depends on names or modification times. Only the
    run's own checkpoints are listed, loaded and pruned. One process writes
    a given directory at a time: :meth:`claim` takes the lock.

    Args:
        root: The directory holding the checkpoints (created on first save).
        keep_last: How many of the run's checkpoints to keep after a save;
            ``None`` keeps all.
        settings: The run's settings (JSON-compatible), recorded by the first
            :meth:`claim` and compared by later ones.

    Raises:
        ArgumentTypeError: ``keep_last`` is not an int or None.
        ArgumentError: ``keep_last`` is smaller than 1.

    Example:
        >>> ckpts = CheckpointDir("runs/a/checkpoints", keep_last=3)
        >>> ckpts.save(f"epoch-{epoch:06d}", weights=w, state=s, meta={"epoch": epoch})
        >>> last = ckpts.latest()  # None on a fresh run
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        keep_last: int | None = 3,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if keep_last is not None and (
            not isinstance(keep_last, int) or isinstance(keep_last, bool)
        ):
            raise ArgumentTypeError(
                f"Expected `keep_last` to be an int or None. Received: keep_last={keep_last!r}"
            )
        if keep_last is not None and keep_last < 1:
            raise ArgumentError(
                f"Expected `keep_last` to be at least 1 (or None to keep all). "
                f"Received: keep_last={keep_last!r}"
            )
        self.root = Path(root)
        self.keep_last = keep_last
        self.settings = None if settings is None else dict(settings)
        self._run_id: str | None = None

    @property
    def run_id(self) -> str | None:
        """The id of the run the directory belongs to (known once claimed or saved to)."""
        return self._run_id

    def __repr__(self) -> str:
        return f"CheckpointDir({str(self.root)!r}, keep_last={self.keep_last!r})"

    # -- ownership ------------------------------------------------------------
    def claim(self) -> None:
        """Lock the directory for this process and check it belongs to this run.

        Raises:
            CheckpointError: another process holds the directory ("in use"),
                or it holds a run with other settings (the message names
                each difference). Nothing is changed then.
        """
        self._lock()
        try:
            record = self._read_run_file()
            if record is None or record["settings"] is None:
                run_id = record["run"] if record else secrets.token_hex(16)
                self._write_run_file(run_id)
            else:
                run_id = record["run"]
                if self.settings is not None:
                    _check_same_settings(self.root, record["settings"], self.settings)
            self._run_id = run_id
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Give up the lock taken by :meth:`claim` (a no-op when not held)."""
        key = _lock_key(self.root)
        fd = _HELD.pop(key, None) if key is not None else None
        if fd is not None:
            os.close(fd)

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no lock; one process per directory is on the user
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(
                self.root / LOCK_FILE,
                os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK,
                0o644,
            )
        except OSError as exc:
            raise CheckpointError(
                f"Could not lock checkpoint directory '{self.root}': {_fmt._describe_error(exc)}"
            ) from exc
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino)
        if key in _HELD:  # this process holds it already (an earlier fit that raised)
            os.close(fd)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            raise CheckpointError(
                f"Checkpoint directory '{self.root}' is in use by another process"
                f"{f' (pid {holder})' if holder.isdigit() else ''}: one run trains in a "
                "checkpoint directory at a time. Wait for it to end, or use another directory."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _HELD[key] = fd

    def _read_run_file(self) -> dict[str, Any] | None:
        if not os.path.lexists(self.root / RUN_FILE):
            return None
        record = _ckpt_io.read_json(self.root, RUN_FILE, max_bytes=_MAX_RUN_FILE_BYTES)
        if (
            not isinstance(record, dict)
            or set(record) != {"format_version", "run", "settings"}
            or record["format_version"] != 1
            or not isinstance(record["run"], str)
            or not _fmt._RUN_ID.fullmatch(record["run"])
            or not isinstance(record["settings"], (dict, type(None)))
        ):
            raise CheckpointError(
                f"Checkpoint directory '{self.root}' is damaged: '{RUN_FILE}' is malformed. "
                "Remove it to adopt the directory for this run, or use another directory."
            )
        return record

    def _write_run_file(self, run_id: str) -> None:
        record = {"format_version": 1, "run": run_id, "settings": self.settings}
        text = json.dumps(record, indent=2, allow_nan=False) + "\n"
        tmp = self.root / f".{RUN_FILE}.tmp-{secrets.token_hex(8)}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _fmt._write_bytes(tmp, text.encode())
            os.replace(tmp, self.root / RUN_FILE)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CheckpointError(
                f"Could not write '{self.root / RUN_FILE}': {_fmt._describe_error(exc)}"
            ) from exc

    def _identity(self, *, create: bool) -> str | None:
        """The run id of the directory (made when ``create`` and there is none)."""
        if self._run_id is None:
            record = self._read_run_file()
            if record is not None:
                self._run_id = record["run"]
            elif create:
                self._run_id = secrets.token_hex(16)
                self._write_run_file(self._run_id)
        return self._run_id

    # -- saving ---------------------------------------------------------------
    def save(
        self,
        name: str,
        *,
        weights: Mapping[str, torch.Tensor],
        state: Mapping[Any, Any],
        meta: Mapping[str, Any],
        history: History | None = None,
        calls: builtins.list[Any] | None = None,
    ) -> Path:
        """Write checkpoint ``root/name`` atomically, then prune the run's old ones.

        Leftovers of an interrupted save are cleaned up first. After the
        write, only the newest ``keep_last`` checkpoints of this run are kept;
        the one just written is never pruned, and nothing the run did not
        write is ever removed. The history log is appended to the previous
        save's when this process wrote it (constant cost per save).

        Args:
            name: Directory name, e.g. ``f"epoch-{epoch:06d}"``; a plain name
                that does not start with ``.``. An existing checkpoint of that
                name is replaced and becomes the newest.
            weights: See :func:`save_checkpoint`.
            state: See :func:`save_checkpoint`.
            meta: See :func:`save_checkpoint`.
            history: See :func:`save_checkpoint`.
            calls: See :func:`save_checkpoint`.

        Returns:
            The checkpoint directory.

        Raises:
            ArgumentError: ``name`` is not a plain directory name.
            CheckpointError: Writing failed; see :func:`save_checkpoint`.
        """
        if not isinstance(name, str) or not name or name[0] == "." or Path(name).name != name:
            raise ArgumentError(
                "Expected `name` to be a plain directory name not starting with '.'. "
                f"Received: name={name!r}"
            )
        run_id = self._identity(create=True)
        self._clean_leftovers()
        own = self._scan()[0]
        sequence = own[-1][0] + 1 if own else 1
        log = None
        if history is not None:
            log = self._history_write(history, calls, [p for _, p in own])
        path = _fmt._write_checkpoint(
            self.root / name, weights, state, meta, sequence=sequence, history=log, run=run_id
        )
        if log is not None and history is not None:
            _CURSORS[self._key()] = _LogCursor(
                path,
                log.size,
                log.hasher,
                history.epoch,
                len(history.epoch),
                calls,
                len(calls) if calls is not None else 0,
            )
        if self.keep_last is not None:
            for old in self.list()[: -self.keep_last]:
                if old != path:
                    shutil.rmtree(old, ignore_errors=True)
        return path

    def _key(self) -> str:
        return os.path.realpath(self.root)

    def _history_write(
        self, history: History, calls: builtins.list[Any] | None, own: builtins.list[Path]
    ) -> _fmt.HistoryWrite:
        cursor = _CURSORS.get(self._key())
        usable = (
            cursor is not None
            and cursor.epochs is history.epoch
            and cursor.written <= len(history.epoch)
            and cursor.calls is calls
            and cursor.calls_written <= (len(calls) if calls is not None else 0)
            and own
            and own[-1] == cursor.checkpoint
        )
        if not usable:
            return _fmt.HistoryWrite(history, calls)
        assert cursor is not None
        since = history.epoch[cursor.written - 1] if cursor.written else 0
        return _fmt.HistoryWrite(
            history,
            calls,
            base=cursor.checkpoint / HISTORY_FILE,
            base_size=cursor.size,
            base_hash=cursor.hasher,
            since=since,
            calls_since=cursor.calls_written,
        )

    # -- loading --------------------------------------------------------------
    def latest(
        self,
        *,
        check: Callable[[_fmt.Checkpoint], None] | None = None,
        any_run: bool = False,
    ) -> _fmt.Checkpoint | None:
        """Load the run's newest checkpoint that verifies (and passes ``check``).

        A damaged checkpoint newer than the one returned (torn, altered,
        malformed, or refused by ``check`` with a `CheckpointError`) is skipped
        with a ``RuntimeWarning`` naming it and why. A directory named as fit
        names its checkpoints that has no readable manifest cannot be ordered;
        it is never used and is always warned about.

        Args:
            check: Called with each loaded candidate, newest first; raising
                `CheckpointError` skips it.
            any_run: Consider every checkpoint in the directory (a folder
                holding ``model.save`` directories, for reading), not only the
                run's own.

        Returns:
            The newest intact checkpoint, or ``None`` when there is none.
        """
        listed, damaged = self._scan(any_run=any_run)
        found: _fmt.Checkpoint | None = None
        for _, path in reversed(listed):
            try:
                candidate = _fmt.load_checkpoint(path)
                if check is not None:
                    check(candidate)
            except CheckpointError as exc:
                damaged.append((path, str(exc)))
                continue
            found = candidate
            break
        for path, reason in damaged:
            fallback = f"using '{found.path}' instead" if found else "no intact checkpoint is left"
            warnings.warn(
                f"Skipping damaged checkpoint '{path}' ({reason}); {fallback}.",
                RuntimeWarning,
                stacklevel=2,
            )
        return found

    def list(self) -> builtins.list[Path]:
        """Return the run's complete checkpoints, oldest to newest.

        A checkpoint is complete when its manifest is readable; checksums are
        checked only when loading. A checkpoint whose replacement was
        interrupted between its two renames is listed under its
        ``.{name}.old-*`` path.
        """
        return [p for _, p in self._scan()[0]]

    # -- internals ------------------------------------------------------------
    def _entries(self) -> builtins.list[Path]:
        try:
            found = builtins.list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise CheckpointError(
                f"Could not read checkpoint directory '{self.root}': {_fmt._describe_error(exc)}"
            ) from exc
        return sorted(Path(e.path) for e in found if e.is_dir(follow_symlinks=False))

    def _scan(
        self, *, any_run: bool = False
    ) -> tuple[builtins.list[tuple[int, Path]], builtins.list[tuple[Path, str]]]:
        """The run's checkpoints with a readable manifest, oldest first; and unreadable ones."""
        run_id = self._identity(create=False)
        listed: builtins.list[tuple[int, Path]] = []
        unreadable: builtins.list[tuple[Path, str]] = []
        for p in self._entries():
            match = _fmt._LEFTOVER.match(p.name)
            orphan = match and match["kind"] == "old" and not (self.root / match["name"]).exists()
            name = match["name"] if orphan and match else p.name
            if p.name.startswith(".") and not orphan:
                continue
            try:
                manifest = _fmt._read_manifest(p)
            except CheckpointError as exc:
                # Only directories named as fit names its checkpoints: others are not ours.
                if _FIT_NAME.fullmatch(name):
                    unreadable.append((p, str(exc)))
                continue
            owner = manifest.get("run")
            legacy = owner is None and manifest["format_version"] == 1 and _FIT_NAME.fullmatch(name)
            if any_run or (owner is not None and owner == run_id) or legacy:
                listed.append((manifest["sequence"], p))
        listed.sort()
        return listed, unreadable

    def _clean_leftovers(self) -> None:
        for p in self._entries():
            match = _fmt._LEFTOVER.match(p.name)
            if match is None:
                continue
            target = self.root / match["name"]
            if match["kind"] == "old" and not target.exists():
                # Interrupted between moving the old checkpoint aside and
                # renaming the new one in: the old one is complete; restore it.
                try:
                    os.replace(p, target)
                except OSError as exc:
                    raise CheckpointError(
                        f"Could not restore checkpoint '{target}' from '{p}': "
                        f"{_fmt._describe_error(exc)}"
                    ) from exc
            elif match["kind"] == "old" or _fmt._writer_is_gone(p):
                shutil.rmtree(p, ignore_errors=True)


def _lock_key(root: Path) -> tuple[int, int] | None:
    try:
        info = os.lstat(root / LOCK_FILE)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _check_same_settings(root: Path, recorded: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    """Refuse a run whose settings differ from those the directory records."""
    differences = []
    for key in sorted(set(recorded) | set(now)):
        before, after = recorded.get(key), now.get(key)
        if before == after:
            continue
        if key == "architecture" and isinstance(before, dict) and isinstance(after, dict):
            differences.append(f"architecture: {_architecture_difference(before, after)}")
        else:
            differences.append(f"{key}: {before!r} in the directory, {after!r} now")
    if differences:
        raise CheckpointError(
            f"Checkpoint directory '{root}' holds a run with other settings ("
            + "; ".join(differences)
            + "). A checkpoint directory belongs to one run: use another directory for this "
            "one, or delete the old run's directory to start over."
        )


def _architecture_difference(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    missing = [k for k in before if k not in after]
    extra = [k for k in after if k not in before]
    parts = []
    if missing:
        parts.append(f"parameters {missing[:3]} only in the directory's run")
    if extra:
        parts.append(f"parameters {extra[:3]} only in this model")
    for key in before:
        if key in after and before[key] != after[key]:
            parts.append(f"{key!r} has shape {before[key]} in the directory, {after[key]} now")
            break
    return ", ".join(parts) or "the parameter order differs"
