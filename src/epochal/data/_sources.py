"""Batch sources: device-resident arrays, and everything iterable.

`ArraySource` holds in-memory data as tensors on the training device and cuts
each epoch's batches by index: one permutation per epoch made on the device
(a pure function of the run's seed and the epoch), ``index_select`` per
batch, no per-sample Python and no collation.

`IterableSource` wraps a map-style `Dataset` (batched by index through a
`DataLoader` whose batch order epochal owns), a `DataLoader`, or any iterable
of ``(x, y[, sample_weight])`` batches.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, default_collate

from epochal._tree import Tree, first_leaf, to_device, tree_map
from epochal.data._convert import as_tensor_tree, is_array_tree
from epochal.errors import DataError

__all__ = ["ArraySource", "Batch", "IterableSource", "Source"]


class Batch(NamedTuple):
    x: Tree
    y: Any
    sample_weight: torch.Tensor | None
    size: int


class ArraySource:
    """In-memory data, moved to ``device`` once."""

    # The argument the data came from, for messages ("x", "validation_data", ...).
    name: str = "x"

    def __init__(
        self,
        x: Tree,
        y: Tree | None,
        sample_weight: torch.Tensor | None,
        device: torch.device,
    ) -> None:
        self.x = to_device(x, device)
        self.y = to_device(y, device) if y is not None else None
        self.sample_weight = (
            sample_weight.to(device, non_blocking=True) if sample_weight is not None else None
        )
        self.device = device
        self.n = int(first_leaf(self.x).shape[0])

    def __len__(self) -> int:
        return self.n

    def steps(self, batch_size: int) -> int:
        return math.ceil(self.n / batch_size)

    def select(self, index: torch.Tensor | slice) -> ArraySource:
        """A new source over a subset of the samples (a view for slices)."""
        pick = (
            (lambda t: t[index])
            if isinstance(index, slice)
            else (lambda t: t.index_select(0, index))
        )
        out = ArraySource.__new__(ArraySource)
        out.x = tree_map(pick, self.x)
        out.y = tree_map(pick, self.y) if self.y is not None else None
        out.sample_weight = pick(self.sample_weight) if self.sample_weight is not None else None
        out.device = self.device
        out.n = int(first_leaf(out.x).shape[0])
        return out

    def head(self, k: int) -> Batch:
        sub = self.select(slice(0, min(k, self.n)))
        return Batch(sub.x, sub.y, sub.sample_weight, sub.n)

    def batches(
        self,
        batch_size: int,
        *,
        order: torch.Tensor | None = None,
        start: int = 0,
        limit: int | None = None,
    ) -> Iterator[Batch]:
        """Yield the batches ``start, start+1, ...`` of one pass in ``order`` (None: as stored).

        Starting at ``start`` jumps straight to that batch without touching
        the skipped samples (used to resume mid-epoch).
        """
        steps = self.steps(batch_size)
        stop = steps if limit is None else min(steps, start + limit)
        x, y, sw, n = self.x, self.y, self.sample_weight, self.n
        plain = isinstance(x, torch.Tensor) and (y is None or isinstance(y, torch.Tensor))
        for i in range(start, stop):
            lo = i * batch_size
            hi = min(lo + batch_size, n)
            if plain:
                # The common cases, kept free of per-batch Python objects: this
                # runs once per step. In order, a batch is a view (no copy).
                if order is None:
                    yield Batch(
                        x[lo:hi],
                        None if y is None else y[lo:hi],
                        None if sw is None else sw[lo:hi],
                        hi - lo,
                    )
                    continue
                idx = order[lo:hi]
                yield Batch(
                    x.index_select(0, idx),
                    None if y is None else y.index_select(0, idx),
                    None if sw is None else sw.index_select(0, idx),
                    hi - lo,
                )
                continue
            pick: Callable[[torch.Tensor], torch.Tensor]
            if order is None:
                # Contiguous slices are views: no copy at all.
                pick = operator.itemgetter(slice(lo, hi))
            else:
                pick = functools.partial(_select, index=order[lo:hi])
            xb = pick(x) if isinstance(x, torch.Tensor) else tree_map(pick, x)
            yb = (
                None
                if y is None
                else (pick(y) if isinstance(y, torch.Tensor) else tree_map(pick, y))
            )
            swb = None if sw is None else pick(sw)
            yield Batch(xb, yb, swb, hi - lo)


def _select(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return t.index_select(0, index)


def _unpack(
    item: Any,
    device: torch.device,
    where: str,
    features: Callable[[Tree], Tree] | None = None,
    check: Callable[[Batch, int], Batch] | None = None,
    index: int = 0,
) -> Batch:
    """One element of an iterable -> Batch (tensors on ``device``).

    ``features`` casts the features; ``check`` checks and conforms the batch
    (see `epochal.data._checks`), before the move to the device.
    """
    if isinstance(item, (tuple, list)):
        if len(item) == 1:
            x, y, sw = item[0], None, None
        elif len(item) == 2:
            x, y, sw = item[0], item[1], None
        elif len(item) == 3:
            x, y, sw = item
        else:
            raise DataError(
                f"Expected each batch of `{where}` to be x, (x,), (x, y) or (x, y, sample_weight). "
                f"Received a {type(item).__name__} of length {len(item)}"
            )
    else:
        x, y, sw = item, None, None
    x = _tensorize(x, f"{where} batch x")
    y = None if y is None else _tensorize(y, f"{where} batch y")
    sw = None if sw is None else _tensorize(sw, f"{where} batch sample_weight")
    batch = Batch(x, y, sw, int(first_leaf(x).shape[0]))
    if features is not None:
        batch = batch._replace(x=features(batch.x))
    if check is not None:
        batch = check(batch, index)
    return Batch(
        to_device(batch.x, device),
        None if batch.y is None else to_device(batch.y, device),
        None if batch.sample_weight is None else to_device(batch.sample_weight, device),
        batch.size,
    )


def _tensorize(value: Any, name: str) -> Tree:
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.float64:
            return value.float()
        return value
    return as_tensor_tree(value, name) if is_array_tree(value) else value


class IterableSource:
    """A `Dataset`, `DataLoader` or iterable of batches.

    Batches from a map-style ``Dataset`` come in an order the run owns (a
    permutation of the indices per epoch); a ``DataLoader`` keeps its own
    sampler, whose random seed is drawn from the torch RNG, which during
    ``fit`` is the run's generator. Any other iterable is taken as it comes.
    """

    def __init__(self, data: Any, device: torch.device, *, batch_size: int, name: str) -> None:
        self.data = data
        self.origin = data  # what the user passed (data may wrap it)
        self.device = device
        self.batch_size = batch_size
        self.name = name
        self._iterator: Iterator[Any] | None = None
        # A one-shot iterator's first item, taken by peek() and handed out first.
        self._pending: Iterator[Any] | None = None
        # Set before training (epochal.data._checks): cast features, check each batch.
        self.features: Callable[[Tree], Tree] | None = None
        self.check: Callable[[Batch, int], Batch] | None = None
        self.is_map_dataset = isinstance(data, Dataset) and not isinstance(
            data, (IterableDataset, DataLoader)
        )
        if isinstance(data, IterableDataset):
            self.data = DataLoader(data, batch_size=batch_size)
        # A one-shot iterator (a generator) cannot be restarted for a new epoch.
        self.restartable = iter(self.data) is not self.data if not self.is_map_dataset else True

    def __len__(self) -> int:
        if self.is_map_dataset:
            return len(self.data)
        raise TypeError("length unknown")

    @property
    def stream(self) -> Iterator[Any] | None:
        """The iterator a ``steps_per_epoch`` walk reads from, kept across epochs."""
        return self._iterator

    def continue_stream(self, iterator: Iterator[Any] | None) -> None:
        """Read on from ``iterator`` (the same data's walk in an earlier fit call)."""
        if iterator is not None:
            self._iterator = iterator
            self._pending = None

    def steps(self, batch_size: int) -> int | None:
        if self.is_map_dataset:
            return math.ceil(len(self.data) / batch_size)
        try:
            return len(self.data)
        except TypeError:
            return None

    def _loader(self, order: torch.Tensor | None, start: int) -> Iterable[Any]:
        if not self.is_map_dataset:
            return self.data
        n = len(self.data)
        indices = order.tolist() if order is not None else list(range(n))
        bs = self.batch_size
        batch_sampler = [indices[i : i + bs] for i in range(start * bs, n, bs)]
        # A DataLoader draws a base seed from the global RNG at every iter(); with
        # its own generator it leaves the run's RNG alone, so a mid-epoch resume
        # draws exactly what the uninterrupted run drew. For a CUDA device the
        # batches are collated into pinned memory, so their copy to the device
        # (non_blocking, see to_device) runs asynchronously.
        return DataLoader(
            self.data,
            batch_sampler=batch_sampler,
            generator=torch.Generator().manual_seed(0),
            pin_memory=self.device.type == "cuda",
        )

    def batches(
        self,
        batch_size: int,
        *,
        order: torch.Tensor | None = None,
        start: int = 0,
        limit: int | None = None,
        persistent: bool = False,
    ) -> Iterator[Batch]:
        """Yield batches of one epoch.

        ``persistent`` (``steps_per_epoch`` given for a non-indexable
        iterable): keep one iterator across epochs, as Keras does, restarting
        a re-iterable source when it runs out and warning when a one-shot
        iterator is exhausted.
        """
        pending, self._pending = self._pending, None
        if persistent and pending is not None and self._iterator is None:
            self._iterator = pending
        if not persistent:
            it: Iterator[Any] = pending if pending is not None else iter(self._loader(order, start))
            for index, item in enumerate(itertools.islice(it, limit), start):
                yield self._unpack(item, index)
            return
        assert limit is not None
        produced = 0
        restarted = False
        while produced < limit:
            if self._iterator is None:
                self._iterator = iter(self._loader(order, 0))
            try:
                item = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if not self.restartable or restarted:
                    warnings.warn(
                        f"`{self.name}` ran out of data after {produced} of "
                        f"{limit} steps this epoch; make sure it can provide steps_per_epoch * "
                        "epochs batches (for example with a repeating generator).",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    return
                restarted = True
                continue
            restarted = False
            produced += 1
            yield self._unpack(item, produced - 1)

    def _unpack(self, item: Any, index: int, *, check: bool = True) -> Batch:
        return _unpack(
            item, self.device, self.name, self.features, self.check if check else None, index
        )

    def head(self, k: int) -> Batch | None:
        """A first batch for the checks before training (None when there is no data).

        A map-style Dataset gives its first ``k`` samples; a re-iterable source
        its first batch, read with the RNG forked so that a shuffling
        DataLoader's order is not disturbed; a one-shot iterator its first
        batch, which is kept and handed out first by the next `batches` call.
        """
        if self.is_map_dataset:
            if len(self.data) == 0:
                return None
            items = [self.data[i] for i in range(min(k, len(self.data)))]
            return self._unpack(default_collate(items), 0, check=False)
        if self.restartable:
            with torch.random.fork_rng(devices=[]):
                item = next(iter(self.data), None)
        else:
            it = iter(self.data)
            item = next(it, None)
            if item is not None:
                self._pending = itertools.chain([item], it)
        return None if item is None else self._unpack(item, 0, check=False)


Source = ArraySource | IterableSource
