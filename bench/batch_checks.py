"""The cost of checking every batch of an iterable (epochal.data._checks.BatchCheck).

Two measurements, on one process, side by side:

1. the check alone, per batch, for the loss kinds whose targets it reads
   (binary cross-entropy, sparse labels, regression) and with sample weights;
2. ``fit`` over a list of batches (the seed MLP of workload a: 1000 x 10,
   Dense 128 relu, Dense 1, batch 32) with the full per-batch check against
   the same fit with only the conforming that ran per batch before the check
   existed (dtype and shape, no values read).

    python bench/batch_checks.py                 # CPU, 7 repeats
    python bench/batch_checks.py --device cuda --repeats 11

Prints a Markdown table; never asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import epochal as ep  # noqa: E402
from epochal import losses  # noqa: E402
from epochal.data import Batch  # noqa: E402
from epochal.data._checks import BatchCheck  # noqa: E402


def _median_us(fn: Callable[[], Any], repeats: int, number: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times) * 1e6


def check_alone(device: torch.device, repeats: int) -> list[tuple[str, int, float]]:
    """Microseconds per batch for BatchCheck on host batches of several sizes."""
    rows = []
    for batch_size in (32, 256, 4096):
        cases = {
            "binary_crossentropy": (
                torch.randint(0, 2, (batch_size,)).float(),
                torch.zeros(batch_size, 1),
            ),
            "sparse_categorical_crossentropy": (
                torch.randint(0, 10, (batch_size,)),
                torch.zeros(batch_size, 10),
            ),
            "mean_squared_error": (torch.randn(batch_size, 1), torch.zeros(batch_size, 1)),
        }
        for name, (y, out) in cases.items():
            check = BatchCheck(losses.get(name), out.to(device), "x")
            x = torch.randn(batch_size, 10)
            for weights in (None, torch.ones(batch_size)):
                batch = Batch(x, y, weights, batch_size)
                us = _median_us(lambda b=batch, c=check: c(b, 0), repeats, 200)
                label = name + (" + sample_weight" if weights is not None else "")
                rows.append((label, batch_size, us))
    return rows


def _values_free_call(self: BatchCheck, batch: Batch, index: int) -> Batch:
    """The per-batch work before every batch was checked: conform, read no values."""
    y = losses.prepare_targets(self.spec, batch.y, self.output, check_values=False)
    return batch._replace(y=y)


def fit_epoch_ms(device: torch.device, repeats: int, *, checked: bool) -> float:
    """Milliseconds per epoch of fit over 32 batches of 32 (1000 x 10, MLP 128)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 10, generator=g)
    y = (x[:, 0] > 0).float()
    data = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 1000, 32)]
    original = BatchCheck.__call__
    if not checked:
        BatchCheck.__call__ = _values_free_call  # type: ignore[method-assign]
    try:
        torch.manual_seed(0)
        module = nn.Sequential(nn.Linear(10, 128), nn.ReLU(), nn.Linear(128, 1))
        model = ep.Model(module, device=device)
        model.compile(optimizer="adam", loss="bce", seed=0)
        model.fit(data, epochs=2, verbose=0)  # warm up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.fit(data, epochs=3, verbose=0)
            times.append((time.perf_counter() - start) / 3)
    finally:
        BatchCheck.__call__ = original  # type: ignore[method-assign]
    return statistics.median(times) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(f"device: {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("\n| check | batch | us per batch |\n|---|---:|---:|")
    for label, batch_size, us in check_alone(device, args.repeats):
        print(f"| {label} | {batch_size} | {us:.1f} |")
    before = fit_epoch_ms(device, args.repeats, checked=False)
    after = fit_epoch_ms(device, args.repeats, checked=True)
    print("\n| fit over 32 batches of 32 | ms per epoch |\n|---|---:|")
    print(f"| conform only (before) | {before:.2f} |")
    print(f"| every batch checked | {after:.2f} |")
    print(f"| ratio | {after / before:.3f} |")
    print(f"| per batch | {(after - before) / 32 * 1e3:+.1f} us |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
