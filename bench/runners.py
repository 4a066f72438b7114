"""The two runners: a hand-written fast PyTorch loop, and epochal.

Both train one workload once from a module built from the same seed, with
the same optimizer, on the same device-resident tensors, and see the same
batches: epoch ``e`` is shuffled by the permutation epochal uses,
``torch.randperm(n, generator=Generator(device).manual_seed(derive_seed(seed,
"shuffle", e)))``. For dropout-free models their final weights therefore
agree (bitwise on the CPU), which is what the tests check.

What is timed: for the hand loop, building the optimizer and the epoch loop;
for epochal, ``Model(...)``, ``compile`` and every ``fit`` call. Building the
module and making the data are outside the clock, for both. With
``compile=True`` epochal first trains one untimed warm-up epoch (where
``torch.compile`` compiles), timed apart as ``warmup_seconds``, then the
workload's schedule is timed: the steady state.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import epochal as ep
import epochal._step as ep_step
from bench.workloads import (
    LEARNING_RATE,
    Data,
    Workload,
    make_fused_optimizer,
    make_optimizer,
)
from epochal.run import derive_seed

__all__ = [
    "CLOCKS",
    "NullTTY",
    "RunResult",
    "build_module",
    "clock",
    "device_arg",
    "epoch_order",
    "epochal_model",
    "epochal_run",
    "fit_kwargs",
    "hand_graph_run",
    "hand_run",
    "pin_to_one_core",
    "set_clock",
    "synchronize",
]

#: ``wall``: elapsed time (``time.perf_counter``), the default. ``cpu``: the
#: process's CPU time (``time.process_time``): on a shared, oversubscribed
#: machine it leaves out the time other processes hold the core, so
#: single-threaded (``--threads 1``) CPU runs compare stably. Not for CUDA.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = [time.perf_counter]


def pin_to_one_core() -> str:
    """Keep this process (every thread it has or starts) on one CPU core; says which.

    With ``--threads 1`` torch runs one thread, but other frameworks keep
    helper threads (JAX dispatches to an XLA thread, for one): pinned to one
    core, every side gets the same single core, whatever its threads. Linux
    only; elsewhere nothing changes.
    """
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to core {core}"


def set_clock(name: str) -> None:
    """Time every later run with the clock ``name`` (a key of `CLOCKS`)."""
    _clock[0] = CLOCKS[name]


def clock() -> float:
    """The current clock's reading, in seconds."""
    return _clock[0]()


@dataclass
class RunResult:
    """One timed training run.

    Attributes:
        seconds: wall-clock time of the timed part (see the module docstring).
        steps: optimizer steps taken.
        history: per-epoch values by key (``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy``), as epochal's ``History`` names them.
        state: the final weights (``state_dict`` on the CPU).
        warmup_seconds: epochal ``compile=True`` only: the untimed warm-up
            epoch's wall time (compilation included), whatever the clock.
    """

    seconds: float
    steps: int
    history: dict[str, list[float]]
    state: dict[str, Tensor]
    warmup_seconds: float | None = None

    @property
    def ms_per_step(self) -> float:
        return 1e3 * self.seconds / max(self.steps, 1)


def device_arg(value: str) -> torch.device:
    """``--device``'s type for the bench's scripts: cpu, or cuda where a CUDA device is."""
    if value not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"--device must be cpu or cuda. Received: {value!r}")
    if value == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError("--device cuda: no CUDA device is available")
    return torch.device(value)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so a clock read means the work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_module(
    workload: Workload, *, with_head: bool, seed: int, device: torch.device
) -> nn.Module:
    """The workload's module, initialized from ``torch.manual_seed(seed)``, on ``device``."""
    torch.manual_seed(seed)
    return workload.make_module(with_head).to(device)


def epoch_order(seed: int, epoch: int, n: int, device: torch.device) -> Tensor:
    """The sample order of ``epoch``: the same permutation epochal's run makes."""
    gen = torch.Generator(device=device).manual_seed(derive_seed(seed, "shuffle", epoch))
    return torch.randperm(n, generator=gen, device=device)


def _final_state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _task_fns(
    workload: Workload,
) -> tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor, Tensor], Tensor]]:
    """The workload's loss on logits, and its hit count (summed on the device)."""
    binary = workload.task == "binary"

    def hits(logits: Tensor, target: Tensor) -> Tensor:
        if binary:
            return ((logits > 0) == (target > 0.5)).sum()
        return (logits.argmax(dim=1) == target).sum()

    return (F.binary_cross_entropy_with_logits if binary else F.cross_entropy), hits


def _validate(
    workload: Workload, module: nn.Module, x_val: Tensor, y_val: Tensor, device: torch.device
) -> dict[str, Tensor]:
    """The validation logs of one epoch, in eval mode without gradients, summed on the device."""
    loss_fn, hits = _task_fns(workload)
    bs = workload.batch_size
    module.eval()
    val_loss = torch.zeros((), device=device)
    val_hits = torch.zeros((), dtype=torch.long, device=device)
    n_val = x_val.shape[0]
    with torch.no_grad():
        for lo in range(0, n_val, bs):
            xb, yb = x_val[lo : lo + bs], y_val[lo : lo + bs]
            logits = module(xb)
            val_loss += loss_fn(logits, yb) * xb.shape[0]
            val_hits += hits(logits, yb)
    logs = {"val_loss": val_loss / n_val}
    if workload.tracks_accuracy:
        logs["val_accuracy"] = val_hits / n_val
    return logs


def _end_epoch(
    workload: Workload,
    module: nn.Module,
    history: dict[str, list[float]],
    loss: Tensor,
    accuracy: Tensor,
    x_val: Tensor | None,
    y_val: Tensor | None,
) -> None:
    """Validate, then append the epoch's logs to ``history``: its one host sync, one transfer."""
    logs = {"loss": loss}
    if workload.tracks_accuracy:
        logs["accuracy"] = accuracy
    if x_val is not None and y_val is not None:
        logs.update(_validate(workload, module, x_val, y_val, loss.device))
    values = torch.stack([v.double() for v in logs.values()]).tolist()
    for key, value in zip(logs, values, strict=True):
        history.setdefault(key, []).append(value)


# -- the hand-written loop -------------------------------------------------------
def hand_run(
    workload: Workload,
    data: Data,
    module: nn.Module,
    *,
    seed: int,
    device: torch.device,
    fused: bool = False,
) -> RunResult:
    """Train ``module`` (logits out) the way a careful PyTorch user writes it by hand.

    Tensors already on the device, one ``randperm`` per epoch, batches cut by
    index, ``zero_grad(set_to_none=True)``, the loss and hit counts summed on
    the device, and one host sync per epoch to read them. ``fused``: Adam with
    torch's fused kernel (the best hand loop) instead of torch's default one.
    """
    x, y, x_val, y_val = workload.split(data)
    n, bs = x.shape[0], workload.batch_size
    loss_fn, hits = _task_fns(workload)

    history: dict[str, list[float]] = {}
    synchronize(device)
    start = clock()
    optimizer = (make_fused_optimizer if fused else make_optimizer)(module.parameters())
    for epoch in range(workload.epochs):
        module.train()
        order = epoch_order(seed, epoch, n, device)
        loss_sum = torch.zeros((), device=device)
        hit_sum = torch.zeros((), dtype=torch.long, device=device)
        for lo in range(0, n, bs):
            index = order[lo : lo + bs]
            xb, yb = x[index], y[index]
            logits = module(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum.add_(loss.detach(), alpha=index.shape[0])
            if workload.tracks_accuracy:
                hit_sum += hits(logits.detach(), yb)
        _end_epoch(workload, module, history, loss_sum / n, hit_sum / n, x_val, y_val)
    synchronize(device)
    seconds = clock() - start
    return RunResult(seconds, workload.train_steps(data), history, _final_state(module))


# -- the hand-written loop, its step captured as a CUDA graph ---------------------
def hand_graph_run(
    workload: Workload, data: Data, module: nn.Module, *, seed: int, device: torch.device
) -> RunResult:
    """`hand_run` (``fused``) with each full batch's whole step replayed as one CUDA graph.

    torch's whole-network capture recipe: a fused Adam built ``capturable``,
    a few warm-up steps on a side stream (which create the optimizer's state),
    then forward, loss, backward and ``optimizer.step()`` captured once over
    static input and target buffers. Each full batch is gathered into those
    buffers and the graph replayed: one launch a step. The last, smaller
    batch of an epoch runs eagerly through the same optimizer. The warm-up's
    changes are undone (weights copied back, the optimizer's state zeroed in
    place, where the graph reads it), so the run sees the batches the other
    runners see and ends with the fused hand loop's weights.
    """
    if device.type != "cuda":
        raise ValueError(f"hand_graph_run needs a CUDA device. Received: {device}")
    x, y, x_val, y_val = workload.split(data)
    n, bs = x.shape[0], workload.batch_size
    loss_fn, hits = _task_fns(workload)

    def train_step(xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor]:
        optimizer.zero_grad(set_to_none=True)
        logits = module(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        optimizer.step()
        return logits.detach(), loss.detach()

    history: dict[str, list[float]] = {}
    synchronize(device)
    start = clock()
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE, fused=True, capturable=True)
    module.train()
    static_x, static_y = x[:bs].clone(), y[:bs].clone()
    saved = [p.detach().clone() for p in module.parameters()]
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            train_step(static_x, static_y)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_logits, static_loss = train_step(static_x, static_y)
    with torch.no_grad():  # undo the warm-up, in place (the graph keeps these addresses)
        for p, p0 in zip(module.parameters(), saved, strict=True):
            p.copy_(p0)
        for state in optimizer.state.values():
            for value in state.values():
                value.zero_()
    with warnings.catch_warnings():
        # The eager last batch steps a capturable optimizer outside a capture: torch warns.
        warnings.filterwarnings("ignore", "This instance was constructed with capturable=True")
        for epoch in range(workload.epochs):
            module.train()
            order = epoch_order(seed, epoch, n, device)
            loss_sum = torch.zeros((), device=device)
            hit_sum = torch.zeros((), dtype=torch.long, device=device)
            for lo in range(0, n, bs):
                index = order[lo : lo + bs]
                if index.shape[0] == bs:
                    torch.index_select(x, 0, index, out=static_x)
                    torch.index_select(y, 0, index, out=static_y)
                    graph.replay()
                    logits, loss, yb = static_logits, static_loss, static_y
                else:
                    yb = y[index]
                    logits, loss = train_step(x[index], yb)
                loss_sum.add_(loss, alpha=index.shape[0])
                if workload.tracks_accuracy:
                    hit_sum += hits(logits, yb)
            _end_epoch(workload, module, history, loss_sum / n, hit_sum / n, x_val, y_val)
    synchronize(device)
    seconds = clock() - start
    return RunResult(seconds, workload.train_steps(data), history, _final_state(module))


# -- epochal -----------------------------------------------------------------------
class NullTTY(io.TextIOWrapper):
    """A text stream to ``os.devnull`` that says it is a terminal.

    With ``verbose=1`` epochal draws its live tqdm bar only on a terminal;
    writing to this stream makes tqdm format and write the bar for real (as
    it would to a terminal) without filling the benchmark's output.
    """

    def __init__(self) -> None:
        super().__init__(open(os.devnull, "wb"), encoding="utf-8")  # noqa: SIM115 (closed by close())

    def isatty(self) -> bool:
        return True


def fit_kwargs(workload: Workload, data: Data, verbose: int = 0) -> dict[str, Any]:
    """The arguments of each of the workload's ``fit`` calls, but ``x`` and ``y``."""
    kwargs: dict[str, Any] = {
        "batch_size": workload.batch_size,
        "epochs": workload.epochs // workload.fit_calls,
        "verbose": verbose,
    }
    if workload.validation_split:
        kwargs["validation_split"] = workload.validation_split
    elif data.x_val is not None:
        kwargs["validation_data"] = (data.x_val, data.y_val)
    return kwargs


def epochal_model(
    workload: Workload, module: nn.Module, *, device: torch.device, seed: int, compile: bool
) -> ep.Model:
    """``Model(module)`` compiled as the workload says (Adam, its loss and metrics)."""
    model = ep.Model(module, device=device)
    model.compile(
        optimizer=make_optimizer,
        loss=workload.loss,
        metrics=list(workload.metrics),
        seed=seed,
        compile=compile,
    )
    return model


def epochal_run(
    workload: Workload,
    data: Data,
    module: nn.Module,
    *,
    seed: int,
    device: torch.device,
    verbose: int = 0,
    compile: bool = False,
    cuda_graphs: bool = True,
) -> RunResult:
    """Train ``module`` with epochal: ``Model``, ``compile``, then ``fit`` as the workload says.

    ``verbose=1`` draws the progress bar to a `NullTTY` (stdout is redirected
    there for the run). ``compile=True``: one untimed warm-up epoch first
    (see the module docstring), so the weights differ from the other sides'.
    ``cuda_graphs=False``: the compiled step without CUDA graphs (torch.compile's
    default mode) on CUDA too, to measure what the graphs bring.
    """
    kwargs = fit_kwargs(workload, data, verbose)
    with contextlib.ExitStack() as stack:
        if not cuda_graphs:
            stack.enter_context(
                mock.patch.object(ep_step, "compile_mode", lambda device, graphs=None: "default")
            )
        if verbose:
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(NullTTY())))
        warmup_seconds = None
        synchronize(device)
        start, wall_start = clock(), time.perf_counter()
        model = epochal_model(workload, module, device=device, seed=seed, compile=compile)
        if compile:
            model.fit(data.x, data.y, **{**kwargs, "epochs": 1})
            synchronize(device)
            # wall time: torch.compile's compiler runs partly in worker processes
            warmup_seconds = time.perf_counter() - wall_start
            start = clock()
        for _ in range(workload.fit_calls):
            model.fit(data.x, data.y, **kwargs)
        synchronize(device)
        seconds = clock() - start
    history = {k: list(v) for k, v in model.history.history.items() if k != "learning_rate"}
    return RunResult(
        seconds, workload.train_steps(data), history, _final_state(module), warmup_seconds
    )
