"""A functional Keras model against its ``nn.Sequential`` twin: the same layers, the same speed.

``keras.Model(inputs, outputs)`` runs its recorded graph as generated Python
code (torch.fx), so the only difference from writing the same epochal layers
in an ``nn.Sequential`` is the container. This benchmark trains both twins
side by side -- built from the same seed, so with the same initial weights --
on workloads (a) and (c) of `bench.workloads`, in two loops:

- ``hand``: the hand-written PyTorch loop of `bench.runners.hand_run`
  (the model's own per-step cost, nothing else);
- ``fit``: epochal's ``Model(module).compile(...).fit(...)``
  (`bench.runners.epochal_run`);
- ``step``: the training step alone (forward, loss, backward, Adam step) on
  one batch, in blocks of 20 steps, the twins' blocks interleaved, 100 a
  twin; the ms/step is the fastest block's, which a busy machine disturbs least.

Each repeat runs the Sequential twin then the functional one (alternating
which goes first), after one warm-up of each. The table gives the median ms
per step of each twin and the min/median/max of the ratios functional /
sequential (target: median <= 1.03). The twins end with equal weights (checked
bitwise on the CPU).

Usage::

    python bench/functional.py                        # workloads a and c, 5 repeats
    python bench/functional.py --workloads a --repeats 11 --device cpu
    python bench/functional.py --quick --repeats 1    # tiny sizes: a smoke test
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.runners import RunResult, epochal_run, hand_run, synchronize
from bench.workloads import Data, Workload, make_optimizer, workloads
from epochal import keras
from epochal.keras import layers
from epochal.layers import ensure_built

__all__ = ["TWINS", "Comparison", "compare", "main"]


def seed_twins() -> tuple[nn.Module, nn.Module]:
    """Workload (a)'s network, Dense 128 relu then Dense 1 (logits), as both twins."""
    return _twins((10,), [(128, "relu"), (1, None)])


def mnist_twins() -> tuple[nn.Module, nn.Module]:
    """Workload (c)'s network, 784-256-256-10 (logits), as both twins."""
    return _twins((784,), [(256, "relu"), (256, "relu"), (10, None)])


def _twins(
    shape: tuple[int, ...], spec: list[tuple[int, str | None]]
) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    stack: list[nn.Module] = [layers.Dense(spec[0][0], activation=spec[0][1], input_shape=shape)]
    stack += [layers.Dense(units, activation=act) for units, act in spec[1:]]
    sequential = nn.Sequential(*stack)
    ensure_built(sequential, torch.zeros(2, *shape))  # lazy layers draw in order, as below
    torch.manual_seed(0)
    inputs = keras.Input(shape=shape)
    x = inputs
    for units, act in spec:
        x = layers.Dense(units, activation=act)(x)
    return sequential, keras.Model(inputs, x)


TWINS: dict[str, Callable[[], tuple[nn.Module, nn.Module]]] = {"a": seed_twins, "c": mnist_twins}
STEP_BLOCK = 20
STEP_BLOCKS = 100


def step_pair(
    workload: Workload, data: Data, twins: tuple[nn.Module, nn.Module], device: torch.device
) -> tuple[RunResult, RunResult]:
    """Times blocks of training steps of both twins, interleaved (one block each in turn).

    Each twin's time is its fastest block: the one a busy machine disturbed least.
    """
    x, y = data.x[: workload.batch_size], data.y[: workload.batch_size]
    loss_fn = F.binary_cross_entropy_with_logits if workload.task == "binary" else F.cross_entropy
    optimizers = [make_optimizer(module.parameters()) for module in twins]

    def block(module: nn.Module, optimizer: torch.optim.Optimizer) -> float:
        synchronize(device)
        start = time.perf_counter()
        for _ in range(STEP_BLOCK):
            loss = loss_fn(module(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronize(device)
        return time.perf_counter() - start

    for module, optimizer in zip(twins, optimizers, strict=True):
        block(module, optimizer)  # warm-up: optimizer state, allocator
    best = [math.inf, math.inf]
    for _ in range(STEP_BLOCKS):
        for side, (module, optimizer) in enumerate(zip(twins, optimizers, strict=True)):
            best[side] = min(best[side], block(module, optimizer))
    results = []
    for side, module in enumerate(twins):
        state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
        results.append(RunResult(best[side], STEP_BLOCK, {}, state))
    return results[0], results[1]


LOOPS = {"hand": hand_run, "fit": epochal_run}


@dataclass
class Comparison:
    """The timings of one workload in one loop."""

    workload: Workload
    loop: str
    sequential: list[RunResult] = field(default_factory=list)
    functional: list[RunResult] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [
            f.seconds / s.seconds for s, f in zip(self.sequential, self.functional, strict=True)
        ]

    def row(self) -> str:
        seq = statistics.median(r.ms_per_step for r in self.sequential)
        fun = statistics.median(r.ms_per_step for r in self.functional)
        ratios = self.ratios
        return (
            f"| {self.workload.key} | {self.loop} | {seq:.3f} | {fun:.3f} | "
            f"{min(ratios):.3f} / {statistics.median(ratios):.3f} / {max(ratios):.3f} |"
        )


def _run(loop: str, workload: Workload, module: nn.Module, device: torch.device) -> RunResult:
    data = workload.make_data(0).to(device)
    return LOOPS[loop](workload, data, module.to(device), seed=0, device=device)


def compare(key: str, loop: str, *, repeats: int, quick: bool, device: torch.device) -> Comparison:
    """Times both twins of workload ``key`` in ``loop`` (``hand`` or ``fit``), alternating."""
    workload = workloads(quick=quick)[key]
    result = Comparison(workload, loop)
    for index in range(repeats + 1):  # the first round is a warm-up
        order = ("sequential", "functional") if index % 2 else ("functional", "sequential")
        runs: dict[str, RunResult] = {}
        if loop == "step":
            sequential, functional = TWINS[key]()
            data = workload.make_data(0).to(device)
            pair = (sequential.to(device), functional.to(device))
            runs["sequential"], runs["functional"] = step_pair(workload, data, pair, device)
            order = ()
        for side in order:
            sequential, functional = TWINS[key]()
            runs[side] = _run(
                loop, workload, sequential if side == "sequential" else functional, device
            )
        if index == 0:
            _check_same_weights(runs["sequential"], runs["functional"], device)
            continue
        result.sequential.append(runs["sequential"])
        result.functional.append(runs["functional"])
    return result


def _check_same_weights(sequential: RunResult, functional: RunResult, device: torch.device) -> None:
    pairs = zip(sequential.state.values(), functional.state.values(), strict=True)
    same = all(
        torch.equal(a, b) if device.type == "cpu" else torch.allclose(a, b) for a, b in pairs
    )
    if not same:
        raise AssertionError("the functional model and its Sequential twin trained differently")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="a,c", help="comma-separated keys among a, c")
    parser.add_argument("--loops", default="step,hand,fit", help="comma-separated: step, hand, fit")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(f"functional / Sequential twin on {device}, {args.repeats} repeats", file=sys.stderr)
    print(
        "| workload | loop | Sequential ms/step | functional ms/step | ratio min / median / max |"
    )
    print("|---|---|---|---|---|")
    for key in args.workloads.split(","):
        for loop in args.loops.split(","):
            print(
                compare(key, loop, repeats=args.repeats, quick=args.quick, device=device).row(),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
