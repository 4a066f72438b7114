"""Per-call cost of ``fit(epochs=1, checkpoint_dir=...)`` over a long loop (issue 13, point 7).

A loop of one-epoch ``fit`` calls checkpointing into one directory must cost
the same per call at call 1000 as at call 1: the history goes into an
append-only log, not re-encoded whole into every checkpoint.

Run from the repository root (CPU, one thread, small model and data, so the
fixed costs dominate)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python bench/checkpoint_costs.py --calls 1000

It prints the median wall and CPU time per call over windows of calls
(first, middle, last) and the ratios last/first; a ratio near 1 means flat.
Wall time includes the ``fsync`` waits that make checkpoints durable, which
depend on the disk and on what else uses it; CPU time is epochal's own work.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import epochal as ep


def _model() -> ep.Model:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
    model = ep.Model(module, device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
    return model


def measure(calls: int, folder: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per ``fit(epochs=1, checkpoint_dir=folder)`` call."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = _model()
    wall, cpu = [], []
    for _ in range(calls):
        start, start_cpu = time.perf_counter(), time.process_time()
        model.fit(x, y, epochs=1, batch_size=64, verbose=0, checkpoint_dir=folder)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--window", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        wall, cpu = measure(args.calls, Path(folder) / "run")
    w = min(args.window, args.calls // 3)
    mid = args.calls // 2
    spans = {
        f"calls 1-{w}": slice(0, w),
        f"calls {mid - w // 2 + 1}-{mid + w - w // 2}": slice(mid - w // 2, mid + w - w // 2),
        f"calls {args.calls - w + 1}-{args.calls}": slice(args.calls - w, args.calls),
    }
    rows = []
    for name, span in spans.items():
        row = statistics.median(wall[span]) * 1e3, statistics.median(cpu[span]) * 1e3
        rows.append(row)
        print(f"{name:>16}: wall {row[0]:7.1f} ms, CPU {row[1]:7.1f} ms per call (median)")
    print(
        f"last/first: wall {rows[-1][0] / rows[0][0]:.2f}, CPU {rows[-1][1] / rows[0][1]:.2f}"
        f"  (torch {torch.__version__}, epochal {ep.__version__})"
    )


if __name__ == "__main__":
    main()
