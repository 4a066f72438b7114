"""Reusing a ``fit`` call's prepared in-memory data when the next call gets the same tensors.

A loop of ``fit(x, y, epochs=1)`` calls hands over the same tensors every
time. Preparing them (converting, checking shapes and values, casting
features, conforming targets to the outputs) costs a few hundred
microseconds a call, a noticeable share of a short epoch. `inputs_key`
stamps what a call was given; when the next call's stamp is equal, the
previous call's sources are used as they are.

The stamp of a tensor is its identity, its version counter (torch bumps it
on every in-place write through the tensor or a view of it), storage,
shape, strides, dtype and device, so any change torch can see makes a new
key. Only torch tensors are stamped: a numpy array has no version counter,
so data given as numpy (or pandas, lists, Datasets) is prepared on every
call. Sources are kept when they hold the caller's own memory (no copy was
made), so writes to the caller's tensors reach the training batches as they
did before, and what is kept is a reference to the caller's last tensors, no
copy of them: they stay alive until a call with other data (or a new
``compile``) replaces the entry.

One copy is kept too: host tensors moved to the model's accelerator (a
CUDA device). A loop of ``fit(epochs=1)`` calls on a GPU then copies its
data to the device once, not at every call (on a small model that copy can
cost as much as the epoch). A write to the host tensors that torch sees
(any in-place operation on them or a view of them) bumps their version and
the next call copies again; a write torch cannot see (through a numpy array
sharing their memory, or through ``tensor.data``) is not seen, and the next
call trains on the copy made before it. The device copy lives as long as
the entry does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from epochal._tree import leaves
from epochal.data._features import structure_key
from epochal.data._sources import ArraySource

__all__ = [
    "Prepared",
    "inputs_key",
    "keep",
    "keeps_callers_memory",
    "moved_to_accelerator",
    "reusable",
]


def _stamp(t: torch.Tensor) -> tuple[Any, ...] | None:
    if t.layout is not torch.strided:  # sparse and other layouts: no storage to stamp
        return None
    return (
        id(t),
        t._version,
        t.data_ptr(),
        tuple(t.shape),
        t.stride(),
        t.dtype,
        t.device,
        t.requires_grad,
    )


def _tree_stamp(tree: Any) -> tuple[Any, ...] | None:
    """The stamp of a tree of tensors (None stays None); None when a leaf is not a tensor."""
    if tree is None:
        return ("none",)
    if isinstance(tree, torch.Tensor):
        stamp = _stamp(tree)
        return None if stamp is None else (stamp,)
    if not isinstance(tree, (dict, tuple, list)):
        return None
    found = list(leaves(tree))
    if not found or not all(isinstance(t, torch.Tensor) for t in found):
        return None
    stamps = [_stamp(t) for t in found]
    if any(stamp is None for stamp in stamps):
        return None
    return (structure_key(tree), *stamps)


def inputs_key(trees: Iterable[Any], settings: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """A key for a call's data (``trees``) and the ``settings`` its preparation depends on.

    None when some data is not made of torch tensors: such data is prepared anew.
    """
    stamps = []
    for tree in trees:
        stamp = _tree_stamp(tree)
        if stamp is None:
            return None
        stamps.append(stamp)
    return (*stamps, settings)


def _storages(tree: Any) -> set[int]:
    return {
        t.untyped_storage().data_ptr()
        for t in leaves(tree)
        if isinstance(t, torch.Tensor) and t.layout is torch.strided
    }


def _host_tensors(tree: Any) -> bool:
    found = [t for t in leaves(tree) if isinstance(t, torch.Tensor)]
    return bool(found) and all(t.device.type == "cpu" for t in found)


def moved_to_accelerator(sources: Iterable[ArraySource | None], given: Iterable[Any]) -> bool:
    """Whether ``sources`` were copied from host tensors the caller gave to an accelerator."""
    trees = [tree for tree in given if tree is not None]
    if not trees or not all(_host_tensors(tree) for tree in trees):
        return False
    return all(source.device.type != "cpu" for source in sources if source is not None)


def keeps_callers_memory(sources: Iterable[ArraySource | None], given: Iterable[Any]) -> bool:
    """Whether every tensor of ``sources`` lives in the storage of a tensor the caller gave."""
    callers = set().union(*(_storages(tree) for tree in given if tree is not None))
    for source in sources:
        if source is None:
            continue
        for tree in (source.x, source.y, source.sample_weight):
            if tree is None:
                continue
            if any(
                isinstance(t, torch.Tensor) and t.layout is not torch.strided for t in leaves(tree)
            ):
                return False
            if not _storages(tree) <= callers:
                return False
    return True


@dataclass(frozen=True)
class Prepared:
    """A call's prepared sources, kept for the next call with an equal key.

    ``given`` holds the caller's objects themselves, so the ids in ``key``
    cannot be taken by other objects while the entry lives. ``conform``:
    whether batch targets are conformed step by step (see `Trainer.prepare`).
    """

    key: tuple[Any, ...]
    source: ArraySource
    val: ArraySource | None
    given: tuple[Any, ...]
    conform: bool = False


def keep(
    key: tuple[Any, ...] | None,
    source: Any,
    val: Any,
    given: tuple[Any, ...],
    conform: bool = False,
) -> Prepared | None:
    """An entry for ``source`` (and ``val``) if they can be reused (see the module docstring)."""
    if key is None or not isinstance(source, ArraySource):
        return None
    if val is not None and not isinstance(val, ArraySource):
        return None
    if not (
        keeps_callers_memory((source, val), given) or moved_to_accelerator((source, val), given)
    ):
        return None
    return Prepared(key, source, val, given, conform)


def reusable(kept: Prepared | None, key: tuple[Any, ...] | None) -> Prepared | None:
    """``kept`` if it was made for ``key``."""
    return kept if kept is not None and key is not None and kept.key == key else None
