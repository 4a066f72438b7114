"""The append-only history log of a checkpoint (``history.jsonl``).

A run's history grows by an epoch at a time, so a checkpoint does not store
it whole: ``history.jsonl`` is a sequence of lines, each a JSON object
``{"from": e, "epoch": [...], "history": {key: [...]}, "epochs_by_key":
{key: [...]}}`` meaning "drop every entry of epoch >= e, then append these".
A save in a `CheckpointDir` writes only the epochs since the previous save
(re-sending the last one, which callbacks may have changed), appended to a
hard link of the previous checkpoint's log, so its cost does not grow with
the run. The manifest records the byte length of the prefix that belongs to
each checkpoint and its sha256; later appends never change that prefix.
Non-finite values are written as the strings ``"nan"``, ``"inf"``, ``"-inf"``.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from pathlib import Path
from typing import Any

from epochal._ckpt_io import is_count, parse_json
from epochal.callbacks.history import History
from epochal.errors import CheckpointError

__all__ = ["HISTORY_FILE", "decode_history", "encode_history_since"]

HISTORY_FILE = "history.jsonl"
_NONFINITE = {"nan", "inf", "-inf"}
_END = 2**62


def encode_history_since(history: History, since: int) -> bytes:
    """One log line holding the epochs ``>= since`` of ``history``."""
    part = history.slice(since, _END)
    line = {
        "from": since,
        "epoch": part.epoch,
        "history": {k: [_encode(v) for v in vs] for k, vs in part.history.items()},
        "epochs_by_key": part.epochs_by_key,
    }
    return (json.dumps(line, allow_nan=False, separators=(",", ":")) + "\n").encode()


def _encode(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)


def decode_history(data: bytes, folder: Path) -> History:
    """Rebuild a `History` from a log's bytes; any malformed line is a `CheckpointError`."""
    epoch: list[int] = []
    values: dict[str, list[float]] = {}
    epochs_by_key: dict[str, list[int]] = {}
    for number, raw in enumerate(data.splitlines(), start=1):
        line = parse_json(raw, folder, HISTORY_FILE)
        problem = _line_problem(line)
        if problem is not None:
            raise CheckpointError(
                f"Checkpoint '{folder}' is damaged: line {number} of '{HISTORY_FILE}' {problem}."
            )
        since = line["from"]
        del epoch[bisect.bisect_left(epoch, since) :]
        for key in list(epochs_by_key):
            cut = bisect.bisect_left(epochs_by_key[key], since)
            del epochs_by_key[key][cut:], values[key][cut:]
        if epoch and line["epoch"] and line["epoch"][0] <= epoch[-1]:
            raise CheckpointError(
                f"Checkpoint '{folder}' is damaged: line {number} of '{HISTORY_FILE}' repeats "
                "epochs it does not replace."
            )
        epoch.extend(line["epoch"])
        for key, logged in line["history"].items():
            values.setdefault(key, []).extend(float(v) for v in logged)
            epochs_by_key.setdefault(key, []).extend(line["epochs_by_key"][key])
    out = History()
    out.epoch = epoch
    out.history = {k: v for k, v in values.items() if v}
    out.epochs_by_key = {k: v for k, v in epochs_by_key.items() if v}
    return out


def _line_problem(line: Any) -> str | None:
    """What is wrong with one decoded log line, or None."""
    if not isinstance(line, dict) or set(line) != {"from", "epoch", "history", "epochs_by_key"}:
        return "is not an object with keys from, epoch, history, epochs_by_key"
    since, epochs, history, by_key = (
        line["from"],
        line["epoch"],
        line["history"],
        line["epochs_by_key"],
    )
    if not is_count(since) or not _increasing_counts(epochs) or (epochs and epochs[0] < since):
        return "has epochs that are not increasing counts from 'from'"
    if not isinstance(history, dict) or not isinstance(by_key, dict) or set(history) != set(by_key):
        return "has 'history' and 'epochs_by_key' with different keys"
    known = set(epochs)
    for key, logged in history.items():
        at = by_key[key]
        if not isinstance(logged, list) or not _increasing_counts(at) or len(at) != len(logged):
            return f"has a malformed entry for {key!r}"
        if not known.issuperset(at):
            return f"logs {key!r} at an epoch it does not list"
        if not all(_is_value(v) for v in logged):
            return f"has a value of {key!r} that is not a number"
    return None


def _increasing_counts(items: Any) -> bool:
    if not isinstance(items, list) or not all(is_count(e) for e in items):
        return False
    return all(a < b for a, b in itertools.pairwise(items))


def _is_value(value: Any) -> bool:
    if isinstance(value, str):
        return value in _NONFINITE
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
