"""torch.distributed for epochal: who we are, reductions, and rank-0 IO.

epochal runs on ``torchrun`` (or any launcher that sets torch's environment
variables ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``, and
``LOCAL_RANK``) or inside a process group the user initialized. `setup`
finds either, initializes the group when needed (gloo on the CPU, NCCL with
one CUDA device per ``LOCAL_RANK``) and destroys the group it made at exit.
A plain ``python script.py`` is a world of one, and every function here is
then a no-op that costs one attribute test.

Collectives are bounded in time: the group epochal initializes gets a
timeout of ``EPOCHAL_DIST_TIMEOUT`` seconds (default 300) instead of torch's
30 minutes, so a lost peer ends every rank with an error.
"""

from __future__ import annotations

import atexit
import datetime
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from epochal.errors import EpochalError

__all__ = [
    "World",
    "all_gather_rows",
    "all_reduce_sum",
    "any_rank",
    "barrier",
    "broadcast_object",
    "setup",
    "shard_bounds",
    "world",
]

_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class DistributedError(EpochalError, RuntimeError):
    """A distributed run cannot go on (a peer failed, or the launch is inconsistent)."""


@dataclass(frozen=True)
class World:
    """This process's place in the run: ``rank`` of ``size`` processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and prints."""
        return self.rank == 0


_SINGLE = World()
_made_group = False


def _timeout() -> datetime.timedelta:
    raw = os.environ.get("EPOCHAL_DIST_TIMEOUT", "300")
    try:
        seconds = float(raw)
    except ValueError as exc:
        raise DistributedError(
            f"EPOCHAL_DIST_TIMEOUT must be a number of seconds. Received: {raw!r}"
        ) from exc
    return datetime.timedelta(seconds=seconds)


def world() -> World:
    """The current world: the initialized process group, or a world of one."""
    if not (dist.is_available() and dist.is_initialized()):
        return _SINGLE
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return World(dist.get_rank(), dist.get_world_size(), local, str(dist.get_backend()))


def setup() -> World:
    """Join the process group torchrun describes, or the one already initialized.

    Returns:
        The `World` this process belongs to (a world of one without a launcher).

    Raises:
        DistributedError: torchrun's variables are set only in part.
    """
    global _made_group
    if not dist.is_available():
        return _SINGLE
    if dist.is_initialized():
        return world()
    present = [name for name in _ENV if name in os.environ]
    if not present:
        return _SINGLE
    if len(present) != len(_ENV):
        missing = [name for name in _ENV if name not in os.environ]
        raise DistributedError(
            f"Found torchrun's variables {present} but not {missing}: launch the script with "
            "torchrun, or unset them for a single process"
        )
    if int(os.environ["WORLD_SIZE"]) <= 1:
        return _SINGLE
    use_cuda = torch.cuda.is_available()
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    store = _restart_store()
    if store is None:
        dist.init_process_group(backend=backend, timeout=_timeout())
    else:
        dist.init_process_group(
            backend=backend,
            store=store,
            rank=int(os.environ["RANK"]),
            world_size=int(os.environ["WORLD_SIZE"]),
            timeout=_timeout(),
        )
    _made_group = True
    atexit.register(_teardown)
    _watch_failures()
    return world()


def _restart_store() -> Any:
    """After a torchrun restart, the agent's store under a prefix of this attempt, else None.

    torchrun's agent keeps its store across restarts: the restarted workers
    could read the failed attempt's gloo addresses there and fail to connect.
    """
    attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
    if attempt == 0 or os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    client = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        int(os.environ["WORLD_SIZE"]),
        is_master=False,
        timeout=_timeout(),
    )
    return dist.PrefixStore(f"epochal/attempt_{attempt}/", client)


_failed = False


def _watch_failures() -> None:
    """Remember an uncaught exception, so that the exit does not wait for the peers."""
    previous = sys.excepthook

    def hook(kind: Any, value: Any, traceback: Any) -> None:
        global _failed
        _failed = True
        previous(kind, value, traceback)

    sys.excepthook = hook


def _teardown() -> None:
    """Destroy the group epochal made; at a clean exit once every rank got there.

    A rank that destroyed its group and exited while a peer still tore its
    own down made gloo abort that peer, so a clean exit waits (at most ten
    seconds) for the others. A failing rank leaves at once.
    """
    global _made_group
    if _made_group and dist.is_initialized():
        if dist.get_backend() == "gloo" and not _failed:
            with suppress(Exception):
                dist.monitored_barrier(timeout=datetime.timedelta(seconds=10))
        dist.destroy_process_group()
    _made_group = False


def default_device(w: World) -> torch.device:
    """One CUDA device per local rank when there are GPUs, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", w.local_rank if w.distributed else torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait for every rank (a no-op in a world of one)."""
    if world().distributed:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over the ranks, in place; returns it."""
    if world().distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(flag: bool, device: torch.device | None = None) -> bool:
    """True on every rank when ``flag`` is true on any rank (stop decisions agree)."""
    if not world().distributed:
        return bool(flag)
    value = torch.tensor([1 if flag else 0], device=device or _collective_device())
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (picklable Python objects)."""
    if not world().distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's rows concatenated in rank order (ranks may hold different row counts)."""
    if not world().distributed:
        return tensor
    size = world().size
    count = torch.tensor([tensor.shape[0]], device=tensor.device)
    counts = [torch.zeros_like(count) for _ in range(size)]
    dist.all_gather(counts, count)
    longest = int(max(int(c.item()) for c in counts))
    padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
    padded[: tensor.shape[0]] = tensor
    parts = [torch.zeros_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(c.item())] for p, c in zip(parts, counts, strict=True)])


def shard_bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """The contiguous share ``[start, stop)`` of ``n`` rows that ``rank`` takes.

    Shares differ by at most one row and the first ``n % size`` ranks take
    the longer ones, so every row is taken exactly once.
    """
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _collective_device() -> torch.device:
    if world().backend == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


@contextmanager
def main_first() -> Iterator[None]:
    """Let rank 0 run the block before the other ranks (for example a write they then read)."""
    w = world()
    if w.distributed and not w.is_main:
        dist.barrier()
    try:
        yield
    finally:
        if w.distributed and w.is_main:
            dist.barrier()
