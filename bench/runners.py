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

import contextlib
import io
import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import epochal as ep
from bench.workloads import Data, Workload, make_fused_optimizer, make_optimizer
from epochal.run import derive_seed

__all__ = [
    "CLOCKS",
    "NullTTY",
    "RunResult",
    "build_module",
    "clock",
    "epoch_order",
    "epochal_run",
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
    binary = workload.task == "binary"
    loss_fn = F.binary_cross_entropy_with_logits if binary else F.cross_entropy

    def hits(logits: Tensor, target: Tensor) -> Tensor:
        if binary:
            return ((logits > 0) == (target > 0.5)).sum()
        return (logits.argmax(dim=1) == target).sum()

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
        logs = {"loss": loss_sum / n}
        if workload.tracks_accuracy:
            logs["accuracy"] = hit_sum / n
        if x_val is not None and y_val is not None:
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
            logs["val_loss"] = val_loss / n_val
            if workload.tracks_accuracy:
                logs["val_accuracy"] = val_hits / n_val
        # The epoch's one host sync: every logged value in one transfer.
        values = torch.stack([v.double() for v in logs.values()]).tolist()
        for key, value in zip(logs, values, strict=True):
            history.setdefault(key, []).append(value)
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


def epochal_run(
    workload: Workload,
    data: Data,
    module: nn.Module,
    *,
    seed: int,
    device: torch.device,
    verbose: int = 0,
    compile: bool = False,
) -> RunResult:
    """Train ``module`` with epochal: ``Model``, ``compile``, then ``fit`` as the workload says.

    ``verbose=1`` draws the progress bar to a `NullTTY` (stdout is redirected
    there for the run). ``compile=True``: one untimed warm-up epoch first
    (see the module docstring), so the weights differ from the other sides'.
    """
    kwargs: dict[str, object] = {
        "batch_size": workload.batch_size,
        "epochs": workload.epochs // workload.fit_calls,
        "verbose": verbose,
    }
    if workload.validation_split:
        kwargs["validation_split"] = workload.validation_split
    elif data.x_val is not None:
        kwargs["validation_data"] = (data.x_val, data.y_val)
    with contextlib.ExitStack() as stack:
        if verbose:
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(NullTTY())))
        warmup_seconds = None
        synchronize(device)
        start, wall_start = clock(), time.perf_counter()
        model = ep.Model(module, device=device)
        model.compile(
            optimizer=make_optimizer,
            loss=workload.loss,
            metrics=list(workload.metrics),
            seed=seed,
            compile=compile,
        )
        if compile:
            model.fit(data.x, data.y, **{**kwargs, "epochs": 1})  # type: ignore[arg-type]
            synchronize(device)
            # wall time: torch.compile's compiler runs partly in worker processes
            warmup_seconds = time.perf_counter() - wall_start
            start = clock()
        for _ in range(workload.fit_calls):
            model.fit(data.x, data.y, **kwargs)  # type: ignore[arg-type]
        synchronize(device)
        seconds = clock() - start
    history = {k: list(v) for k, v in model.history.history.items() if k != "learning_rate"}
    return RunResult(
        seconds, workload.train_steps(data), history, _final_state(module), warmup_seconds
    )
