"""`RunState`: everything one training run owns, across every ``fit`` call.

A run is one continuous thing: its epoch counter and global step, the
cumulative history, the random state module randomness (dropout) draws from,
every callback's state, and whether it has been stopped. The epoch order of
in-memory data is a pure function of ``(seed, epoch)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from epochal.callbacks.history import History

__all__ = ["RunState", "derive_seed", "owned_rng"]


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed derived from ``seed`` and ``parts``, stable across processes and platforms."""
    digest = hashlib.blake2b(repr((int(seed), *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _generator_state(seed: int) -> torch.Tensor:
    return torch.Generator().manual_seed(seed).get_state()


@dataclass
class RunState:
    """The state of one training run (see the module docstring).

    Attributes:
        seed: the run's seed; shuffling and module randomness derive from it.
        epoch: completed epochs; the next epoch's 0-based index.
        step: optimizer steps taken.
        history: the whole run's `History` (``model.history``).
        rng_state: the CPU generator state module randomness draws from during ``fit``.
        callback_states: each callback's saved state, by its key.
        stopped: the run was stopped (early stopping, NaN loss, ``model.stop_training``).
        trajectory: weights the run continues from when the model is showing
            other weights (the best epoch's, restored by EarlyStopping).
        baseline_loss: the loss of the constant predictor on the training targets.
        events: notes for the learning-curve diagnosis (best, stopped, restored epoch).
    """

    seed: int
    history: History
    epoch: int = 0
    step: int = 0
    rng_state: torch.Tensor | None = None
    cuda_rng_state: torch.Tensor | None = None
    callback_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped: bool = False
    stop_reason: str | None = None
    trajectory: dict[str, torch.Tensor] | None = None
    shown_versions: list[int] | None = None
    baseline_loss: float | None = None
    events: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rng_state is None:
            self.rng_state = _generator_state(derive_seed(self.seed, "module-rng"))

    def epoch_order(self, epoch: int, n: int, device: torch.device) -> torch.Tensor:
        """The shuffled sample order of ``epoch``: a pure function of (seed, epoch, n).

        Made on ``device`` so batches are cut there without a host round trip.
        """
        gen = torch.Generator(device=device)
        gen.manual_seed(derive_seed(self.seed, "shuffle", epoch))
        return torch.randperm(n, generator=gen, device=device)


@contextmanager
def owned_rng(run: RunState, device: torch.device) -> Iterator[None]:
    """Make torch's global RNG the run's for the duration of a ``fit`` call.

    The user's RNG state is put back afterwards, so random numbers the user
    draws between fit calls neither change the run nor are changed by it.
    """
    user_cpu = torch.get_rng_state()
    cuda = device.type == "cuda"
    user_cuda = torch.cuda.get_rng_state(device) if cuda else None
    assert run.rng_state is not None
    torch.set_rng_state(run.rng_state)
    if cuda:
        if run.cuda_rng_state is None:
            torch.cuda.manual_seed(derive_seed(run.seed, "cuda-rng"))
        else:
            torch.cuda.set_rng_state(run.cuda_rng_state, device)
    try:
        yield
    finally:
        run.rng_state = torch.get_rng_state()
        torch.set_rng_state(user_cpu)
        if cuda:
            run.cuda_rng_state = torch.cuda.get_rng_state(device)
            assert user_cuda is not None
            torch.cuda.set_rng_state(user_cuda, device)


@contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run a block under a fixed CPU RNG seed, leaving the caller's RNG as it was."""
    saved = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_rng_state(saved)
