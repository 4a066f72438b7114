"""Checking and copying what a checkpoint save is given: weights, state tree, metadata.

Everything is validated and copied before a save touches the disk, so a bad
argument leaves nothing behind and later changes to the caller's tensors do
not leak into what is written. ``meta.json`` is strict JSON: a non-finite
float is written as ``{"$float": "nan"}`` (or ``"inf"``, ``"-inf"``).
"""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Mapping
from typing import Any

import torch

from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["FLOAT_TAG", "decode_float_tags", "encode_meta", "prepare_state", "prepare_weights"]

FLOAT_TAG = "$float"
_NONFINITE_NAMES = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_FORMAT_VERSION_KEY = "format_version"


def prepare_weights(weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
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


def prepare_state(obj: Any, where: str, active: set[int]) -> Any:
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
                out[key] = prepare_state(value, f"{where}[{key!r}]", active)
            return out
        items = [prepare_state(v, f"{where}[{i}]", active) for i, v in enumerate(obj)]
        return tuple(items) if isinstance(obj, tuple) else items
    finally:
        active.discard(id(obj))


# -- meta.json ----------------------------------------------------------------
def encode_meta(meta: Mapping[str, Any], version: int) -> str:
    if not isinstance(meta, Mapping):
        raise ArgumentTypeError(f"Expected `meta` to be a mapping. Received: {type(meta)!r}")
    if "format_version" in meta:
        raise ArgumentError(
            "Expected `meta` without the key 'format_version': it is reserved and "
            "written by epochal."
        )
    doc = {"format_version": version, **_to_json(meta, "meta", set())}
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def _to_json(obj: Any, where: str, active: set[int]) -> Any:
    if obj is None or isinstance(obj, (bool, int, str)):
        return _plain(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {FLOAT_TAG: _nonfinite_name(obj)}
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
            if FLOAT_TAG in obj:
                raise ArgumentError(f"Expected `{where}` without the reserved key {FLOAT_TAG!r}.")
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


def decode_float_tags(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and FLOAT_TAG in obj and obj[FLOAT_TAG] in _NONFINITE_NAMES:
        return _NONFINITE_NAMES[obj[FLOAT_TAG]]
    return obj
