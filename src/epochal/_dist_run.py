"""One run on N processes: the step's shard, the loss scale, global logs, rank-0 IO.

The loop (`epochal.loop`) and the run's owner (`epochal._trainer`) call these
when `epochal.distributed.world` says the run has more than one process; in
a world of one none of it runs.

The rules (see docs/distributed.md):

- ``batch_size`` is the global batch. Each step, rank r takes the contiguous
  rows `shard_bounds` gives it of the same global batch, cut from the one
  permutation f(seed, epoch). Shares differ by at most one row, so any
  ``batch_size`` works on any number of processes.
- The loss rank r backpropagates is its batch mean times
  ``local_rows * world / global_rows``; DDP averages the gradients over the
  ranks, so the update is the single-process gradient of the global batch's
  mean loss, also for the last, smaller batch. A rank whose share is empty
  (a global batch smaller than the world) runs a forward of one row with a
  scale of zero, so it still joins DDP's gradient reduction.
- Loss sums, sample counts and metric states are summed over the ranks
  before any callback sees them, so every rank's logs are the global ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torchmetrics
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from epochal import distributed as dist_mod
from epochal._metric_kinds import SumMetric
from epochal._tree import concat_batches, tree_map
from epochal.data import ArraySource, Batch, Source
from epochal.errors import ArgumentError
from epochal.metrics import CompiledMetric

if TYPE_CHECKING:
    from epochal.callbacks.base import CallbackList

__all__ = [
    "DistStep",
    "GlobalSums",
    "distributed_engine",
    "is_shardable",
    "local_metric_value",
    "local_rows",
    "partial_states",
    "presharded",
    "scale_by_global_count",
    "predict_shared",
    "rank_zero_only",
    "shard_batches",
    "sync_batchnorm_module",
]


class _GradScale(torch.autograd.Function):
    """Identity on the value; multiplies the gradient by ``scale`` (the rank's share)."""

    @staticmethod
    def forward(ctx: Any, loss: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return loss.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.scale, None


class _Forward(nn.Module):
    """The training forward (which may stop before a final activation) as a module for DDP."""

    def __init__(self, module: nn.Module, forward: Callable[[Any], Any]) -> None:
        super().__init__()
        self.module = module
        self._forward = forward

    def forward(self, x: Any) -> Any:
        return self._forward(x)


@dataclass
class DistStep:
    """The distributed side of an engine: the world, the DDP wrapper, this step's loss scale."""

    world: dist_mod.World
    ddp: nn.Module
    scale: float = 1.0


def distributed_engine(engine: Any, world: dist_mod.World) -> tuple[Any, DistStep]:
    """A copy of ``engine`` whose training forward runs through DDP and whose loss is scaled.

    The user's module is wrapped once (DDP broadcasts rank 0's weights and
    buffers to every rank here, so all ranks start alike); `evaluate` and
    `predict` keep calling the plain module, which needs no collective.
    """
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [engine.device.index] if engine.device.type == "cuda" else None
    ddp = DistributedDataParallel(_Forward(engine.module, engine.forward), device_ids=device_ids)
    state = DistStep(world=world, ddp=ddp)
    loss_fn = engine.loss_fn

    def scaled_loss(p: Any, y: Any, sw: torch.Tensor | None) -> torch.Tensor:
        result: torch.Tensor = _GradScale.apply(loss_fn(p, y, sw), state.scale)
        return result

    from dataclasses import replace

    return replace(engine, forward=ddp, loss_fn=scaled_loss), state


def _rows(tree: Any, lo: int, hi: int) -> Any:
    if tree is None:
        return None
    return tree_map(lambda t: t[lo:hi] if isinstance(t, torch.Tensor) else t, tree)


def shard_batches(batches: Iterator[Batch], state: DistStep) -> Iterator[Batch]:
    """This rank's share of each global batch; sets ``state.scale`` for the step.

    A yielded batch's ``size`` is the rows this rank counts (0 for an empty
    share, which still carries one row for the collective forward).
    """
    w = state.world
    for x, y, sw, n in batches:
        lo, hi = dist_mod.shard_bounds(n, w.rank, w.size)
        if hi > lo:
            state.scale = (hi - lo) * w.size / n
            yield Batch(_rows(x, lo, hi), _rows(y, lo, hi), _rows(sw, lo, hi), hi - lo)
        else:
            state.scale = 0.0
            yield Batch(_rows(x, 0, 1), _rows(y, 0, 1), _rows(sw, 0, 1), 0)


def presharded(source: Source) -> bool:
    """Whether ``source`` is a DataLoader whose sampler is a ``DistributedSampler``.

    Such a loader already gives each rank its own batches (its share of the
    data, padded by the sampler so that every rank has as many batches).
    """
    data = getattr(source, "data", None)
    return isinstance(data, DataLoader) and isinstance(data.sampler, DistributedSampler)


def set_sampler_epoch(source: Source, epoch: int) -> None:
    """Give a DistributedSampler the run's epoch, so each epoch has its own shuffle."""
    if presharded(source):
        source.data.sampler.set_epoch(epoch)  # type: ignore[union-attr]


def scale_by_global_count(batches: Iterator[Batch], state: DistStep) -> Iterator[Batch]:
    """Each rank's own batches (a DistributedSampler's); the scale from the summed row count."""
    size = state.world.size
    for batch in batches:
        count = torch.tensor([float(batch.size)], dtype=torch.float64)
        total = float(dist_mod.all_reduce_sum(count).item())
        state.scale = batch.size * size / total if total else 0.0
        yield batch


def is_shardable(source: Source) -> bool:
    """Whether ``source`` can be cut into the ranks' shares (in-memory data, map-style Datasets)."""
    return isinstance(source, ArraySource) or bool(getattr(source, "is_map_dataset", False))


def local_rows(source: ArraySource, steps: int | None, batch_size: int) -> ArraySource:
    """This rank's contiguous share of ``source`` (its first ``steps`` batches when given)."""
    n = source.n if steps is None else min(source.n, steps * batch_size)
    w = dist_mod.world()
    lo, hi = dist_mod.shard_bounds(n, w.rank, w.size)
    return source.select(slice(lo, hi))


class GlobalSums:
    """Sums a loss total, a sample count and metric states over the ranks, in one collective."""

    @staticmethod
    def reduce(
        loss_sum: torch.Tensor, seen: int, metrics: list[CompiledMetric]
    ) -> tuple[torch.Tensor, int]:
        """Global (loss_sum, seen); SumMetric states are summed in place.

        torchmetrics metrics sync themselves when computed (every rank computes
        them at the same point), so only epochal's own sum metrics are packed.
        """
        sums = [m.metric for m in metrics if isinstance(m.metric, SumMetric)]
        device = loss_sum.device
        flat = [
            loss_sum.reshape(1).to(torch.float64),
            torch.tensor([float(seen)], device=device, dtype=torch.float64),
        ]
        for metric in sums:
            flat.append(metric.total.reshape(-1).to(torch.float64))
            flat.append(torch.tensor([float(metric.count)], device=device, dtype=torch.float64))
        packed = dist_mod.all_reduce_sum(torch.cat([t.to(device) for t in flat]))
        total = packed[0].to(loss_sum.dtype)
        count = round(float(packed[1]))
        at = 2
        for metric in sums:
            size = metric.total.numel()
            metric.total = packed[at : at + size].reshape(metric.total.shape).to(metric.total.dtype)
            metric.count = round(float(packed[at + size]))
            at += size + 1
        return total, count


def partial_states(metrics: list[CompiledMetric]) -> list[dict[str, Any]]:
    """Every metric's state summed over the ranks (for a step checkpoint); local states kept."""
    states = []
    for m in metrics:
        if isinstance(m.metric, torchmetrics.Metric):
            m.metric.sync()
            try:
                state = m.state()
            finally:
                m.metric.unsync()
            # sync concatenates a list state (AUC's predictions) into one tensor
            for name, default in m.metric._defaults.items():
                if isinstance(default, list) and isinstance(state[name], torch.Tensor):
                    state[name] = [state[name]]
            states.append(state)
        else:
            states.append(m.state())
    sums = [m for m in metrics if isinstance(m.metric, SumMetric)]
    for m, state in zip(metrics, states, strict=True):
        if m in sums:
            total = dist_mod.all_reduce_sum(state["total"].clone())
            count = dist_mod.all_reduce_sum(
                torch.tensor([float(state["count"])], dtype=torch.float64, device=total.device)
            )
            state["total"], state["count"] = total, round(float(count))
    return states


def local_metric_value(metric: CompiledMetric) -> torch.Tensor:
    """A metric's value over this rank's rows only (running logs: no collective)."""
    inner = metric.metric
    if isinstance(inner, torchmetrics.Metric):
        previous = inner._to_sync
        inner._to_sync = False
        try:
            return inner.compute()
        finally:
            inner._to_sync = previous
            inner._computed = None
    return metric.compute()


def rank_zero_only(callbacks: list[Any]) -> list[Any]:
    """``callbacks`` without those that write files or print, on every rank but rank 0."""
    if dist_mod.world().is_main:
        return callbacks
    from epochal.callbacks.csv_logger import CSVLogger
    from epochal.callbacks.progress import ProgbarLogger
    from epochal.callbacks.tensorboard import TensorBoard

    io_kinds: tuple[type, ...] = (CSVLogger, ProgbarLogger, TensorBoard)
    try:
        from epochal.callbacks.mlflow import MLflowLogger

        io_kinds += (MLflowLogger,)
    except ImportError:  # pragma: no cover - mlflow is optional
        pass
    return [
        cb
        for cb in callbacks
        if not (isinstance(cb, io_kinds) or getattr(cb, "rank_zero_only", False))
    ]


def predict_shared(
    module: nn.Module,
    source: ArraySource,
    *,
    batch_size: int,
    steps: int | None,
    callbacks: CallbackList,
) -> Any:
    """Predictions for every row of ``source`` on every rank, in input order.

    Each rank predicts its contiguous share of the rows (the first ``steps``
    batches' rows when given), then the shares are gathered in rank order.
    """
    from epochal import loop

    if source.n == 0:
        raise ArgumentError("predict received no data: `x` produced no batches")
    mine = local_rows(source, steps, batch_size)
    empty = mine.n == 0
    if empty:  # fewer rows than ranks: one row gives the outputs' shape, none is kept
        mine = source.select(slice(0, 1))
    outputs = loop.predict(module, mine, batch_size=batch_size, steps=None, callbacks=callbacks)
    local = concat_batches(outputs)
    if empty:
        local = tree_map(lambda t: t[:0] if isinstance(t, torch.Tensor) else t, local)
    return tree_map(
        lambda t: dist_mod.all_gather_rows(t.contiguous()) if isinstance(t, torch.Tensor) else t,
        local,
    )


def sync_batchnorm_module(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with its BatchNorm layers converted to ``torch.nn.SyncBatchNorm``.

    Raises:
        ArgumentError: several processes on the CPU, where torch's SyncBatchNorm
            does not run (it needs CUDA).
    """
    if device.type != "cuda" and dist_mod.world().distributed:
        raise ArgumentError(
            "sync_batchnorm=True needs CUDA devices: torch's SyncBatchNorm does not run on "
            f"the CPU (gloo). Received device={str(device)!r} on "
            f"{dist_mod.world().size} processes; leave sync_batchnorm off (each rank then "
            "normalizes with its own share's statistics)"
        )
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)
