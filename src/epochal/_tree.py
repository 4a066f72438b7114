"""Tiny helpers for inputs that are a tensor, a tuple/list of tensors or a dict of tensors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from epochal.errors import ArgumentTypeError

Tree = Any  # a tensor, or a tuple/list/dict of trees


def tree_map(fn: Callable[[Any], Any], tree: Tree) -> Tree:
    """Apply ``fn`` to every leaf, keeping the structure (``None``, an absent entry, stays)."""
    if tree is None:
        return None
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(fn, v) for v in tree)
    return fn(tree)


def leaves(tree: Tree) -> Iterator[Any]:
    """The leaves in a fixed order (dict insertion order)."""
    if isinstance(tree, dict):
        for v in tree.values():
            yield from leaves(v)
    elif isinstance(tree, (tuple, list)):
        for v in tree:
            yield from leaves(v)
    else:
        yield tree


def first_leaf(tree: Tree) -> Any:
    return next(leaves(tree))


def call_module(module: Callable[..., Any], x: Tree) -> Any:
    """Call ``module`` the way multi-input data asks: tuple -> positional, dict -> keyword."""
    if isinstance(x, (tuple, list)):
        return module(*x)
    if isinstance(x, dict):
        return module(**x)
    return module(x)


def to_device(tree: Tree, device: torch.device) -> Tree:
    # non_blocking only matters for pinned host memory -> CUDA; harmless elsewhere.
    return tree_map(
        lambda t: t.to(device, non_blocking=True) if isinstance(t, torch.Tensor) else t, tree
    )


def concat_batches(outputs: list[Any]) -> Any:
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        return torch.cat([o.detach() for o in outputs], dim=0)
    if isinstance(first, dict):
        return {k: concat_batches([o[k] for o in outputs]) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(concat_batches([o[i] for o in outputs]) for i in range(len(first)))
    raise ArgumentTypeError(
        f"predict: the module returned a {type(first).__name__}; expected tensors, or a "
        "tuple/dict of tensors"
    )


def all_tensors(x: Any) -> bool:
    if isinstance(x, torch.Tensor):
        return True
    if isinstance(x, (tuple, list, dict)) and x:
        return all(isinstance(leaf, torch.Tensor) for leaf in leaves(x))
    return False


def leaf_device(x: Tree) -> torch.device:
    return first_leaf(x).device
