"""Bounded, hostile-input-safe reading of the files inside a checkpoint directory.

A checkpoint is input: it may be torn, tampered with or planted. Every file
a load opens goes through `open_regular`, which checks with ``lstat`` (never
opening for reading first) that the entry is a regular file directly inside
the checkpoint directory: a symlink (wherever it points), a FIFO, a socket
or a device is refused, so nothing can make a load hang or read outside the
checkpoint. Sizes are bounded before anything is read, and JSON is parsed
only after its nesting depth has been checked, so a crafted file gives a
`CheckpointError` naming it, never a ``RecursionError`` or a huge allocation.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from epochal.errors import CheckpointError

__all__ = [
    "MAX_JSON_DEPTH",
    "check_regular",
    "json_depth",
    "open_regular",
    "read_json",
    "sha256_prefix",
]

#: The deepest nesting a checkpoint's JSON may have (epochal writes at most ~6).
MAX_JSON_DEPTH = 64
_CHUNK = 1 << 20
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]+")
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(folder: Path, name: str, *, max_bytes: int | None = None) -> os.stat_result:
    """``lstat`` of ``folder/name``, refused unless a regular file of at most ``max_bytes``.

    Raises:
        CheckpointError: missing, not a plain name, a symlink, FIFO, device,
            socket or directory, or larger than ``max_bytes``.
    """
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        raise CheckpointError(
            f"Checkpoint '{folder}' is damaged: {name!r} is not a plain file name."
        )
    try:
        info = os.lstat(folder / name)
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"Checkpoint '{folder}' is damaged: cannot read '{name}' (it is missing)."
        ) from exc
    except OSError as exc:
        raise CheckpointError(f"Checkpoint '{folder}': cannot examine '{name}' ({exc}).") from exc
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(
            f"Checkpoint '{folder}' is refused: '{name}' is {_kind(info.st_mode)}, not a regular "
            "file inside the checkpoint (symbolic links, FIFOs and devices are never opened)."
        )
    if max_bytes is not None and info.st_size > max_bytes:
        raise CheckpointError(
            f"Checkpoint '{folder}' is refused: '{name}' has {info.st_size} bytes, more than "
            f"the {max_bytes} this file may have."
        )
    return info


@contextmanager
def open_regular(folder: Path, name: str, *, max_bytes: int | None = None) -> Iterator[IO[bytes]]:
    """Open ``folder/name`` for reading after `check_regular`; never follows a link or blocks.

    The descriptor is opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked to
    be the very file that was examined, so a file swapped for a FIFO or a
    link in between is refused too.
    """
    info = check_regular(folder, name, max_bytes=max_bytes)
    try:
        fd = os.open(folder / name, _FLAGS)
    except OSError as exc:
        raise CheckpointError(f"Checkpoint '{folder}': cannot open '{name}' ({exc}).") from exc
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
        info.st_dev,
        info.st_ino,
    ):
        os.close(fd)
        raise CheckpointError(
            f"Checkpoint '{folder}' is refused: '{name}' changed while it was being opened."
        )
    with os.fdopen(fd, "rb") as file:
        yield file


def read_bytes(folder: Path, name: str, *, max_bytes: int) -> bytes:
    """The whole of a regular file of at most ``max_bytes``."""
    with open_regular(folder, name, max_bytes=max_bytes) as file:
        # Never ask for more than the file has: read(n) may allocate n bytes up front.
        data = file.read(min(max_bytes, os.fstat(file.fileno()).st_size) + 1)
    if len(data) > max_bytes:
        raise CheckpointError(
            f"Checkpoint '{folder}' is refused: '{name}' has more than {max_bytes} bytes."
        )
    return data


def sha256_prefix(folder: Path, name: str, size: int) -> str:
    """The sha256 of the first ``size`` bytes of a regular file (which may be longer)."""
    h = hashlib.sha256()
    left = size
    with open_regular(folder, name) as file:
        while left > 0:
            chunk = file.read(min(_CHUNK, left))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def json_depth(data: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings ignored (a linear scan, no recursion)."""
    brackets = _NOT_BRACKETS.sub(b"", _STRINGS.sub(b"", data))
    depth = deepest = 0
    for char in brackets:
        depth += 1 if char in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _refuse_constant(constant: str) -> float:
    raise ValueError(f"{constant} is not valid JSON (non-finite numbers are written as tags)")


def parse_json(
    data: bytes,
    folder: Path,
    name: str,
    *,
    object_hook: Callable[[dict[str, Any]], Any] | None = None,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """Strict JSON with a depth bound; any failure is a `CheckpointError` naming the file."""
    depth = json_depth(data)
    if depth > max_depth:
        raise CheckpointError(
            f"Checkpoint '{folder}' is refused: '{name}' nests {depth} levels deep, more than "
            f"the {max_depth} a checkpoint file may have."
        )
    try:
        value = json.loads(
            data.decode("utf-8"), object_hook=object_hook, parse_constant=_refuse_constant
        )
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(
            f"Checkpoint '{folder}' is damaged: '{name}' cannot be read (not valid JSON: {exc})."
        ) from exc
    return value


def read_json(
    folder: Path,
    name: str,
    *,
    max_bytes: int,
    object_hook: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """Read and parse a bounded JSON file of the checkpoint (see `parse_json`)."""
    return parse_json(
        read_bytes(folder, name, max_bytes=max_bytes), folder, name, object_hook=object_hook
    )


def is_finite_number(value: Any) -> bool:
    """An int or float (not a bool) with a finite value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def is_count(value: Any) -> bool:
    """A non-negative int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
