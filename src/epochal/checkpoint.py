"""Atomic, verified checkpoint directories.

This module stores and loads *state trees*; it knows nothing about models or
training. A checkpoint is a directory holding these files (format 2; format 1,
without ``history.jsonl``, is still read):

``weights.safetensors``
    A flat ``name -> tensor`` mapping (a module's ``state_dict()``) in the
    safetensors format. Each tensor is stored as its own contiguous CPU copy,
    so tensors that shared storage (tied weights) load back as independent,
    equal tensors. The original key order is kept in the header metadata
    (``epochal.order``).
``state.pt``
    A nested tree of dicts, lists and tuples whose leaves are tensors,
    ``None``, ``bool``, ``int``, ``float`` or ``str``: optimizer and
    scheduler ``state_dict()``s, RNG states, callback states. Written with
    ``torch.save`` and read back only with ``torch.load(weights_only=True)``,
    which restores exactly these types (int dict keys stay ints, tuples stay
    tuples, ``inf``/``nan`` floats stay floats) and refuses to unpickle
    anything else. Every mapping loads back as a plain ``dict``.
``meta.json``
    JSON-compatible run metadata (epoch, step, history, ...) plus
    ``"format_version": 1``. The file is strict JSON: a non-finite float is
    written as the object ``{"$float": "nan"}`` (or ``"inf"``, ``"-inf"``) and
    decoded back to the float, so the file stays readable by any JSON parser.
    Tuples load back as lists; ``"$float"`` is a reserved key.
``history.jsonl`` (optional)
    A run's history (and end-of-call records) as an append-only log (see
    `epochal._ckpt_history`); the manifest records the length of the prefix
    that belongs to this checkpoint (``append_only``) and its sha256.
``manifest.json``
    Written last: ``format_version``, the checkpoint's ``sequence`` number
    (its position in a :class:`CheckpointDir`; 0 for a checkpoint saved on
    its own), the ``run`` id in a :class:`CheckpointDir` and, for every other
    file, its ``size`` in bytes and ``sha256``.

Writing is atomic: everything goes into a sibling temporary directory
``.{name}.tmp-{random}``, every file and the directory are fsynced, and the
directory is then renamed into place. A crash at any moment leaves either the
previous complete checkpoint or the new one under the final name, never a
half-written one. A temporary directory whose writer died is removed by the
next save or load in its folder.

Loading is bounded and hostile-input safe (`epochal._ckpt_io`): only regular
files inside the checkpoint are opened (never a symlink, FIFO or device),
sizes are bounded before reading, JSON is parsed with a depth bound and
checked against the format's schema, and the manifest (sizes and checksums)
is verified before anything is deserialized. Any failure is a
`CheckpointError` naming the file and what is wrong.

Example:
    >>> save_checkpoint("runs/a/epoch-000003", weights=model.state_dict(),
    ...                 state={"optimizer": opt.state_dict()}, meta={"epoch": 3})
    >>> ckpt = load_checkpoint("runs/a/epoch-000003")
    >>> model.load_state_dict(ckpt.weights)
"""

from __future__ import annotations

import builtins
import errno
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import safetensors
import safetensors.torch
import torch

from epochal import _ckpt_io
from epochal._ckpt_history import HISTORY_FILE, decode_history, encode_history_since
from epochal._ckpt_tree import decode_float_tags, encode_meta, prepare_state, prepare_weights
from epochal.errors import ArgumentError, CheckpointError

if TYPE_CHECKING:
    from epochal.callbacks.history import History

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointDir",
    "load_checkpoint",
    "save_checkpoint",
    "verify_checkpoint",
]

FORMAT_VERSION = 2
"""The on-disk format this version of epochal writes (it reads 1 and 2)."""
_READABLE_VERSIONS = (1, 2)

WEIGHTS_FILE = "weights.safetensors"
STATE_FILE = "state.pt"
META_FILE = "meta.json"
MANIFEST_FILE = "manifest.json"
_PAYLOAD_FILES = (WEIGHTS_FILE, STATE_FILE, META_FILE)
_ALL_FILES = frozenset((*_PAYLOAD_FILES, HISTORY_FILE, MANIFEST_FILE))

# Bounds checked before reading (epochal writes far less than these).
MAX_MANIFEST_BYTES = 1 << 20
MAX_META_BYTES = 256 << 20
MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
MAX_HISTORY_BYTES = 1 << 30

# Leftovers of an interrupted save: `.{name}.tmp-{hex}` (being written) and
# `.{name}.old-{hex}` (the previous checkpoint, moved aside during the swap).
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-[0-9a-f]{16}$")
_RUN_ID = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint loaded from disk.

    Attributes:
        path: The checkpoint directory.
        weights: The flat ``name -> tensor`` mapping, in the order it was saved.
        state: The state tree, as saved (mappings come back as ``dict``).
        meta: The metadata, as saved (without ``format_version``).
    """

    path: Path
    weights: dict[str, torch.Tensor]
    state: dict[Any, Any]
    meta: dict[str, Any]
    history_entry: tuple[int, str] | None = field(default=None, repr=False, compare=False)

    @property
    def history(self) -> History | None:
        """The history saved with the checkpoint, parsed on first access (None if none).

        Raises:
            CheckpointError: the history log (or, in format 1, ``meta["history"]``)
                is altered or malformed.
        """
        return self._log[0]

    @property
    def calls(self) -> builtins.list[dict[str, Any]] | None:
        """The call records saved with the checkpoint's history log (``meta["calls"]`` before)."""
        return self._log[1]

    @functools.cached_property
    def _log(self) -> tuple[History | None, builtins.list[dict[str, Any]] | None]:
        if self.history_entry is None:
            calls = self.meta.get("calls")
            return _legacy_history(self.path, self.meta.get("history")), calls
        size, digest = self.history_entry
        data = _ckpt_io.read_bytes(self.path, HISTORY_FILE, max_bytes=MAX_HISTORY_BYTES)[:size]
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise CheckpointError(
                f"Checkpoint '{self.path}' is damaged: '{HISTORY_FILE}' changed after it was "
                "verified."
            )
        log = decode_history(data, self.path)
        return log.history, log.calls


def _legacy_history(path: Path, data: Any) -> History | None:
    """A format-1 history (``meta["history"]``, a `History.to_dict`), checked."""
    if data is None:
        return None
    keys = ("epoch", "history", "epochs_by_key")
    if not isinstance(data, dict) or not set(keys) <= set(data):
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: '{META_FILE}' has a malformed 'history'."
        )
    line = {"from": 0, **{k: data[k] for k in keys}}
    history = decode_history(json.dumps(line, allow_nan=False).encode(), path).history
    events, baseline = data.get("events"), data.get("baseline_loss")
    history.events = dict(events) if isinstance(events, dict) else {}
    finite = isinstance(baseline, (int, float)) and _ckpt_io.is_finite_number(baseline)
    history.baseline_loss = float(baseline) if finite and baseline is not None else None
    return history


@dataclass
class HistoryWrite:
    """How a save writes ``history.jsonl``, and (filled in by the save) what it wrote.

    With ``base`` set, the new log is a hard link to ``base`` (a log whose first
    ``base_size`` bytes hash to ``base_hash``) with the epochs ``>= since``
    appended; otherwise the whole history is written. ``size`` and ``hasher``
    describe the new log afterwards, so the next save can append to it.
    """

    history: History
    calls: Sequence[Any] | None = None
    base: Path | None = None
    base_size: int = 0
    base_hash: Any = None
    since: int = 0
    calls_since: int = 0
    size: int = 0
    hasher: Any = None


# -- saving -------------------------------------------------------------------
def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    weights: Mapping[str, torch.Tensor],
    state: Mapping[Any, Any],
    meta: Mapping[str, Any],
    history: History | None = None,
    calls: Sequence[Any] | None = None,
) -> Path:
    """Write a checkpoint directory atomically.

    Args:
        path: The checkpoint directory to create or replace. Its parent is
            created if needed. An existing directory there is replaced only if
            it holds nothing but checkpoint files. Leftovers of earlier
            interrupted saves to the same folder (temporary directories whose
            writer is gone) are removed first.
        weights: Flat ``name -> tensor`` mapping, e.g. ``module.state_dict()``.
        state: Nested dicts/lists/tuples with tensor, ``None``, ``bool``,
            ``int``, ``float`` or ``str`` leaves; dict keys ``str``, ``int``,
            ``float``, ``bool`` or ``None``.
        meta: JSON-compatible metadata with ``str`` keys; non-finite floats
            are allowed. ``"format_version"`` is reserved.
        history: A run's `History`, written to the history log
            (``Checkpoint.history`` when loaded).
        calls: Records (dicts, or objects with ``to_dict()``) written with
            the history (``Checkpoint.calls``); only with ``history``.

    Returns:
        The checkpoint directory.

    Raises:
        ArgumentTypeError: A weight, state leaf or meta value has a type the
            format cannot store (nothing is written).
        ArgumentError: ``path`` has no name, or ``meta`` uses a reserved key.
        CheckpointError: Writing failed (disk full, permission denied, ...).
            The previous checkpoint at ``path``, if any, is left untouched and
            no temporary directory remains.

    Example:
        >>> save_checkpoint("runs/a/epoch-000001", weights=model.state_dict(),
        ...                 state={"optimizer": opt.state_dict()}, meta={"epoch": 1})
    """
    log = HistoryWrite(history, calls) if history is not None else None
    return _write_checkpoint(Path(path), weights, state, meta, sequence=0, history=log)


def _write_checkpoint(
    path: Path,
    weights: Mapping[str, torch.Tensor],
    state: Mapping[Any, Any],
    meta: Mapping[str, Any],
    *,
    sequence: int,
    history: HistoryWrite | None = None,
    run: str | None = None,
) -> Path:
    if not path.name or path.name in (".", ".."):
        raise ArgumentError(f"Expected `path` to name a checkpoint directory. Received: {path!r}")
    # Validate and copy everything before touching the disk: a bad argument
    # must not leave anything behind, and later mutation of the caller's
    # tensors must not leak into what is written.
    tensors = prepare_weights(weights)
    tree = prepare_state(state, "state", set())
    meta_text = encode_meta(meta, FORMAT_VERSION)

    parent = path.parent
    tmp = parent / f".{path.name}.tmp-{secrets.token_hex(8)}"
    lock: int | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _clean_stale_writes(path)
        _check_replaceable(path)
        tmp.mkdir()
        # Held while writing: a later save or load removes only temporary
        # directories whose writer is gone (their lock is free).
        lock = _lock_dir(tmp)
        order = json.dumps(builtins.list(tensors))
        safetensors.torch.save_file(
            tensors, tmp / WEIGHTS_FILE, metadata={"format": "pt", "epochal.order": order}
        )
        _fsync_file(tmp / WEIGHTS_FILE)
        with open(tmp / STATE_FILE, "wb") as f:
            torch.save(tree, f)
            f.flush()
            os.fsync(f.fileno())
        _write_bytes(tmp / META_FILE, meta_text.encode())
        files = {name: _describe(tmp / name) for name in _PAYLOAD_FILES}
        if history is not None:
            files[HISTORY_FILE] = _write_history(tmp / HISTORY_FILE, history)
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "sequence": sequence,
            "files": files,
        }
        if run is not None:
            manifest["run"] = run
        _write_bytes(tmp / MANIFEST_FILE, (json.dumps(manifest, indent=2) + "\n").encode())
        _fsync_dir(tmp)
        _swap_into_place(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, CheckpointError) or not isinstance(exc, Exception):
            raise
        raise CheckpointError(
            f"Could not write checkpoint '{path}': {_describe_error(exc)}"
        ) from exc
    finally:
        if lock is not None:
            os.close(lock)
    return path


def _write_history(file: Path, log: HistoryWrite) -> dict[str, Any]:
    """Write (or append to a link of ``log.base``) the history log; its manifest entry."""
    if log.base is not None and _link_for_append(log.base, file, log.base_size):
        data = encode_history_since(log.history, log.since, log.calls, log.calls_since)
        hasher = log.base_hash.copy()
        with open(file, "r+b") as f:
            f.seek(log.base_size)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        size = log.base_size + len(data)
    else:
        data = encode_history_since(log.history, 0, log.calls, 0)
        hasher = hashlib.sha256()
        _write_bytes(file, data)
        size = len(data)
    hasher.update(data)
    log.size, log.hasher = size, hasher
    return {"size": size, "sha256": hasher.hexdigest(), "append_only": True}


def _link_for_append(base: Path, file: Path, size: int) -> bool:
    """Hard-link ``base`` to ``file`` if it is a regular file of exactly ``size`` bytes."""
    try:
        info = os.lstat(base)
        if not os.path.isfile(base) or os.path.islink(base) or info.st_size != size:
            return False
        os.link(base, file)
    except OSError:  # no hard links on this file system: write the log whole
        return False
    return True


def _lock_dir(directory: Path) -> int | None:
    """An open descriptor of ``directory`` holding an exclusive lock (POSIX), or None."""
    try:
        import fcntl
    except ImportError:  # Windows: no stale-write detection, leftovers stay
        return None
    fd = os.open(directory, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _writer_is_gone(directory: Path) -> bool:
    """Whether a temporary directory's writer has died (its lock can be taken)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _clean_stale_writes(path: Path, *, restore: bool = True) -> None:
    """Remove dead writers' temporary directories next to ``path``; restore a moved-aside one.

    A save killed between its two renames leaves the previous checkpoint as
    ``.{name}.old-*`` with nothing at ``name``: it is complete and put back.
    Best effort: a folder that cannot be listed or changed is left as it is.
    """
    try:
        entries = builtins.list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        match = _LEFTOVER.match(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False):
            continue
        leftover = Path(entry.path)
        target = path.parent / match["name"]
        try:
            if match["kind"] == "old":
                if restore and not os.path.lexists(target):
                    os.replace(leftover, target)
                elif restore:
                    shutil.rmtree(leftover, ignore_errors=True)
            elif _writer_is_gone(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename the finished ``tmp`` to ``path``, replacing an old checkpoint there."""
    if not path.exists():
        os.replace(tmp, path)
    else:
        # rename(2) cannot replace a non-empty directory: move the old one
        # aside first, and put it back if the second rename fails.
        old = path.parent / f".{path.name}.old-{secrets.token_hex(8)}"
        os.replace(path, old)
        try:
            os.replace(tmp, path)
        except BaseException:
            os.replace(old, path)
            raise
        _fsync_dir(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(path.parent)


def _check_replaceable(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir() or path.is_symlink():
        raise CheckpointError(
            f"Could not write checkpoint '{path}': it exists and is not a directory."
        )
    foreign = sorted(p.name for p in path.iterdir() if p.name not in _ALL_FILES)
    if foreign:
        raise CheckpointError(
            f"Refusing to replace '{path}': it holds files that are not part of a "
            f"checkpoint ({', '.join(foreign[:5])}). Choose another path or remove them."
        )


# -- loading and verification -------------------------------------------------
def verify_checkpoint(path: str | os.PathLike[str]) -> None:
    """Check that a checkpoint directory is complete and undamaged.

    Reads ``manifest.json`` (bounded, schema-checked) and checks the format
    version, then that every file it lists is a regular file inside the
    directory (never a symlink, FIFO or device; checked with ``lstat``,
    without opening it) with the recorded size and sha256. Deserializes
    nothing.

    Args:
        path: The checkpoint directory.

    Raises:
        CheckpointError: The directory or manifest is missing or unreadable,
            the format version is unknown, or a file is missing, not a regular
            file, truncated or altered. The message names the damaged file.

    Example:
        >>> verify_checkpoint("runs/a/epoch-000003")
    """
    _verify(Path(path))


def _verify(path: Path) -> dict[str, Any]:
    """`verify_checkpoint`; returns the manifest."""
    manifest = _read_manifest(path)
    for name, entry in manifest["files"].items():
        info = _ckpt_io.check_regular(path, name)
        append_only = bool(entry.get("append_only"))
        size_ok = info.st_size >= entry["size"] if append_only else info.st_size == entry["size"]
        if not size_ok:
            raise CheckpointError(
                f"Checkpoint '{path}' is damaged: '{name}' has {info.st_size} bytes, the manifest "
                f"records {entry['size']} (truncated or incomplete write)."
            )
        if _ckpt_io.sha256_prefix(path, name, entry["size"]) != entry["sha256"]:
            raise CheckpointError(
                f"Checkpoint '{path}' is damaged: the sha256 of '{name}' does not match "
                "the manifest (the file was altered or corrupted)."
            )
    return manifest


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> Checkpoint:
    """Verify and load a checkpoint directory.

    Nothing is deserialized before the whole directory verifies; every file
    is read through bounded, non-blocking, no-follow opens (see
    `verify_checkpoint`). The history log is parsed when
    `Checkpoint.history` is first read.

    Args:
        path: The checkpoint directory.
        map_location: Device the tensors are loaded onto.

    Returns:
        The loaded :class:`Checkpoint`.

    Raises:
        CheckpointError: The checkpoint fails :func:`verify_checkpoint`, was
            written by a newer format, or a file cannot be deserialized
            (including a ``state.pt`` that would need to unpickle anything
            other than plain containers, scalars and tensors, and JSON nested
            deeper than the format allows).

    Example:
        >>> ckpt = load_checkpoint("runs/a/epoch-000003")
        >>> optimizer.load_state_dict(ckpt.state["optimizer"])
    """
    path = Path(path)
    _clean_stale_writes(path, restore=False)
    manifest = _verify(path)
    device = str(map_location)
    try:
        weights = _load_weights(path / WEIGHTS_FILE, device)
    except CheckpointError:
        raise
    except Exception as exc:
        raise _unreadable(path, WEIGHTS_FILE, exc) from exc
    try:
        with _ckpt_io.open_regular(path, STATE_FILE) as file:
            # weights_only=True restricts unpickling to containers, scalars and
            # tensors: a planted payload raises instead of running.
            state = torch.load(file, map_location=map_location, weights_only=True)
    except CheckpointError:
        raise
    except Exception as exc:
        raise _unreadable(path, STATE_FILE, exc) from exc
    if not isinstance(state, dict):
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: '{STATE_FILE}' holds a "
            f"{type(state).__name__}, expected a dict."
        )
    meta = _ckpt_io.read_json(
        path, META_FILE, max_bytes=MAX_META_BYTES, object_hook=decode_float_tags
    )
    if not isinstance(meta, dict) or meta.get("format_version") != manifest["format_version"]:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: '{META_FILE}' has format_version {version!r}, "
            f"expected {manifest['format_version']} (as its manifest)."
        )
    del meta["format_version"]
    entry = manifest["files"].get(HISTORY_FILE)
    return Checkpoint(
        path=path,
        weights=weights,
        state=state,
        meta=meta,
        history_entry=None if entry is None else (entry["size"], entry["sha256"]),
    )


def _load_weights(file: Path, device: str) -> dict[str, torch.Tensor]:
    _check_safetensors_header(file.parent, file.name)
    with safetensors.safe_open(file, framework="pt", device=device) as f:
        names = builtins.list(f.keys())
        order = (f.metadata() or {}).get("epochal.order")
        if isinstance(order, str) and len(order) <= MAX_HEADER_BYTES:
            saved = _ckpt_io.parse_json(order.encode(), file.parent, WEIGHTS_FILE)
            if isinstance(saved, builtins.list) and sorted(map(str, saved)) == sorted(names):
                names = [str(n) for n in saved]
        return {name: f.get_tensor(name) for name in names}


def _check_safetensors_header(folder: Path, name: str) -> None:
    """Bound and parse the safetensors header (8-byte length, then JSON) before the library reads it."""
    with _ckpt_io.open_regular(folder, name) as file:
        head = file.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < length <= MAX_HEADER_BYTES:
            raise CheckpointError(
                f"Checkpoint '{folder}' is damaged: '{name}' has a header length of {length} "
                f"bytes (expected 1 to {MAX_HEADER_BYTES})."
            )
        data = file.read(length)
    header = _ckpt_io.parse_json(data, folder, name)
    if not isinstance(header, dict):
        raise CheckpointError(f"Checkpoint '{folder}' is damaged: '{name}' has a malformed header.")
    for key, entry in header.items():
        if key == "__metadata__":
            ok = isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())
        else:
            shape = entry.get("shape") if isinstance(entry, dict) else None
            ok = isinstance(shape, builtins.list) and all(_ckpt_io.is_count(d) for d in shape)
        if not ok:
            raise CheckpointError(
                f"Checkpoint '{folder}' is damaged: '{name}' has a malformed header entry {key!r}."
            )


def _read_manifest(path: Path) -> dict[str, Any]:
    """Read and validate ``manifest.json``; return it (without checking files)."""
    if not path.is_dir():
        raise CheckpointError(f"Checkpoint '{path}' does not exist or is not a directory.")
    try:
        manifest = _ckpt_io.read_json(path, MANIFEST_FILE, max_bytes=MAX_MANIFEST_BYTES)
    except CheckpointError as exc:
        if not (path / MANIFEST_FILE).exists() and not (path / MANIFEST_FILE).is_symlink():
            raise CheckpointError(
                f"Checkpoint '{path}' is incomplete: '{MANIFEST_FILE}' is missing "
                "(the save was interrupted or the file was deleted)."
            ) from exc
        raise
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if isinstance(version, int) and _ckpt_io.is_count(version) and version > FORMAT_VERSION:
        raise CheckpointError(
            f"Checkpoint '{path}' has format_version {version}, newer than the "
            f"{FORMAT_VERSION} this epochal reads. Upgrade epochal to load it."
        )
    problem = _manifest_problem(manifest)
    if problem is not None:
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: '{MANIFEST_FILE}' is malformed ({problem})."
        )
    return dict(manifest)


def _manifest_problem(manifest: Any) -> str | None:
    """What is wrong with a decoded manifest, or None."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    if manifest.get("format_version") not in _READABLE_VERSIONS:
        return f"format_version {manifest.get('format_version')!r} is not one of 1, 2"
    unknown = set(manifest) - {"format_version", "sequence", "files", "run"}
    if unknown:
        return f"unknown keys {sorted(unknown)}"
    if not _ckpt_io.is_count(manifest.get("sequence")):
        return "'sequence' is not a non-negative int"
    run = manifest.get("run")
    if run is not None and (not isinstance(run, str) or not _RUN_ID.fullmatch(run)):
        return "'run' is not a run id"
    files = manifest.get("files")
    if not isinstance(files, dict) or not set(_PAYLOAD_FILES) <= set(files):
        return f"'files' does not list all of {', '.join(_PAYLOAD_FILES)}"
    allowed = set(_PAYLOAD_FILES) | ({HISTORY_FILE} if manifest["format_version"] >= 2 else set())
    for name, entry in files.items():
        # Only plain file names: a manifest must not point outside its directory.
        if name not in allowed:
            return f"it lists {name!r}, which is not a checkpoint file"
        if not isinstance(entry, dict) or not set(entry) <= {"size", "sha256", "append_only"}:
            return f"the entry of {name!r} is not an object of size and sha256"
        if not _ckpt_io.is_count(entry.get("size")) or not _SHA256.fullmatch(
            str(entry.get("sha256"))
        ):
            return f"the entry of {name!r} has no valid size and sha256"
        if entry.get("append_only", name == HISTORY_FILE) is not (name == HISTORY_FILE):
            return f"the entry of {name!r} has a wrong 'append_only'"
    return None


def _unreadable(path: Path, name: str, exc: BaseException) -> CheckpointError:
    return CheckpointError(
        f"Checkpoint '{path}' could not be loaded: '{name}' cannot be deserialized "
        f"({type(exc).__name__}: {_summary(exc)}). Checkpoints may hold only plain "
        "containers, scalars and tensors; anything else is refused, never unpickled."
    )


def _summary(exc: BaseException) -> str:
    """The informative sentence of an error message (torch's are a page long)."""
    text = _ANSI.sub("", str(exc))
    found = re.search(r"WeightsUnpickler error: (.*?\.)(?= |$)", text, re.MULTILINE)
    if found:
        return found[1]
    return next(iter(text.splitlines()), "")


# -- file helpers -------------------------------------------------------------
def _write_bytes(file: Path, data: bytes) -> None:
    with open(file, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_file(file: Path) -> None:
    with open(file, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    # Makes the directory's entries (new files, renames) durable. POSIX only:
    # Windows cannot open a directory for fsync.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(file: Path) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _describe(file: Path) -> dict[str, Any]:
    return {"size": file.stat().st_size, "sha256": _sha256(file)}


def _describe_error(exc: BaseException) -> str:
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"the disk is full ({detail})"
    if isinstance(exc, PermissionError):
        return f"permission denied ({detail})"
    return detail


# CheckpointDir builds on the functions above; it lives in its own module.
from epochal._ckpt_dir import CheckpointDir  # noqa: E402
