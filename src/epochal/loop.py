"""The epoch loop: one training path, read top to bottom.

``Model.fit`` validates its arguments and builds the data sources; the run's
owner (`epochal._trainer.Trainer`) binds an `Engine` once (the forward, loss,
optimizer and metrics), decides the call's `Plan`, and calls `fit_loop`. The
training step is the engine's (`train_step_of`, built by
`epochal._step.build_train_step`); everything around it (callbacks, validation,
logs) is in this file. The loop sees the run (`RunState`), the engine and
the plan, never the model.

Performance rules kept here: the loss and metric sums stay on the device and
are read once per epoch; per-batch callback hooks run only when some
callback overrides them, and their logs are computed only when read.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from epochal import _dist_run
from epochal import distributed as dist_mod
from epochal._calls import call_marked, engine_calls
from epochal._direct import Forward, direct_calls, look_again
from epochal._modes import evaluating
from epochal._runio import Partial
from epochal._step import ForwardLoss, TrainStep
from epochal.callbacks.base import CallbackList
from epochal.data import ArraySource, Source
from epochal.losses import LossFn
from epochal.metrics import ChunkedUpdates, CompiledMetric
from epochal.run import RunState

__all__ = [
    "Engine",
    "Plan",
    "evaluate",
    "fit_loop",
    "forward_loss_of",
    "predict",
    "train_batch",
    "train_epoch",
    "train_step_of",
]


@dataclass
class Engine:
    """What a training step needs, bound once per compile to the model's outputs.

    Fixed once bound: what changes from call to call (whether batch targets
    need conforming, the scheduler's monitor) travels in the call's `Plan`.
    """

    module: nn.Module
    device: torch.device
    forward: Callable[[Any], Any]  # skips a final sigmoid/softmax the loss takes care of
    loss_fn: LossFn
    metric_input: Callable[[Any], Any] | None  # logits -> probabilities for metrics
    optimizer: torch.optim.Optimizer
    train_metrics: list[CompiledMetric]
    eval_metrics: list[CompiledMetric]
    # Conform a batch's targets to the outputs (for data not prepared up front).
    prepare_targets: Callable[[Any, Any], Any] | None = None
    scheduler: Any = None
    scheduler_per_step: bool = False
    # Forward and loss, wrapped for precision and compilation (see epochal._step):
    # with the targets as given, and conforming each batch's targets first.
    forward_loss: ForwardLoss | None = None
    forward_loss_conforming: ForwardLoss | None = None
    scaler: Any = None  # float16 gradient scaler
    # The one training step (epochal._step.build_train_step), likewise in two forms.
    train_step: TrainStep | None = None
    train_step_conforming: TrainStep | None = None
    # Several processes (epochal._dist_run): DDP, and the loss scale of this rank's share.
    dist: _dist_run.DistStep | None = None
    # Several outputs (epochal._outputs.BoundOutputs): metrics read each its own output.
    outputs: Any = None
    # The loss and metrics are all epochal's own (no user code runs in them):
    # evaluation may then run in inference mode (see epochal._modes).
    own_loss_and_metrics: bool = False


@dataclass
class Plan:
    """What one ``fit`` call decided before the loop starts."""

    train: Source
    val: Source | None
    batch_size: int
    val_batch_size: int
    first_epoch: int
    last_epoch: int  # exclusive
    steps_per_epoch: int | None
    validation_steps: int | None
    validation_freq: int | list[int]
    shuffle: bool
    callbacks: CallbackList
    # Whether batch targets are conformed to the outputs step by step (data
    # not conformed up front), and the log key a plateau scheduler steps on.
    conform_targets: bool = False
    scheduler_monitor: str | None = None
    # Saves asked for by callbacks (model.save inside a hook) wait in
    # `saves_pending` until the hooks running have all run; `flush_saves` writes
    # them (with the partial epoch after a step, None at an epoch's edge).
    flush_saves: Callable[[Partial | None], None] | None = None
    saves_pending: list[Any] | None = None
    # Run checkpoints: called with None at epoch ends, with the partial epoch
    # every `checkpoint_steps` steps. `resume` continues an epoch mid-way.
    checkpoint: Callable[[Partial | None], None] | None = None
    checkpoint_steps: int | None = None
    resume: Partial | None = None
    # Epoch logs carry ``learning_rate`` (natively always; in the Keras face as Keras does).
    log_learning_rate: bool = True

    def flush(self, partial: Partial | None = None) -> None:
        """Write the saves callbacks asked for, if any."""
        if self.saves_pending and self.flush_saves is not None:
            self.flush_saves(partial)


def forward_loss_of(engine: Engine, conform_targets: bool) -> ForwardLoss:
    """The engine's forward-and-loss for a call: conforming batch targets or not."""
    fn = engine.forward_loss_conforming if conform_targets else engine.forward_loss
    assert fn is not None
    return fn


class RunningLogs(Mapping[str, float]):
    """The epoch's logs so far, computed on read (each read syncs with the device)."""

    def __init__(self, loss_sum: torch.Tensor, metrics: list[CompiledMetric]) -> None:
        self._loss_sum = loss_sum
        self._metrics = {m.name: m for m in metrics}
        self.count = 0

    def __getitem__(self, key: str) -> float:
        if key == "loss":
            return float(self._loss_sum) / max(self.count, 1)
        if key in self._metrics:
            # this rank's running value: a batch hook on one rank must not wait for the others
            return float(_dist_run.local_metric_value(self._metrics[key]))
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield "loss"
        yield from self._metrics

    def __len__(self) -> int:
        return 1 + len(self._metrics)


def _accumulator(device: torch.device) -> torch.Tensor:
    # float64 keeps long epochs' sums exact enough; MPS has no float64.
    dtype = torch.float32 if device.type == "mps" else torch.float64
    return torch.zeros((), dtype=dtype, device=device)


def train_step_of(engine: Engine, conform_targets: bool) -> TrainStep:
    """The engine's training step for a call (`epochal._step.build_train_step`).

    ``step(x, y, sample_weight)`` does one optimizer step and returns
    (outputs, targets, loss), detached; conforming batch targets or not.
    """
    step = engine.train_step_conforming if conform_targets else engine.train_step
    assert step is not None
    return step


def _update_metrics(
    engine: Engine, metrics: list[CompiledMetric], out: Any, y: Any, sw: torch.Tensor | None
) -> None:
    if engine.outputs is not None:  # each metric picks its output (and sample weights)
        engine.outputs.update_metrics(metrics, out, y, sw)
        return
    probs = None
    for metric in metrics:
        if engine.metric_input is None or metric.takes_logits:
            metric.update(out, y)
        else:
            if probs is None:  # logits -> probabilities once, for the metrics needing them
                probs = engine.metric_input(out)
            metric.update(probs, y)


def _chunked_metrics(engine: Engine, metrics: list[CompiledMetric]) -> ChunkedUpdates | None:
    """Updates over many batches at once, where that gives the same bits (metrics.ChunkedUpdates)."""
    if not metrics or engine.outputs is not None:
        return None
    for metric in metrics:
        # counts only, fed what the batch gives (an elementwise sigmoid may round
        # differently on a longer tensor)
        if not metric.counts_only or not (metric.takes_logits or engine.metric_input is None):
            return None
    return ChunkedUpdates(lambda out, y: _update_metrics(engine, metrics, out, y, None))


def _final_logs(
    loss_sum: torch.Tensor, seen: int, metrics: list[CompiledMetric]
) -> dict[str, float]:
    """The mean loss and the metrics over everything seen, as floats: the one sync point.

    On several processes the sums are over every rank's rows (every rank calls
    this at the same point), so every rank logs the global values.
    """
    if dist_mod.world().distributed:
        loss_sum, seen = _dist_run.GlobalSums.reduce(loss_sum, seen, metrics)
    if seen == 0:
        return {}
    logs = {"loss": float(loss_sum) / seen}
    for metric in metrics:
        logs[metric.name] = float(metric.compute())
    return logs


def _final_logs_local(
    loss_sum: torch.Tensor, seen: int, metrics: list[CompiledMetric]
) -> dict[str, float]:
    """`_final_logs` over this rank's rows only (data every rank evaluated whole)."""
    logs = {"loss": float(loss_sum) / seen}
    for metric in metrics:
        logs[metric.name] = float(_dist_run.local_metric_value(metric))
    return logs


def train_epoch(engine: Engine, run: RunState, plan: Plan, epoch: int) -> dict[str, float]:
    """Train one epoch; returns its logs (``loss`` and the metrics), as floats."""
    engine.module.train()
    metrics = engine.train_metrics
    for metric in metrics:
        metric.reset()
    loss_sum = _accumulator(engine.device)
    seen = 0
    start = 0
    resume, plan.resume = plan.resume, None
    if resume is not None and resume.epoch == epoch:  # continue a checkpointed epoch
        start = resume.batch
        # The partial sums are global: rank 0 carries them on, the others start from zero.
        if dist_mod.world().is_main:
            seen = resume.seen
            loss_sum.copy_(resume.loss_sum)
            for metric, state in zip(metrics, resume.metric_states, strict=True):
                metric.load_state(state)
    callbacks = plan.callbacks
    wants_begin = callbacks.wants("on_train_batch_begin")
    wants_end = callbacks.wants("on_train_batch_end")
    running = RunningLogs(loss_sum, metrics) if (wants_begin or wants_end) else None
    every = plan.checkpoint_steps if plan.checkpoint is not None else None
    pending = plan.saves_pending
    train_step = train_step_of(engine, plan.conform_targets)
    _dist_run.set_sampler_epoch(plan.train, epoch)
    batches = _epoch_batches(plan, run, epoch, engine.device, start)
    # Several processes: each takes its share of the global batch; a stop asked
    # for by a batch hook on any rank stops every rank at the same step.
    agree = False
    if engine.dist is not None:
        batches = (
            _dist_run.scale_by_global_count(batches, engine.dist)
            if _dist_run.presharded(plan.train)
            else _dist_run.shard_batches(batches, engine.dist)
        )
        agree = dist_mod.any_rank(wants_begin or wants_end)

    i = start - 1
    forward = engine.forward
    with direct_calls(forward):
        for i, (x, y, sw, n) in enumerate(batches, start):
            if wants_begin:
                callbacks.batch_hook("on_train_batch_begin", i, running)
                look_again(forward)
            out, y, loss = train_step(x, y, sw)
            loss_sum.add_(loss, alpha=n)  # on the device: no sync
            seen += n
            if n:  # an empty share (one stand-in row) counts for nothing
                _update_metrics(engine, metrics, out, y, sw)
            run.step += 1
            if engine.scheduler is not None and engine.scheduler_per_step:
                engine.scheduler.step()
            if running is not None:
                running.count = seen
                if wants_end:
                    callbacks.batch_hook("on_train_batch_end", i, running)
                    look_again(forward)
            if agree:
                run.stopped = dist_mod.any_rank(run.stopped)
            if pending:  # a callback saved the run during this step's hooks
                plan.flush(_partial(epoch, i + 1, loss_sum, seen, metrics))
            if every is not None and run.step % every == 0 and plan.checkpoint is not None:
                plan.checkpoint(_partial(epoch, i + 1, loss_sum, seen, metrics))
            if run.stopped:
                break

    if plan.steps_per_epoch is not None and (
        isinstance(plan.train, ArraySource) or plan.train.is_map_dataset
    ):
        per_pass = plan.train.steps(plan.batch_size)
        assert per_pass is not None
        run.data_position = advance(run.data_position or (0, 0), i + 1, per_pass)
    return _final_logs(loss_sum, seen, metrics)


def _partial(
    epoch: int, batch: int, loss_sum: torch.Tensor, seen: int, metrics: list[CompiledMetric]
) -> Partial:
    """The epoch so far, for a checkpoint: summed over the ranks on several processes."""
    if not dist_mod.world().distributed:
        return Partial(epoch, batch, loss_sum, seen, [m.state() for m in metrics])
    states = _dist_run.partial_states(metrics)
    packed = dist_mod.all_reduce_sum(
        torch.stack(
            [
                loss_sum.to(torch.float64),
                torch.tensor(float(seen), dtype=torch.float64, device=loss_sum.device),
            ]
        )
    )
    return Partial(epoch, batch, packed[0].to(loss_sum.dtype), round(float(packed[1])), states)


def train_batch(
    engine: Engine, run: RunState, batch: tuple[Any, Any, Any, int], conform_targets: bool
) -> dict[str, float]:
    """One training step of the run on ``batch`` (``train_on_batch``); returns its logs.

    The engine's training step, counted in ``run.step`` (and a per-step
    scheduler moved on) exactly as a step of `train_epoch`; the metrics are
    this batch's alone, as Keras's ``train_on_batch`` reports them.
    """
    x, y, sw, _n = batch
    if engine.dist is not None:  # each rank's own batch, averaged by DDP as it comes
        engine.dist.scale = 1.0
    engine.module.train()
    metrics = engine.train_metrics
    for metric in metrics:
        metric.reset()
    out, y, loss = train_step_of(engine, conform_targets)(x, y, sw)
    _update_metrics(engine, metrics, out, y, sw)
    run.step += 1
    if engine.scheduler is not None and engine.scheduler_per_step:
        engine.scheduler.step()
    return _final_logs(loss, 1, metrics)  # the batch mean loss, as the step computed it


def _epoch_batches(
    plan: Plan, run: RunState, epoch: int, device: torch.device, start: int
) -> Iterator[Any]:
    """The epoch's batches from batch ``start`` on; indexable data jumps there directly."""
    source = plan.train
    if plan.steps_per_epoch is not None and (
        isinstance(source, ArraySource) or source.is_map_dataset
    ):
        return _walk(plan, run, device, start)
    limit = None if plan.steps_per_epoch is None else plan.steps_per_epoch - start
    if isinstance(source, ArraySource):
        order = run.epoch_order(epoch, source.n, device) if plan.shuffle else None
        return source.batches(plan.batch_size, order=order, start=start, limit=limit)
    if source.is_map_dataset:
        order = run.epoch_order(epoch, len(source), torch.device("cpu")) if plan.shuffle else None
        return source.batches(plan.batch_size, order=order, start=start, limit=limit)
    if start:
        # A plain iterable cannot jump: step checkpoints are refused for it in fit.
        raise AssertionError("mid-epoch resume of a non-indexable source")
    return source.batches(
        plan.batch_size,
        limit=plan.steps_per_epoch,
        persistent=plan.steps_per_epoch is not None,
    )


def advance(position: tuple[int, int], batches: int, per_pass: int) -> tuple[int, int]:
    """The walk's position ``(pass, next batch)`` after ``batches`` more batches."""
    done, batch = position
    batch += batches
    return done + batch // per_pass, batch % per_pass


def _walk(plan: Plan, run: RunState, device: torch.device, start: int) -> Iterator[Any]:
    """``steps_per_epoch`` batches of indexable data, continuing the walk where it stands.

    As in Keras, with ``steps_per_epoch`` the walk over the data goes on across
    epochs (and fit calls): each pass over the data has its own order, a pure
    function of (seed, pass); `RunState.data_position` says where the walk
    stood when the epoch began. An epoch takes at most one pass's batches.
    """
    source = plan.train
    assert plan.steps_per_epoch is not None
    n = source.n if isinstance(source, ArraySource) else len(source)
    per_pass = source.steps(plan.batch_size)
    assert per_pass is not None
    where = device if isinstance(source, ArraySource) else torch.device("cpu")
    done, batch = advance(run.data_position or (0, 0), start, per_pass)
    # More steps than the data holds: an epoch is one pass (with a warning, see fit).
    remaining = min(plan.steps_per_epoch, per_pass) - start
    while remaining > 0:
        take = min(remaining, per_pass - batch)
        order = run.epoch_order(done, n, where) if plan.shuffle else None
        yield from source.batches(plan.batch_size, order=order, start=batch, limit=take)
        remaining -= take
        done, batch = advance((done, batch), take, per_pass)


def evaluate(
    engine: Engine,
    source: Source,
    *,
    batch_size: int,
    steps: int | None,
    callbacks: CallbackList,
    conform_targets: bool = False,
) -> dict[str, float]:
    """Loss and metrics over the whole of ``source`` (or ``steps`` batches), as floats.

    On several processes each rank evaluates its contiguous share of the rows
    (in-memory data) or of each batch (map-style Datasets) and the sums are
    reduced, so every rank returns the global values; a source that cannot be
    cut (an iterable of batches) is evaluated whole by every rank.
    """
    forward_loss = forward_loss_of(engine, conform_targets)
    batches: Iterator[Any] = source.batches(batch_size, limit=steps)
    presharded = _dist_run.presharded(source)  # each rank reads its own batches already
    sharded = dist_mod.world().distributed and (presharded or _dist_run.is_shardable(source))
    if sharded and not presharded:
        if isinstance(source, ArraySource):
            batches = _dist_run.local_rows(source, steps, batch_size).batches(batch_size)
        else:
            state = _dist_run.DistStep(world=dist_mod.world(), ddp=engine.module)
            batches = (b for b in _dist_run.shard_batches(batches, state) if b.size)
    metrics = engine.eval_metrics
    for metric in metrics:
        metric.reset()
    loss_sum = _accumulator(engine.device)
    seen = 0
    wants_begin = callbacks.wants("on_test_batch_begin")
    wants_end = callbacks.wants("on_test_batch_end")
    running = RunningLogs(loss_sum, metrics) if (wants_begin or wants_end) else None
    forward = engine.forward
    # Inference mode only where no user code runs in the loop but the model's
    # own modules, which `evaluating` looks at (see epochal._modes): no batch
    # callback, epochal's loss and metrics, and in-memory data (a Dataset's
    # __getitem__ or a generator may keep the tensors it makes).
    inference = (
        isinstance(forward, Forward)
        and running is None
        and engine.own_loss_and_metrics
        and isinstance(source, ArraySource)
    )
    chunks = _chunked_metrics(engine, metrics) if running is None else None
    with (
        evaluating(engine.module, grad=False, inference=inference),
        direct_calls(forward),
    ):
        for i, (x, y, sw, n) in enumerate(batches):
            if wants_begin:
                callbacks.batch_hook("on_test_batch_begin", i, running)
                look_again(forward)
            out, y, loss = forward_loss(x, y, sw)
            loss_sum.add_(loss, alpha=n)
            seen += n
            if chunks is not None:
                chunks.add(out, y)
            else:
                _update_metrics(engine, metrics, out, y, sw)
            if running is not None:
                running.count = seen
                if wants_end:
                    callbacks.batch_hook("on_test_batch_end", i, running)
                    look_again(forward)
                # Keras's model.stop_evaluating, set by a batch hook
                if callbacks.stop_requested("evaluating"):
                    break
        if chunks is not None:
            chunks.flush()
    logs = (
        _final_logs(loss_sum, seen, metrics)
        if sharded
        else ({} if seen == 0 else _final_logs_local(loss_sum, seen, metrics))
    )
    if not logs:
        warnings.warn("evaluation saw no data: the source was empty", RuntimeWarning, stacklevel=2)
    return logs


def predict(
    module: nn.Module,
    source: Source,
    *,
    batch_size: int,
    steps: int | None,
    callbacks: CallbackList,
) -> list[Any]:
    """The module's outputs for every batch, in order (detached)."""
    outputs: list[Any] = []
    wants_begin = callbacks.wants("on_predict_batch_begin")
    wants_end = callbacks.wants("on_predict_batch_end")
    # In-memory tensors need no spreading into positional/keyword inputs.
    tensor_x = isinstance(source, ArraySource) and isinstance(source.x, torch.Tensor)
    forward = Forward([module], spread=not tensor_x)
    # No callback between batches: no user code runs in the loop, so every
    # call in it is the engine's (see epochal._calls), marked once; and
    # inference mode, as no callback sees a batch's outputs (the caller
    # concatenates them outside it, into ordinary tensors), for in-memory data
    # (a Dataset's __getitem__ or a generator may keep the tensors it makes).
    quiet = not (wants_begin or wants_end)
    with (
        evaluating(module, grad=False, inference=quiet and isinstance(source, ArraySource)),
        forward.direct(),
        engine_calls() if quiet else contextlib.nullcontext(),
    ):
        for i, (x, _y, _sw, _n) in enumerate(source.batches(batch_size, limit=steps)):
            if wants_begin:
                callbacks.batch_hook("on_predict_batch_begin", i, None)
                forward.look()
            outputs.append(forward.call(x) if quiet else call_marked(forward, x))
            if wants_end:
                callbacks.batch_hook("on_predict_batch_end", i, {"outputs": outputs[-1]})
                forward.look()
            if (wants_begin or wants_end) and callbacks.stop_requested("predicting"):
                break  # Keras's model.stop_predicting, set by a batch hook
    return outputs


def _validates(epoch: int, freq: int | list[int]) -> bool:
    """Keras's ``validation_freq``: every ``freq`` epochs, or at the listed 1-based epochs."""
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return (epoch + 1) in freq


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    lr = optimizer.param_groups[0]["lr"]
    return float(lr.item() if isinstance(lr, torch.Tensor) else lr)


def fit_loop(engine: Engine, run: RunState, plan: Plan) -> dict[str, float]:
    """Train epochs ``plan.first_epoch`` up to ``plan.last_epoch``; returns the last logs."""
    callbacks = plan.callbacks
    callbacks.on_train_begin()
    plan.flush()
    logs: dict[str, float] = {}
    for epoch in range(plan.first_epoch, plan.last_epoch):
        if run.stopped:
            break
        callbacks.on_epoch_begin(epoch, {})
        plan.flush()
        epoch_logs = train_epoch(engine, run, plan, epoch)
        if not epoch_logs:
            warnings.warn(
                f"Epoch {epoch + 1}: the training data produced no batches; stopping. "
                "A one-shot iterator (a generator) is used up after one pass: pass a Dataset, "
                "a DataLoader or a list, or set steps_per_epoch with a repeating generator",
                RuntimeWarning,
                stacklevel=3,
            )
            break
        logs = epoch_logs
        if plan.val is not None and _validates(epoch, plan.validation_freq):
            callbacks.on_test_begin()
            val_logs = evaluate(
                engine,
                plan.val,
                batch_size=plan.val_batch_size,
                steps=plan.validation_steps,
                callbacks=callbacks,
                conform_targets=plan.conform_targets,
            )
            callbacks.on_test_end(val_logs)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        if plan.log_learning_rate:
            logs["learning_rate"] = current_lr(engine.optimizer)
        if engine.scheduler is not None and not engine.scheduler_per_step:
            _step_scheduler(engine.scheduler, plan.scheduler_monitor, logs)
        run.epoch = epoch + 1
        # Recorded before the callbacks run, so that a checkpoint a callback takes
        # holds this epoch; keys the callbacks add or change are merged after.
        run.history.record(epoch, logs)
        callbacks.on_epoch_end(epoch, logs)
        if engine.dist is not None:  # a callback stopped the run on one rank: all stop
            run.stopped = dist_mod.any_rank(run.stopped)
        run.history.merge_last(epoch, logs)
        callbacks.save_states(run.callback_states)
        # Saves callbacks asked for at this epoch's end hold the run as it
        # stands after all of them, as the run checkpoint does.
        plan.flush()
        if plan.checkpoint is not None:
            plan.checkpoint(None)
    callbacks.on_train_end(logs)
    return logs


def _step_scheduler(scheduler: Any, monitor: str | None, logs: Mapping[str, float]) -> None:
    if monitor is None:
        scheduler.step()
        return
    value = logs.get(monitor)
    if value is not None:  # e.g. val_loss on an epoch without validation: no step
        scheduler.step(value)
