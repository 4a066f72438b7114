"""Time the runners side by side: warm up once, then alternate them for every repeat.

Within a repeat the sides run one after the other (hand, epochal, epochal with
the bar, hand, epochal, ...), so slow drifts of the machine (other people's
work on a shared CPU, frequency changes) hit every side alike; each repeat
gives one ratio ``side / hand``, and the report gives their min, median and
max.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from bench.runners import RunResult, build_module, epochal_run, hand_graph_run, hand_run
from bench.workloads import Data, Workload

__all__ = [
    "BEST_HAND",
    "COMPILED",
    "COMPILED_NO_GRAPHS",
    "GRAPH_HAND",
    "SideTimes",
    "Stats",
    "WorkloadResult",
    "compare",
    "sides_for",
    "stats",
]

Runner = Callable[[], RunResult]

#: The side names of the best hand loop, of the hand loop replaying its step
#: as a CUDA graph (CUDA only), and of epochal with ``compile=True``.
BEST_HAND = "hand fused"
GRAPH_HAND = "hand CUDA graph"
COMPILED = "epochal compile=True"
COMPILED_NO_GRAPHS = "epochal compile=True, no CUDA graphs"


@dataclass(frozen=True)
class Stats:
    """Min, median and max of a list of numbers."""

    min: float
    median: float
    max: float


def stats(values: list[float]) -> Stats:
    return Stats(min(values), statistics.median(values), max(values))


@dataclass
class SideTimes:
    """One side's timed repeats of one workload."""

    name: str
    ms_per_step: list[float] = field(default_factory=list)
    last: RunResult | None = None
    warmup_seconds: list[float] = field(default_factory=list)

    def ratios(self, baseline: SideTimes) -> list[float]:
        """This side's time over the baseline's, repeat by repeat."""
        return [a / b for a, b in zip(self.ms_per_step, baseline.ms_per_step, strict=True)]


@dataclass
class WorkloadResult:
    """Every side's times for one workload; ``sides[0]`` is the hand loop."""

    workload: Workload
    steps: int
    sides: list[SideTimes]

    @property
    def hand(self) -> SideTimes:
        return self.sides[0]

    @property
    def best_hand(self) -> SideTimes | None:
        """The best hand loop (torch's fused optimizer), when it was run."""
        return next((s for s in self.sides if s.name == BEST_HAND), None)


def sides_for(
    workload: Workload,
    data: Data,
    *,
    seed: int,
    device: torch.device,
    verbose_bar: bool,
    compiled: bool = False,
) -> list[tuple[str, Runner]]:
    """The runs to alternate: the user's hand loop first, the best hand loop, then epochal.

    On CUDA the hand loop replaying its step as a CUDA graph comes after the
    best hand loop. ``verbose_bar`` adds epochal with the progress bar;
    ``compiled`` adds epochal with ``compile=True`` (timed in steady state,
    its warm-up apart), and on CUDA the same without CUDA graphs.
    """

    def hand(fused: bool) -> Runner:
        def run() -> RunResult:
            module = build_module(workload, with_head=False, seed=seed, device=device)
            return hand_run(workload, data, module, seed=seed, device=device, fused=fused)

        return run

    def epochal(verbose: int, compile: bool = False, cuda_graphs: bool = True) -> Runner:
        def run() -> RunResult:
            module = build_module(workload, with_head=True, seed=seed, device=device)
            return epochal_run(
                workload,
                data,
                module,
                seed=seed,
                device=device,
                verbose=verbose,
                compile=compile,
                cuda_graphs=cuda_graphs,
            )

        return run

    def hand_graph() -> RunResult:
        module = build_module(workload, with_head=False, seed=seed, device=device)
        return hand_graph_run(workload, data, module, seed=seed, device=device)

    sides = [("hand", hand(False)), (BEST_HAND, hand(True))]
    if device.type == "cuda":
        sides.append((GRAPH_HAND, hand_graph))
    sides.append(("epochal verbose=0", epochal(0)))
    if verbose_bar:
        sides.append(("epochal verbose=1", epochal(1)))
    if compiled:
        sides.append((COMPILED, epochal(0, compile=True)))
        if device.type == "cuda":
            sides.append((COMPILED_NO_GRAPHS, epochal(0, compile=True, cuda_graphs=False)))
    return sides


def compare(
    workload: Workload,
    *,
    repeats: int,
    seed: int,
    device: torch.device,
    verbose_bar: bool = False,
    compiled: bool = False,
    progress: Callable[[str], None] | None = None,
) -> WorkloadResult:
    """Warm every side up once, then run them alternately ``repeats`` times."""
    data = workload.make_data(seed).to(device)
    runners = sides_for(
        workload, data, seed=seed, device=device, verbose_bar=verbose_bar, compiled=compiled
    )
    times = [SideTimes(name) for name, _ in runners]
    for _, run in runners:  # warm-up: imports, allocator, kernels; not counted
        run()
    for r in range(repeats):
        for side, (_, run) in zip(times, runners, strict=True):
            gc.collect()
            result = run()
            side.ms_per_step.append(result.ms_per_step)
            if result.warmup_seconds is not None:
                side.warmup_seconds.append(result.warmup_seconds)
            side.last = result
        if progress is not None:
            row = ", ".join(f"{s.name} {s.ms_per_step[-1]:.3f}" for s in times)
            progress(f"  ({workload.key}) repeat {r + 1}/{repeats}: ms/step {row}")
    return WorkloadResult(workload, workload.train_steps(data), times)
