"""Fixed costs per ``fit`` call: a loop of ``fit(epochs=1)`` against one ``fit`` of as many epochs.

Both sides train the workload's model from the same initial weights on the
same data, with the same batches (the same run seed), so they end with the
same weights (asserted in ``tests/bench``). What is timed: ``Model(...)``,
``compile`` and the ``fit`` call(s). The sides alternate; each repeat gives
the ratio loop / one fit. The target (issue 14): at most 1.05 for 20 and for
1000 calls.

    python bench/fixed_costs.py --threads 1 --clock cpu --calls 20,1000 --repeats 5
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import torch

import epochal as ep
from bench.runners import build_module, clock, device_arg, set_clock, synchronize
from bench.workloads import Data, Workload, make_optimizer, workloads

__all__ = ["main", "measure", "train"]

CPU = torch.device("cpu")


def train(
    workload: Workload,
    data: Data,
    *,
    epochs: int,
    calls: int,
    seed: int,
    device: torch.device = CPU,
) -> ep.Model:
    """``calls`` fit calls of ``epochs // calls`` epochs each; returns the trained model.

    ``data`` stays where it is (host tensors, as a user has them); the model
    trains on ``device``.
    """
    module = build_module(workload, with_head=True, seed=seed, device=device)
    model = ep.Model(module, device=device)
    model.compile(optimizer=make_optimizer, loss=workload.loss, seed=seed)
    for _ in range(calls):
        model.fit(data.x, data.y, batch_size=workload.batch_size, epochs=epochs // calls, verbose=0)
    return model


def measure(
    workload: Workload,
    data: Data,
    *,
    epochs: int,
    repeats: int,
    seed: int,
    device: torch.device = CPU,
) -> list[float]:
    """Ratios (``epochs`` x ``fit(epochs=1)``) / ``fit(epochs=epochs)``, one per repeat."""

    def timed(calls: int) -> float:
        gc.collect()
        synchronize(device)
        start = clock()
        train(workload, data, epochs=epochs, calls=calls, seed=seed, device=device)
        synchronize(device)
        return clock() - start

    timed(1)  # warm-up
    timed(epochs)
    ratios = []
    for _ in range(repeats):
        one = timed(1)
        loop = timed(epochs)
        ratios.append(loop / one)
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/fixed_costs.py", description=__doc__)
    parser.add_argument("--workload", default="a", choices=list("abcd"))
    parser.add_argument("--calls", default="20,1000", help="comma-separated epoch counts")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device",
        type=device_arg,
        default=torch.device("cpu"),
        help="where the model trains; the data are host tensors either way (default: cpu)",
    )
    args = parser.parse_args(argv)
    if args.device.type == "cuda" and args.clock == "cpu":
        parser.error("--clock cpu measures CPU time: use it with --device cpu")
    device: torch.device = args.device
    set_clock(args.clock)
    if args.threads:
        torch.set_num_threads(args.threads)
    workload = workloads(quick=args.quick)[args.workload]
    data = workload.make_data(args.seed)
    print(
        f"torch threads: {torch.get_num_threads()}; clock: {args.clock}; device: {device}; "
        f"({workload.key})"
    )
    print()
    print("| calls | loop of fit(epochs=1) / one fit (min, median, max) | target | meets |")
    print("|---|---|---|---|")
    for calls in (int(c) for c in args.calls.split(",")):
        r = measure(
            workload, data, epochs=calls, repeats=args.repeats, seed=args.seed, device=device
        )
        median = statistics.median(r)
        meets = "yes" if median <= 1.05 else "NO"
        print(
            f"| {calls} | {min(r):.3f}, **{median:.3f}**, {max(r):.3f} | <= 1.05 | {meets} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
