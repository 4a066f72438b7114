"""Atomic, verified checkpoint directories.

This module stores and loads *state trees*; it knows nothing about models or
training. A checkpoint is a directory holding four files:

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
``manifest.json``
    Written last: ``format_version``, the checkpoint's ``sequence`` number
    (its position in a :class:`CheckpointDir`; 0 for a checkpoint saved on
    its own) and, for every other file, its ``size`` in bytes and ``sha256``.

Writing is atomic: everything goes into a sibling temporary directory
``.{name}.tmp-{random}``, every file and the directory are fsynced, and the
directory is then renamed into place. A crash at any moment leaves either the
previous complete checkpoint or the new one under the final name, never a
half-written one. Loading verifies the manifest (sizes and checksums) before
deserializing anything.

Example:
    >>> save_checkpoint("runs/a/epoch-000003", weights=model.state_dict(),
    ...                 state={"optimizer": opt.state_dict()}, meta={"epoch": 3})
    >>> ckpt = load_checkpoint("runs/a/epoch-000003")
    >>> model.load_state_dict(ckpt.weights)
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from epochal.errors import ArgumentError, ArgumentTypeError, CheckpointError

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointDir",
    "load_checkpoint",
    "save_checkpoint",
    "verify_checkpoint",
]

FORMAT_VERSION = 1
"""The on-disk format this version of epochal writes and reads."""

WEIGHTS_FILE = "weights.safetensors"
STATE_FILE = "state.pt"
META_FILE = "meta.json"
MANIFEST_FILE = "manifest.json"
_PAYLOAD_FILES = (WEIGHTS_FILE, STATE_FILE, META_FILE)
_ALL_FILES = frozenset((*_PAYLOAD_FILES, MANIFEST_FILE))

_FLOAT_TAG = "$float"
_NONFINITE_NAMES = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
# Leftovers of an interrupted save: `.{name}.tmp-{hex}` (being written) and
# `.{name}.old-{hex}` (the previous checkpoint, moved aside during the swap).
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-[0-9a-f]{16}$")
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


# -- saving -------------------------------------------------------------------
def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    weights: Mapping[str, torch.Tensor],
    state: Mapping[Any, Any],
    meta: Mapping[str, Any],
) -> Path:
    """Write a checkpoint directory atomically.

    Args:
        path: The checkpoint directory to create or replace. Its parent is
            created if needed. An existing directory there is replaced only if
            it holds nothing but checkpoint files.
        weights: Flat ``name -> tensor`` mapping, e.g. ``module.state_dict()``.
        state: Nested dicts/lists/tuples with tensor, ``None``, ``bool``,
            ``int``, ``float`` or ``str`` leaves; dict keys ``str``, ``int``,
            ``float``, ``bool`` or ``None``.
        meta: JSON-compatible metadata with ``str`` keys; non-finite floats
            are allowed. ``"format_version"`` is reserved.

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
    return _write_checkpoint(Path(path), weights, state, meta, sequence=0)


def _write_checkpoint(
    path: Path,
    weights: Mapping[str, torch.Tensor],
    state: Mapping[Any, Any],
    meta: Mapping[str, Any],
    *,
    sequence: int,
) -> Path:
    if not path.name or path.name in (".", ".."):
        raise ArgumentError(f"Expected `path` to name a checkpoint directory. Received: {path!r}")
    # Validate and copy everything before touching the disk: a bad argument
    # must not leave anything behind, and later mutation of the caller's
    # tensors must not leak into what is written.
    tensors = _prepare_weights(weights)
    tree = _prepare_state(state, "state", set())
    meta_text = _encode_meta(meta)

    parent = path.parent
    tmp = parent / f".{path.name}.tmp-{secrets.token_hex(8)}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _check_replaceable(path)
        tmp.mkdir()
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
        manifest = {"format_version": FORMAT_VERSION, "sequence": sequence, "files": files}
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
    return path


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


def _prepare_weights(weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if not isinstance(weights, Mapping):
        raise ArgumentTypeError(
            f"Expected `weights` to be a mapping of str to tensors. Received: {type(weights)!r}"
        )
    out: dict[str, torch.Tensor] = {}
    for key, value in weights.items():
        if not isinstance(key, str):
            raise ArgumentTypeError(f"Expected `weights` keys to be str. Received: {key!r}")
        if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
            raise ArgumentTypeError(
                f"Expected `weights[{key!r}]` to be a dense tensor. Received: {type(value)!r}"
            )
        out[key] = _cpu_copy(value)
    return out


def _cpu_copy(t: torch.Tensor) -> torch.Tensor:
    # A fresh contiguous CPU copy: no shared storage (safetensors refuses it),
    # no autograd history, and not affected by later in-place updates.
    return t.detach().to("cpu", copy=True, memory_format=torch.contiguous_format)


def _compact_cpu(t: torch.Tensor) -> torch.Tensor:
    # torch.save writes a tensor's whole storage: copy views (a row of a big
    # buffer) and non-CPU tensors; keep compact CPU tensors as they are, since
    # an optimizer state can be as large as the model.
    t = t.detach()
    compact = t.untyped_storage().nbytes() == t.numel() * t.element_size()
    if t.device.type == "cpu" and t.is_contiguous() and t.storage_offset() == 0 and compact:
        return t
    return _cpu_copy(t)


_SCALARS = (type(None), bool, int, float, str)


def _prepare_state(obj: Any, where: str, active: set[int]) -> Any:
    """Validate a state tree and return a copy with CPU tensors and plain containers."""
    if isinstance(obj, torch.Tensor):
        if obj.layout != torch.strided:
            raise ArgumentTypeError(f"Expected `{where}` to be a dense tensor. Received: {obj!r}")
        return _compact_cpu(obj)
    if isinstance(obj, _SCALARS):
        return obj
    if not isinstance(obj, (Mapping, builtins.list, tuple)):
        raise ArgumentTypeError(
            f"Expected `{where}` to be a tensor, None, bool, int, float, str, dict, list "
            f"or tuple. Received: {type(obj).__name__} ({obj!r:.80}). Convert numpy values "
            "with `.item()` or `torch.as_tensor`, and bytes with `torch.frombuffer`."
        )
    if id(obj) in active:
        raise ArgumentError(f"Expected `{where}` to be a tree. Received: a reference cycle.")
    active.add(id(obj))
    try:
        if isinstance(obj, Mapping):
            out: dict[Any, Any] = {}
            for key, value in obj.items():
                if not isinstance(key, (type(None), bool, int, float, str)):
                    raise ArgumentTypeError(
                        f"Expected the keys of `{where}` to be str, int, float, bool or None. "
                        f"Received: {key!r}"
                    )
                out[key] = _prepare_state(value, f"{where}[{key!r}]", active)
            return out
        items = [_prepare_state(v, f"{where}[{i}]", active) for i, v in enumerate(obj)]
        return tuple(items) if isinstance(obj, tuple) else items
    finally:
        active.discard(id(obj))


# -- meta.json ----------------------------------------------------------------
def _encode_meta(meta: Mapping[str, Any]) -> str:
    if not isinstance(meta, Mapping):
        raise ArgumentTypeError(f"Expected `meta` to be a mapping. Received: {type(meta)!r}")
    if "format_version" in meta:
        raise ArgumentError(
            "Expected `meta` without the key 'format_version': it is reserved and "
            "written by epochal."
        )
    doc = {"format_version": FORMAT_VERSION, **_to_json(meta, "meta", set())}
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def _to_json(obj: Any, where: str, active: set[int]) -> Any:
    if obj is None or isinstance(obj, (bool, int, str)):
        return _plain(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {_FLOAT_TAG: _nonfinite_name(obj)}
    if not isinstance(obj, (Mapping, builtins.list, tuple)):
        raise ArgumentTypeError(
            f"Expected `{where}` to be JSON-compatible (dict, list, str, int, float, bool, "
            f"None). Received: {type(obj).__name__} ({obj!r:.80}). Put tensors in `state`."
        )
    if id(obj) in active:
        raise ArgumentError(f"Expected `{where}` to be a tree. Received: a reference cycle.")
    active.add(id(obj))
    try:
        if isinstance(obj, Mapping):
            if _FLOAT_TAG in obj:
                raise ArgumentError(f"Expected `{where}` without the reserved key {_FLOAT_TAG!r}.")
            out: dict[str, Any] = {}
            for key, value in obj.items():
                if not isinstance(key, str):
                    raise ArgumentTypeError(
                        f"Expected the keys of `{where}` to be str. Received: {key!r}"
                    )
                out[str.__str__(key)] = _to_json(value, f"{where}[{key!r}]", active)
            return out
        return [_to_json(v, f"{where}[{i}]", active) for i, v in enumerate(obj)]
    finally:
        active.discard(id(obj))


def _plain(obj: bool | int | str | None) -> bool | int | str | None:
    # Subclasses (IntEnum, str-mixin enums) become the plain value json writes.
    if obj is None or isinstance(obj, bool):
        return obj
    return int(obj) if isinstance(obj, int) else str.__str__(obj)


def _nonfinite_name(x: float) -> str:
    if math.isnan(x):
        return "nan"
    return "inf" if x > 0 else "-inf"


def _decode_float_tags(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _FLOAT_TAG in obj and obj[_FLOAT_TAG] in _NONFINITE_NAMES:
        return _NONFINITE_NAMES[obj[_FLOAT_TAG]]
    return obj


# -- loading and verification -------------------------------------------------
def verify_checkpoint(path: str | os.PathLike[str]) -> None:
    """Check that a checkpoint directory is complete and undamaged.

    Reads ``manifest.json`` and checks the format version, then that every
    file it lists exists with the recorded size and sha256. Deserializes
    nothing.

    Args:
        path: The checkpoint directory.

    Raises:
        CheckpointError: The directory or manifest is missing or unreadable,
            the format version is unknown, or a file is missing, truncated or
            altered. The message names the damaged file.

    Example:
        >>> verify_checkpoint("runs/a/epoch-000003")
    """
    path = Path(path)
    manifest = _read_manifest(path)
    for name, entry in manifest["files"].items():
        file = path / name
        try:
            size = file.stat().st_size
            digest = _sha256(file) if size == entry["size"] else ""
        except OSError as exc:
            raise CheckpointError(
                f"Checkpoint '{path}' is damaged: cannot read '{name}' ({_describe_error(exc)})."
            ) from exc
        if size != entry["size"]:
            raise CheckpointError(
                f"Checkpoint '{path}' is damaged: '{name}' has {size} bytes, the manifest "
                f"records {entry['size']} (truncated or incomplete write)."
            )
        if digest != entry["sha256"]:
            raise CheckpointError(
                f"Checkpoint '{path}' is damaged: the sha256 of '{name}' does not match "
                "the manifest (the file was altered or corrupted)."
            )


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> Checkpoint:
    """Verify and load a checkpoint directory.

    Args:
        path: The checkpoint directory.
        map_location: Device the tensors are loaded onto.

    Returns:
        The loaded :class:`Checkpoint`.

    Raises:
        CheckpointError: The checkpoint fails :func:`verify_checkpoint`, was
            written by a newer format, or a file cannot be deserialized
            (including a ``state.pt`` that would need to unpickle anything
            other than plain containers, scalars and tensors).

    Example:
        >>> ckpt = load_checkpoint("runs/a/epoch-000003")
        >>> optimizer.load_state_dict(ckpt.state["optimizer"])
    """
    path = Path(path)
    verify_checkpoint(path)
    device = str(map_location)
    try:
        weights = _load_weights(path / WEIGHTS_FILE, device)
    except Exception as exc:
        raise _unreadable(path, WEIGHTS_FILE, exc) from exc
    try:
        # weights_only=True restricts unpickling to containers, scalars and
        # tensors: a planted payload raises instead of running.
        state = torch.load(path / STATE_FILE, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise _unreadable(path, STATE_FILE, exc) from exc
    if not isinstance(state, dict):
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: '{STATE_FILE}' holds a "
            f"{type(state).__name__}, expected a dict."
        )
    try:
        meta = json.loads((path / META_FILE).read_text(), object_hook=_decode_float_tags)
    except (OSError, ValueError) as exc:
        raise _unreadable(path, META_FILE, exc) from exc
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: '{META_FILE}' has format_version {version!r}, "
            f"expected {FORMAT_VERSION}."
        )
    del meta["format_version"]
    return Checkpoint(path=path, weights=weights, state=state, meta=meta)


def _load_weights(file: Path, device: str) -> dict[str, torch.Tensor]:
    with safetensors.safe_open(file, framework="pt", device=device) as f:
        names = builtins.list(f.keys())
        order = (f.metadata() or {}).get("epochal.order")
        if order is not None:
            saved = json.loads(order)
            if sorted(saved) == sorted(names):
                names = saved
        return {name: f.get_tensor(name) for name in names}


def _read_manifest(path: Path) -> dict[str, Any]:
    """Read and validate ``manifest.json``; return it (without checking files)."""
    if not path.is_dir():
        raise CheckpointError(f"Checkpoint '{path}' does not exist or is not a directory.")
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"Checkpoint '{path}' is incomplete: '{MANIFEST_FILE}' is missing "
            "(the save was interrupted or the file was deleted)."
        ) from exc
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: '{MANIFEST_FILE}' cannot be read "
            f"({_describe_error(exc)})."
        ) from exc
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CheckpointError(
            f"Checkpoint '{path}' has format_version {version}, newer than the "
            f"{FORMAT_VERSION} this epochal reads. Upgrade epochal to load it."
        )
    if not _manifest_is_valid(manifest):
        raise CheckpointError(
            f"Checkpoint '{path}' is damaged: '{MANIFEST_FILE}' is malformed or does not "
            f"list all of {', '.join(_PAYLOAD_FILES)}."
        )
    return manifest


def _manifest_is_valid(manifest: Any) -> bool:
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        return False
    files, sequence = manifest.get("files"), manifest.get("sequence")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or not isinstance(files, dict):
        return False
    if not set(_PAYLOAD_FILES) <= set(files):
        return False
    for name, entry in files.items():
        # Only plain file names: a manifest must not point outside its directory.
        if name not in _PAYLOAD_FILES or not isinstance(entry, dict):
            return False
        size, digest = entry.get("size"), entry.get("sha256")
        if not isinstance(size, int) or not isinstance(digest, str):
            return False
    return True


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


# -- a run's directory of checkpoints -----------------------------------------
class CheckpointDir:
    """A directory of a run's checkpoints, newest kept, oldest pruned.

    Each :meth:`save` writes ``root/name`` atomically and records in its
    manifest a sequence number one above the highest in the directory, so the
    order never depends on names or modification times. One process writes a
    given directory at a time (rank 0 in distributed runs).

    Args:
        root: The directory holding the checkpoints (created on first save).
        keep_last: How many complete checkpoints to keep after a save; ``None``
            keeps all.

    Raises:
        ArgumentTypeError: ``keep_last`` is not an int or None.
        ArgumentError: ``keep_last`` is smaller than 1.

    Example:
        >>> ckpts = CheckpointDir("runs/a/checkpoints", keep_last=3)
        >>> ckpts.save(f"epoch-{epoch:06d}", weights=w, state=s, meta={"epoch": epoch})
        >>> last = ckpts.latest()  # None on a fresh run
    """

    def __init__(self, root: str | os.PathLike[str], *, keep_last: int | None = 3) -> None:
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

    def __repr__(self) -> str:
        return f"CheckpointDir({str(self.root)!r}, keep_last={self.keep_last!r})"

    def save(
        self,
        name: str,
        *,
        weights: Mapping[str, torch.Tensor],
        state: Mapping[Any, Any],
        meta: Mapping[str, Any],
    ) -> Path:
        """Write checkpoint ``root/name`` atomically, then prune old ones.

        Leftovers of an interrupted save are cleaned up first. After the
        write, only the newest ``keep_last`` complete checkpoints are kept;
        the one just written is never pruned.

        Args:
            name: Directory name, e.g. ``f"epoch-{epoch:06d}"``; a plain name
                that does not start with ``.``. An existing checkpoint of that
                name is replaced and becomes the newest.
            weights: See :func:`save_checkpoint`.
            state: See :func:`save_checkpoint`.
            meta: See :func:`save_checkpoint`.

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
        self._clean_leftovers()
        newest = self.list()[-1:]
        sequence = _read_manifest(newest[0])["sequence"] + 1 if newest else 1
        path = _write_checkpoint(self.root / name, weights, state, meta, sequence=sequence)
        if self.keep_last is not None:
            for old in self.list()[: -self.keep_last]:
                if old != path:
                    shutil.rmtree(old, ignore_errors=True)
        return path

    def latest(self) -> Checkpoint | None:
        """Load the newest checkpoint that verifies.

        A damaged checkpoint newer than the one returned is skipped with a
        ``RuntimeWarning`` naming it. A directory that holds checkpoint files
        but no readable manifest cannot be ordered; it is never used and is
        always warned about.

        Returns:
            The newest intact checkpoint, or ``None`` when there is none.
        """
        listed, damaged = self._scan()
        found: Checkpoint | None = None
        for path in reversed(listed):
            try:
                found = load_checkpoint(path)
                break
            except CheckpointError as exc:
                damaged.append((path, str(exc)))
        for path, reason in damaged:
            fallback = f"using '{found.path}' instead" if found else "no intact checkpoint is left"
            warnings.warn(
                f"Skipping damaged checkpoint '{path}' ({reason}); {fallback}.",
                RuntimeWarning,
                stacklevel=2,
            )
        return found

    def list(self) -> builtins.list[Path]:
        """Return the complete checkpoints, oldest to newest.

        A checkpoint is complete when its manifest is readable; checksums are
        checked only when loading. A checkpoint whose replacement was
        interrupted between its two renames is listed under its
        ``.{name}.old-*`` path.
        """
        return self._scan()[0]

    # -- internals ------------------------------------------------------------
    def _entries(self) -> builtins.list[Path]:
        try:
            return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise CheckpointError(
                f"Could not read checkpoint directory '{self.root}': {_describe_error(exc)}"
            ) from exc

    def _scan(self) -> tuple[builtins.list[Path], builtins.list[tuple[Path, str]]]:
        """Checkpoints with a readable manifest, oldest first; and unreadable ones."""
        listed: builtins.list[tuple[int, Path]] = []
        unreadable: builtins.list[tuple[Path, str]] = []
        for p in self._entries():
            match = _LEFTOVER.match(p.name)
            orphan = match and match["kind"] == "old" and not (self.root / match["name"]).exists()
            if p.name.startswith(".") and not orphan:
                continue
            try:
                listed.append((_read_manifest(p)["sequence"], p))
            except CheckpointError as exc:
                # Only directories holding checkpoint files; others are not ours.
                if any((p / name).exists() for name in _ALL_FILES):
                    unreadable.append((p, str(exc)))
        return [p for _, p in sorted(listed)], unreadable

    def _clean_leftovers(self) -> None:
        for p in self._entries():
            match = _LEFTOVER.match(p.name)
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
                        f"{_describe_error(exc)}"
                    ) from exc
            else:
                shutil.rmtree(p, ignore_errors=True)
