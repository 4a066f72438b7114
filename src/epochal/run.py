"""`RunState`: everything one training run owns, across every ``fit`` call.

A run is one continuous thing: its epoch counter and global step, the
cumulative history (which also holds the run's diagnosis notes, ``events``,
and its ``baseline_loss``), the random state module randomness (dropout) and
data augmentation draw from (torch's, numpy's and Python's global generators
are the run's during ``fit``), every callback's state, whether it has been
stopped, and one light record per finished ``fit`` call (see `CallRecord`).
The epoch order of in-memory data is a pure function of ``(seed, epoch)``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from epochal import _rng_swap
from epochal._rng_swap import NumpyState, PythonState

if TYPE_CHECKING:
    from epochal.callbacks.history import History

__all__ = ["CallRecord", "RunState", "derive_seed", "owned_rng", "preserved_rng"]


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed derived from ``seed`` and ``parts``, stable across processes and platforms."""
    digest = hashlib.blake2b(repr((int(seed), *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _generator_state(seed: int) -> torch.Tensor:
    return torch.Generator().manual_seed(seed).get_state()


@dataclass(frozen=True)
class CallRecord:
    """What the script saw at the end of one finished ``fit`` call.

    Written with the run's checkpoints so that a resumed script replaying the
    calls a checkpoint covers shows, at the end of each, what the
    uninterrupted script saw there (see `epochal._resume`).

    Attributes:
        first: the first epoch of the call as the script asked for it.
        last: the epoch the call was asked to reach (exclusive).
        epoch: the run's epoch at the end of the call.
        step: the run's step at the end of the call.
        stopped: ``stop_training`` at the end of the call.
        lrs: the optimizer's learning rate per parameter group.
        weights: file name of the end-of-call weights (beside the checkpoints), or None.
        digest: sha256 of that file.
    """

    first: int
    last: int
    epoch: int
    step: int
    stopped: bool
    lrs: tuple[float, ...]
    weights: str | None = None
    digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "epoch": self.epoch,
            "step": self.step,
            "stopped": self.stopped,
            "lrs": list(self.lrs),
            "weights": self.weights,
            "digest": self.digest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallRecord:
        return cls(
            int(data["first"]),
            int(data["last"]),
            int(data["epoch"]),
            int(data["step"]),
            bool(data["stopped"]),
            tuple(float(v) for v in data["lrs"]),
            data.get("weights"),
            data.get("digest"),
        )


@dataclass
class RunState:
    """The state of one training run (see the module docstring).

    Attributes:
        seed: the run's seed; shuffling and module randomness derive from it.
        epoch: completed epochs; the next epoch's 0-based index.
        step: optimizer steps taken.
        history: the whole run's `History` (``model.history``).
        rng_state: the CPU generator state module randomness draws from during ``fit``.
        numpy_rng_state, python_rng_state: numpy's and Python's global
            generator states during ``fit`` (read and set as JSON-compatible
            values; kept in their native form, converted only when read, so a
            ``fit`` call does not pay for the conversion).
        callback_states: each callback's saved state, by its key.
        stopped: the run was stopped (early stopping, NaN loss, ``model.stop_training``).
        trajectory: weights the run continues from when the model is showing
            other weights (the best epoch's, restored by EarlyStopping).
        calls: one `CallRecord` per finished ``fit`` call of the run.
        data_position: where a ``steps_per_epoch`` walk over the training
            data stands: ``(epoch of its pass, next batch)``, or None.
    """

    seed: int
    history: History
    epoch: int = 0
    step: int = 0
    rng_state: torch.Tensor | None = None
    cuda_rng_state: torch.Tensor | None = None
    numpy_native: NumpyState | None = field(default=None, repr=False)
    python_native: PythonState | None = field(default=None, repr=False)
    callback_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped: bool = False
    trajectory: dict[str, torch.Tensor] | None = None
    shown_versions: list[int] | None = None
    calls: list[CallRecord] = field(default_factory=list)
    data_position: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.rng_state is None:
            self.rng_state = _generator_state(derive_seed(self.seed, "module-rng"))
        if self.numpy_native is None:
            seed = derive_seed(self.seed, "numpy-rng") % 2**32
            self.numpy_native = NumpyState.seeded(seed)
        if self.python_native is None:
            self.python_native = PythonState.seeded(derive_seed(self.seed, "python-rng"))

    @property
    def numpy_rng_state(self) -> dict[str, Any]:
        """numpy's global generator state of the run, as JSON-compatible values."""
        assert self.numpy_native is not None
        return _numpy_state_to_json(self.numpy_native.legacy())

    @numpy_rng_state.setter
    def numpy_rng_state(self, value: dict[str, Any]) -> None:
        self.numpy_native = NumpyState.from_legacy(_numpy_state_from_json(value))

    @property
    def python_rng_state(self) -> list[Any]:
        """Python's ``random`` state of the run, as JSON-compatible values."""
        assert self.python_native is not None
        return _python_state_to_json(self.python_native.legacy())

    @python_rng_state.setter
    def python_rng_state(self, value: list[Any]) -> None:
        self.python_native = PythonState.from_legacy(_python_state_from_json(value))

    @property
    def events(self) -> dict[str, Any]:
        """Notes for the learning-curve diagnosis (kept in the run's `History`)."""
        return self.history.events

    @property
    def baseline_loss(self) -> float | None:
        """The constant predictor's loss on the training targets (kept in the run's `History`)."""
        return self.history.baseline_loss

    @baseline_loss.setter
    def baseline_loss(self, value: float | None) -> None:
        self.history.baseline_loss = value

    def epoch_order(self, epoch: int, n: int, device: torch.device) -> torch.Tensor:
        """The shuffled sample order of ``epoch``: a pure function of (seed, epoch, n).

        Made on ``device`` so batches are cut there without a host round trip.
        """
        gen = torch.Generator(device=device)
        gen.manual_seed(derive_seed(self.seed, "shuffle", epoch))
        return torch.randperm(n, generator=gen, device=device)


def _numpy_state_to_json(state: Any) -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = state
    return {
        "kind": str(kind),
        "keys": [int(k) for k in keys],
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached": float(cached),
    }


def _numpy_state_from_json(data: dict[str, Any]) -> tuple[Any, ...]:
    keys = np.asarray(data["keys"], dtype=np.uint32)
    return (data["kind"], keys, int(data["pos"]), int(data["has_gauss"]), float(data["cached"]))


def _python_state_to_json(state: Any) -> list[Any]:
    version, internal, gauss = state
    return [int(version), [int(v) for v in internal], gauss]


def _python_state_from_json(data: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = data
    return (int(version), tuple(int(v) for v in internal), gauss)


def live_rng_states() -> tuple[dict[str, Any], list[Any]]:
    """numpy's and Python's global generator states now, as JSON-compatible values."""
    return _numpy_state_to_json(np.random.get_state()), _python_state_to_json(random.getstate())


@contextmanager
def owned_rng(run: RunState, device: torch.device) -> Iterator[None]:
    """Make torch's, numpy's and Python's global RNGs the run's for a ``fit`` call.

    The user's RNG states are put back afterwards, so random numbers the user
    draws between fit calls neither change the run nor are changed by it.
    """
    user_cpu = torch.get_rng_state()
    user_numpy = _rng_swap.take_numpy()
    user_python = _rng_swap.take_python()
    cuda = device.type == "cuda"
    user_cuda = torch.cuda.get_rng_state(device) if cuda else None
    assert run.rng_state is not None
    assert run.numpy_native is not None and run.python_native is not None
    torch.set_rng_state(run.rng_state)
    _rng_swap.put_numpy(run.numpy_native)
    _rng_swap.put_python(run.python_native)
    if cuda:
        if run.cuda_rng_state is None:
            torch.cuda.manual_seed(derive_seed(run.seed, "cuda-rng"))
        else:
            torch.cuda.set_rng_state(run.cuda_rng_state, device)
    try:
        yield
    finally:
        run.rng_state = torch.get_rng_state()
        run.numpy_native, run.python_native = _rng_swap.take_numpy(), _rng_swap.take_python()
        torch.set_rng_state(user_cpu)
        _rng_swap.put_numpy(user_numpy)
        _rng_swap.put_python(user_python)
        if cuda:
            run.cuda_rng_state = torch.cuda.get_rng_state(device)
            assert user_cuda is not None
            torch.cuda.set_rng_state(user_cuda, device)


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (a probe of the data) leaving torch's, numpy's and Python's RNGs as they were."""
    cpu, python_state = torch.get_rng_state(), _rng_swap.take_python()
    numpy_state = _rng_swap.take_numpy()
    _rng_swap.put_numpy(numpy_state)
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        _rng_swap.put_numpy(numpy_state)
        _rng_swap.put_python(python_state)


@contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run a block under a fixed CPU RNG seed, leaving the caller's RNG as it was."""
    saved = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(saved)
