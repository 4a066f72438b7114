"""Profile one runner on one workload: where does the time of a training run go?

Usage, from the repository root::

    python bench/profiling.py --workload b                    # cProfile, top functions
    python bench/profiling.py --workload c --tool torch       # torch.profiler, top ops
    python bench/profiling.py --workload b --runner hand      # the same for the hand loop
    python bench/profiling.py --workload a --compile --device cuda   # compile=True, steady state
    py-spy record -o b.svg -- python bench/profiling.py --workload b --tool none --loops 40

``--tool none`` only runs the loops, for an outside sampler such as py-spy
(``pip install py-spy``; ``--nonblocking`` keeps its overhead low). Compare
the epochal profile with the hand loop's: what epochal has and the hand loop
has not is its overhead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: import `bench` from the repository root, and let no module
    # of this folder shadow a standard one (the script's folder comes first).
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from collections.abc import Callable

import torch

from bench.runners import (
    RunResult,
    build_module,
    clock,
    device_arg,
    epochal_model,
    epochal_run,
    fit_kwargs,
    hand_run,
    synchronize,
)
from bench.workloads import Data, Workload, workloads

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/profiling.py", description=__doc__)
    parser.add_argument("--workload", choices=list("abcd"), default="b")
    parser.add_argument("--runner", choices=("epochal", "hand"), default="epochal")
    parser.add_argument("--verbose", type=int, choices=(0, 1), default=0, help="epochal's verbose")
    parser.add_argument("--tool", choices=("cprofile", "torch", "none"), default="cprofile")
    parser.add_argument("--loops", type=int, default=3, help="profiled runs (after one warm-up)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--device", type=device_arg, default=torch.device("cpu"))
    parser.add_argument(
        "--compile",
        action="store_true",
        help="epochal with compile=True: one model, compiled in the warm-up, then its fit calls",
    )
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device: torch.device = args.device
    workload = workloads(quick=args.quick)[args.workload]
    data = workload.make_data(0).to(device)

    def once() -> RunResult:
        module = build_module(workload, with_head=args.runner == "epochal", seed=0, device=device)
        if args.runner == "hand":
            return hand_run(workload, data, module, seed=0, device=device)
        return epochal_run(workload, data, module, seed=0, device=device, verbose=args.verbose)

    if args.compile:
        once = _compiled_fits(workload, data, device, args.verbose)

    once()  # warm-up
    steps = workload.train_steps(data) * args.loops
    if args.tool == "cprofile":
        profiler = cProfile.Profile()
        profiler.enable()
        seconds = sum(once().seconds for _ in range(args.loops))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
    elif args.tool == "torch":
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        with profile(activities=activities) as prof:
            seconds = sum(once().seconds for _ in range(args.loops))
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
    else:
        seconds = sum(once().seconds for _ in range(args.loops))
    print(
        f"({args.workload}) {args.runner}: {1e3 * seconds / steps:.4f} ms/step "
        f"over {args.loops} run(s) (profiler overhead included)"
    )
    return 0


def _compiled_fits(
    workload: Workload, data: Data, device: torch.device, verbose: int
) -> Callable[[], RunResult]:
    """One ``compile=True`` model; each call is the workload's fit calls on it (compiled once)."""
    module = build_module(workload, with_head=True, seed=0, device=device)
    model = epochal_model(workload, module, device=device, seed=0, compile=True)
    kwargs = fit_kwargs(workload, data, verbose)

    def fits() -> RunResult:
        synchronize(device)
        start = clock()
        for _ in range(workload.fit_calls):
            model.fit(data.x, data.y, **kwargs)
        synchronize(device)
        return RunResult(clock() - start, workload.train_steps(data), {}, {})

    return fits


if __name__ == "__main__":
    raise SystemExit(main())
