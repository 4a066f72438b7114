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

A line may also carry ``"calls_from": k, "calls": [...]``: the run's
end-of-call records (`epochal.run.CallRecord`) from the ``k``-th on, which
grow by one per ``fit`` call in the same way.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epochal._ckpt_io import is_count, parse_json
from epochal.callbacks.history import History
from epochal.errors import CheckpointError

__all__ = ["HISTORY_FILE", "Log", "decode_history", "encode_history_since"]

HISTORY_FILE = "history.jsonl"
_NONFINITE = {"nan", "inf", "-inf"}
_END = 2**62
_CALL_KEYS = {"calls_from", "calls"}


@dataclass
class Log:
    """What a history log holds: the history, and the call records if it carries any."""

    history: History
    calls: list[dict[str, Any]] | None


def encode_history_since(
    history: History, since: int, calls: Sequence[Any] | None = None, calls_since: int = 0
) -> bytes:
    """One log line holding the epochs ``>= since`` of ``history`` (and calls from ``calls_since``).

    ``calls`` are records with a ``to_dict()`` (or JSON-compatible dicts).
    """
    part = history.slice(since, _END)
    line: dict[str, Any] = {
        "from": since,
        "epoch": part.epoch,
        "history": {k: [_encode(v) for v in vs] for k, vs in part.history.items()},
        "epochs_by_key": part.epochs_by_key,
    }
    if calls is not None:
        line["calls_from"] = calls_since
        line["calls"] = [c if isinstance(c, dict) else c.to_dict() for c in calls[calls_since:]]
    return (json.dumps(line, allow_nan=False, separators=(",", ":")) + "\n").encode()


def _encode(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)


def decode_history(data: bytes, folder: Path) -> Log:
    """Rebuild a `History` (and call records) from a log's bytes; a malformed line is a `CheckpointError`."""
    calls: list[dict[str, Any]] | None = None
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
        if "calls" in line:
            calls = (calls or [])[: line["calls_from"]] + line["calls"]
        for key, logged in line["history"].items():
            values.setdefault(key, []).extend(float(v) for v in logged)
            epochs_by_key.setdefault(key, []).extend(line["epochs_by_key"][key])
    out = History()
    out.epoch = epoch
    out.history = {k: v for k, v in values.items() if v}
    out.epochs_by_key = {k: v for k, v in epochs_by_key.items() if v}
    return Log(out, calls)


def _line_problem(line: Any) -> str | None:
    """What is wrong with one decoded log line, or None."""
    keys = {"from", "epoch", "history", "epochs_by_key"}
    if not isinstance(line, dict) or set(line) - _CALL_KEYS != keys:
        return "is not an object with keys from, epoch, history, epochs_by_key"
    if ("calls" in line) != ("calls_from" in line):
        return "has 'calls' without 'calls_from' or the reverse"
    if "calls" in line and (
        not is_count(line["calls_from"])
        or not isinstance(line["calls"], list)
        or not all(isinstance(c, dict) for c in line["calls"])
    ):
        return "has malformed call records"
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
