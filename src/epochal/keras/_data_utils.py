"""Keras's data utilities over torch: `PyDataset`, `pad_sequences`,
`timeseries_dataset_from_array` and `split_dataset` (no TensorFlow).

A `PyDataset` is an iterable of batches to ``fit`` (batch ``i`` is
``dataset[i]``), so ``model.fit(my_py_dataset)`` runs as in Keras; it is
iterated in index order and its ``on_epoch_end`` is called after every pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from epochal.errors import ArgumentError, ArgumentTypeError

__all__ = ["PyDataset", "pad_sequences", "split_dataset", "timeseries_dataset_from_array"]


def _positive_int(owner: str, name: str, value: Any, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a positive int{' or None' if allow_none else ''}. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if value <= 0:
        raise ArgumentError(f"{owner}: expected `{name}` to be > 0. Received: {name}={value!r}")
    return int(value)


class PyDataset:
    """Keras's base class for Python datasets of batches.

    Subclass it, call ``super().__init__(**kwargs)``, and define ``__len__``
    (the number of batches) and ``__getitem__(index)`` returning a batch
    ``(x, y)`` or ``(x, y, sample_weight)``. Datasets without an end define
    ``num_batches`` to return None and need ``steps_per_epoch`` in ``fit``.

    ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are accepted
    for Keras compatibility; epochal reads the batches in the training process,
    in index order, so that a run is repeatable (shuffle inside the dataset,
    for example in ``on_epoch_end`` with numpy's global generator, which is
    the run's during ``fit``).

    Example:
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return math.ceil(len(self.x) / self.batch_size)
        ...     def __getitem__(self, i):
        ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        ...         return self.x[s], self.y[s]
        >>> model.fit(Batches(x, y, 32), epochs=3)
    """

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ) -> None:
        self._workers = _positive_int("PyDataset", "workers", workers)
        if not isinstance(use_multiprocessing, bool):
            raise ArgumentTypeError(
                "PyDataset: expected `use_multiprocessing` to be a bool. "
                f"Received: use_multiprocessing={use_multiprocessing!r}"
            )
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = _positive_int("PyDataset", "max_queue_size", max_queue_size)

    @property
    def workers(self) -> int:
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} must define __getitem__(index) returning a batch"
        )

    @property
    def num_batches(self) -> int | None:
        """The number of batches in a pass (``len(self)``), or None for an endless dataset."""
        if type(self).__len__ is PyDataset.__len__:
            return None
        return len(self)

    def __len__(self) -> int:
        raise TypeError(
            f"{type(self).__name__} defines no __len__: an endless PyDataset; "
            "give fit steps_per_epoch"
        )

    def on_epoch_begin(self) -> None:
        """Called before each pass over the batches."""

    def on_epoch_end(self) -> None:
        """Called after each complete pass over the batches."""

    def __iter__(self) -> Iterator[Any]:
        self.on_epoch_begin()
        count = self.num_batches
        if count is None:
            index = 0
            while True:
                yield self[index]
                index += 1
        for index in range(count):
            yield self[index]
        self.on_epoch_end()


def pad_sequences(
    sequences: Sequence[Sequence[Any]],
    maxlen: int | None = None,
    dtype: str | np.dtype[Any] = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: float = 0.0,
) -> np.ndarray:
    """Pad (or truncate) sequences to one length, as Keras's ``pad_sequences``.

    Args:
        sequences: a list of sequences (lists or arrays; each item may itself
            be an array of features).
        maxlen: the length to pad to; default the longest sequence.
        dtype: the dtype of the result.
        padding: ``"pre"`` or ``"post"``: where the padding goes.
        truncating: ``"pre"`` or ``"post"``: which end longer sequences lose.
        value: the padding value.

    Returns:
        A numpy array of shape ``(len(sequences), maxlen, *item_shape)``.

    Raises:
        ArgumentError: unknown ``padding``/``truncating``, or sequences of
            different item shapes.
    """
    owner = "pad_sequences"
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ArgumentTypeError(
            f"{owner}: expected `sequences` to be a list of sequences. "
            f"Received: {type(sequences).__name__}"
        )
    for name, mode in (("padding", padding), ("truncating", truncating)):
        if mode not in ("pre", "post"):
            raise ArgumentError(
                f"{owner}: expected `{name}` to be 'pre' or 'post'. Received: {name}={mode!r}"
            )
    length = _positive_int(owner, "maxlen", maxlen, allow_none=True)
    rows = []
    for i, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
            raise ArgumentTypeError(
                f"{owner}: expected every sequence to be a list or array. "
                f"Received {type(seq).__name__} at index {i}"
            )
        rows.append(np.asarray(seq))
    if length is None:
        length = max((len(r) for r in rows), default=0)
    item_shape: tuple[int, ...] = ()
    for row in rows:
        if len(row):
            item_shape = row.shape[1:]
            break
    is_text = np.issubdtype(np.dtype(dtype), np.str_) or np.dtype(dtype) == np.object_
    if not is_text and isinstance(value, str):
        raise ArgumentError(
            f"{owner}: `dtype` {dtype} cannot hold the padding value {value!r}; use dtype=object"
        )
    out = np.full((len(rows), length, *item_shape), value, dtype=dtype)
    for i, row in enumerate(rows):
        if not len(row):
            continue
        if row.shape[1:] != item_shape:
            raise ArgumentError(
                f"{owner}: every item must have shape {item_shape}. "
                f"Received shape {row.shape[1:]} in sequence {i}"
            )
        kept = row[-length:] if truncating == "pre" else row[:length]
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, length - len(kept) :] = kept
    return out


class _Timeseries(PyDataset):
    """Batches of sliding windows over an array (see `timeseries_dataset_from_array`)."""

    def __init__(
        self,
        data: np.ndarray,
        targets: np.ndarray | None,
        starts: np.ndarray,
        offsets: np.ndarray,
        batch_size: int | None,
        shuffle_seed: int | None,
        shuffle: bool,
    ) -> None:
        super().__init__()
        self.data, self.targets = data, targets
        self.starts, self.offsets = starts, offsets
        self.batch_size = batch_size
        self._shuffle, self._seed, self._passes = shuffle, shuffle_seed, 0
        self._order = np.arange(len(starts))

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.starts)
        return math.ceil(len(self.starts) / self.batch_size)

    def on_epoch_begin(self) -> None:
        if not self._shuffle:
            return
        if self._seed is None:  # numpy's global generator: the run's during fit
            self._order = np.random.permutation(len(self.starts))
        else:
            rng = np.random.default_rng([self._seed, self._passes])
            self._order = rng.permutation(len(self.starts))
        self._passes += 1

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range [0, {len(self)})")
        if self.batch_size is None:
            picked = self._order[index : index + 1]
        else:
            picked = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        starts = self.starts[picked]
        windows = torch.from_numpy(self.data[starts[:, None] + self.offsets[None, :]])
        if self.batch_size is None:
            windows = windows[0]
        if self.targets is None:
            return windows
        target = torch.from_numpy(np.asarray(self.targets[starts]))
        return windows, (target[0] if self.batch_size is None else target)


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> PyDataset:
    """Batches of sliding windows over ``data``, as Keras's function of that name.

    Window ``i`` starts at ``start_index + i * sequence_stride`` and holds
    ``sequence_length`` timesteps ``sampling_rate`` apart; its target is
    ``targets[start]``. The result is a `PyDataset` that ``fit``,
    ``evaluate`` and ``predict`` take directly (no TensorFlow).

    Args:
        data: an array or tensor, timesteps on axis 0.
        targets: one target per timestep (or None for inputs only).
        sequence_length: timesteps per window.
        sequence_stride: timesteps between consecutive window starts.
        sampling_rate: timesteps between the samples inside a window.
        batch_size: windows per batch (None: single windows, unbatched).
        shuffle: shuffle the windows at every pass (from ``seed`` and the
            pass number, or from numpy's global generator without a seed).
        seed: the shuffling seed.
        start_index, end_index: the part of ``data`` windows are taken from
            (``end_index`` exclusive).

    Returns:
        A `PyDataset` of ``(windows, targets)`` batches (``windows`` alone
        when ``targets`` is None).

    Raises:
        ArgumentError: non-positive lengths or rates, indices outside the
            data, or ``targets`` of another length than ``data``.
    """
    owner = "timeseries_dataset_from_array"
    array = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    if array.ndim == 0:
        raise ArgumentError(f"{owner}: expected `data` with a time axis. Received a scalar")
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    length = _positive_int(owner, "sequence_length", sequence_length)
    stride = _positive_int(owner, "sequence_stride", sequence_stride)
    rate = _positive_int(owner, "sampling_rate", sampling_rate)
    batch = _positive_int(owner, "batch_size", batch_size, allow_none=True)
    assert length is not None and stride is not None and rate is not None
    n = len(array)
    start = 0 if start_index is None else int(start_index)
    end = n if end_index is None else int(end_index)
    if not 0 <= start < n:
        raise ArgumentError(f"{owner}: expected 0 <= start_index < {n}. Received: {start_index}")
    if not start < end <= n:
        raise ArgumentError(
            f"{owner}: expected start_index < end_index <= {n}. Received: end_index={end_index}"
        )
    target_array = None
    if targets is not None:
        target_array = (
            targets.detach().cpu().numpy()
            if isinstance(targets, torch.Tensor)
            else np.asarray(targets)
        )
        if len(target_array) != n:
            raise ArgumentError(
                f"{owner}: expected `targets` to have one entry per timestep of `data` ({n}). "
                f"Received {len(target_array)}"
            )
    span = (length - 1) * rate
    starts = np.arange(start, max(end - span, start), stride, dtype=np.int64)
    offsets = np.arange(0, span + 1, rate, dtype=np.int64)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ArgumentTypeError(f"{owner}: expected `seed` to be an int. Received: seed={seed!r}")
    return _Timeseries(array, target_array, starts, offsets, batch, seed, bool(shuffle))


def _count(owner: str, name: str, size: Any, total: int) -> int | None:
    if size is None:
        return None
    if isinstance(size, float) and not isinstance(size, bool):
        if not 0.0 < size < 1.0:
            raise ArgumentError(
                f"{owner}: expected `{name}` as a fraction in (0, 1) or a count. "
                f"Received: {name}={size!r}"
            )
        return round(size * total)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ArgumentTypeError(
            f"{owner}: expected `{name}` to be a float in (0, 1), an int, or None. "
            f"Received: {name}={size!r}"
        )
    if not 0 < size <= total:
        raise ArgumentError(
            f"{owner}: expected `{name}` between 1 and the dataset's {total} samples. "
            f"Received: {name}={size!r}"
        )
    return int(size)


def _as_dataset(dataset: Any, owner: str) -> Dataset[Any]:
    if isinstance(dataset, Dataset):
        return dataset
    parts = dataset if isinstance(dataset, (tuple, list)) else (dataset,)
    try:
        tensors = [
            p if isinstance(p, torch.Tensor) else torch.as_tensor(np.asarray(p)) for p in parts
        ]
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(
            f"{owner}: expected `dataset` to be an array, a tuple of arrays or a torch Dataset. "
            f"Received: {type(dataset).__name__}"
        ) from exc
    lengths = {len(t) for t in tensors if t.ndim > 0}
    if len(lengths) != 1 or any(t.ndim == 0 for t in tensors):
        raise ArgumentError(
            f"{owner}: expected the arrays of `dataset` to have one common length. "
            f"Received lengths {sorted(len(t) for t in tensors if t.ndim)}"
        )
    tensors = [t.float() if t.dtype == torch.float64 else t for t in tensors]
    return TensorDataset(*tensors)


def split_dataset(
    dataset: Any,
    left_size: float | int | None = None,
    right_size: float | int | None = None,
    shuffle: bool = False,
    seed: int | None = None,
) -> tuple[Dataset[Any], Dataset[Any]]:
    """Split a dataset in two, as Keras's ``split_dataset``.

    Args:
        dataset: an array, a tuple/list of arrays of one length, or a torch
            map-style ``Dataset``.
        left_size, right_size: a fraction in (0, 1) or a sample count each;
            one given, the other is the rest; neither given, half and half.
        shuffle: shuffle the samples before splitting.
        seed: the shuffling seed (a fixed split for a given seed).

    Returns:
        ``(left, right)`` torch Datasets (``TensorDataset`` for arrays, which
        ``fit`` batches on the device; ``Subset`` otherwise).

    Raises:
        ArgumentError: sizes out of range or adding up to more than the data.
    """
    owner = "split_dataset"
    data = _as_dataset(dataset, owner)
    total = len(data)  # type: ignore[arg-type]
    if total < 2:
        raise ArgumentError(f"{owner}: expected at least 2 samples to split. Received {total}")
    left = _count(owner, "left_size", left_size, total)
    right = _count(owner, "right_size", right_size, total)
    if left is None and right is None:
        left = total // 2
    if left is None:
        assert right is not None
        left = total - right
    if right is None:
        right = total - left
    if left + right > total or left <= 0 or right <= 0:
        raise ArgumentError(
            f"{owner}: left_size and right_size must each keep at least one sample and add up to "
            f"at most the {total} samples. Received: left_size={left_size!r}, "
            f"right_size={right_size!r}"
        )
    order = np.random.default_rng(seed).permutation(total) if shuffle else np.arange(total)
    left_idx, right_idx = order[:left], order[left : left + right]
    if isinstance(data, TensorDataset):
        return (
            TensorDataset(*(t[torch.from_numpy(left_idx)] for t in data.tensors)),
            TensorDataset(*(t[torch.from_numpy(right_idx)] for t in data.tensors)),
        )
    return Subset(data, left_idx.tolist()), Subset(data, right_idx.tolist())
