"""Inference: epochal's ``evaluate``/``predict`` against a hand-written ``torch.inference_mode()`` loop.

Both sides run the same trained-from-init module over the same batches (the
data in order, cut by ``batch_size``) on the same device-resident tensors:
evaluate's hand loop works on logits (as epochal does, its final sigmoid
taken into the loss); predict's runs the model with its final activation,
as epochal's ``predict`` returns what the model outputs.

- **evaluate**: the hand loop sums the loss (times the batch size) and the
  accuracy hits on the device and reads them once; epochal runs
  ``model.evaluate(x, y, batch_size=..., verbose=0)``.
- **predict**: the hand loop collects the outputs and concatenates them;
  epochal runs ``model.predict(x, batch_size=..., verbose=0)`` (tensor in,
  tensor out).

The sides alternate, repeat after repeat; each repeat gives one ratio
epochal / hand, each side timed over as many calls as make the hand side's
measurement last 200 ms (small data: many calls, so the fixed cost of a call
counts as it does for a user calling evaluate in a loop). Equal results are asserted in ``tests/bench``, never times.

    python bench/inference.py --threads 1 --repeats 9 --workloads b,c,d
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import epochal as ep
from bench.runners import build_module, clock, device_arg, set_clock, synchronize
from bench.workloads import Workload, make_optimizer, workloads

__all__ = ["epochal_evaluate", "epochal_predict", "hand_evaluate", "hand_predict", "main"]

CPU = torch.device("cpu")


def _inference_data(workload: Workload, seed: int) -> tuple[Tensor, Tensor]:
    data = workload.make_data(seed)
    _, _, x_val, y_val = workload.split(data)
    if x_val is None or y_val is None:
        return data.x, data.y
    return x_val, y_val


def hand_evaluate(workload: Workload, module: nn.Module, x: Tensor, y: Tensor) -> dict[str, float]:
    """Loss and accuracy over ``x``, ``y`` by hand, in ``torch.inference_mode()``."""
    binary = workload.task == "binary"
    bs, n = workload.batch_size, x.shape[0]
    module.eval()
    with torch.inference_mode():
        loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
        hits = torch.zeros((), dtype=torch.long, device=x.device)
        for lo in range(0, n, bs):
            xb, yb = x[lo : lo + bs], y[lo : lo + bs]
            logits = module(xb)
            if binary:
                loss = F.binary_cross_entropy_with_logits(logits, yb)
                hits += ((logits > 0) == (yb > 0.5)).sum()
            else:
                loss = F.cross_entropy(logits, yb)
                hits += (logits.argmax(dim=1) == yb).sum()
            loss_sum += loss * xb.shape[0]
        return {"loss": float(loss_sum) / n, "accuracy": float(hits) / n}


def hand_predict(workload: Workload, module: nn.Module, x: Tensor) -> Tensor:
    """The module's outputs over ``x`` by hand, in ``torch.inference_mode()``.

    ``module`` is the model the user predicts with, its final activation
    included: both sides return the same outputs (probabilities for (b)).
    """
    bs = workload.batch_size
    module.eval()
    with torch.inference_mode():
        return torch.cat([module(x[lo : lo + bs]) for lo in range(0, x.shape[0], bs)])


def _model(workload: Workload, module: nn.Module) -> ep.Model:
    model = ep.Model(module, device=next(module.parameters()).device)
    model.compile(optimizer=make_optimizer, loss=workload.loss, metrics=["accuracy"], seed=0)
    return model


def epochal_evaluate(model: ep.Model, workload: Workload, x: Tensor, y: Tensor) -> dict[str, float]:
    logs = model.evaluate(x, y, batch_size=workload.batch_size, verbose=0)
    assert isinstance(logs, dict)
    return logs


def epochal_predict(model: ep.Model, workload: Workload, x: Tensor) -> Tensor:
    out = model.predict(x, batch_size=workload.batch_size, verbose=0)
    assert isinstance(out, Tensor)
    return out


def _time(fn: Callable[[], object], calls: int, device: torch.device = CPU) -> float:
    gc.collect()
    synchronize(device)
    start = clock()
    for _ in range(calls):
        fn()
    synchronize(device)
    return clock() - start


def _calls_for(fn: Callable[[], object], device: torch.device, *, at_least: float = 0.2) -> int:
    """How many calls make one measurement last ``at_least`` seconds (small data: many)."""
    once = max(_time(fn, 1, device), 1e-6)
    return max(1, min(1000, round(at_least / once)))


def measure(
    workload: Workload, *, repeats: int, seed: int, device: torch.device = CPU
) -> dict[str, list[float]]:
    """Ratios epochal / hand for evaluate and predict, one per repeat (after a warm-up)."""
    x, y = (t.to(device) for t in _inference_data(workload, seed))
    # Epochal's model wraps a module with the head (sigmoid); the hand side
    # runs the same weights without it on logits, as in training.
    with_head = build_module(workload, with_head=True, seed=seed, device=device)
    plain = build_module(workload, with_head=False, seed=seed, device=device)
    model = _model(workload, with_head)
    # predict's hand loop runs the user's model itself (its head included) on
    # a copy of the weights, so both sides compute the same outputs
    hand_model = build_module(workload, with_head=True, seed=seed, device=device)
    sides: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "evaluate": (
            lambda: hand_evaluate(workload, plain, x, y),
            lambda: epochal_evaluate(model, workload, x, y),
        ),
        "predict": (
            lambda: hand_predict(workload, hand_model, x),
            lambda: epochal_predict(model, workload, x),
        ),
    }
    ratios: dict[str, list[float]] = {k: [] for k in sides}
    calls = {}
    for name, (hand, ours) in sides.items():  # warm-up, and the calls per measurement
        ours()
        calls[name] = _calls_for(hand, device)
    for _ in range(repeats):
        for name, (hand, ours) in sides.items():
            t_hand = _time(hand, calls[name], device)
            t_ours = _time(ours, calls[name], device)
            ratios[name].append(t_ours / t_hand)
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/inference.py", description=__doc__)
    parser.add_argument("--workloads", default="b,c,d")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--device", type=device_arg, default=torch.device("cpu"))
    args = parser.parse_args(argv)
    if args.device.type == "cuda" and args.clock == "cpu":
        parser.error("--clock cpu measures CPU time: use it with --device cpu")
    device: torch.device = args.device
    set_clock(args.clock)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch threads: {torch.get_num_threads()}; repeats: {args.repeats}; "
        f"clock: {args.clock}; device: {device}"
    )
    print()
    print("| workload | evaluate / hand (min, median, max) | predict / hand (min, median, max) |")
    print("|---|---|---|")
    all_workloads = workloads(quick=args.quick)
    for key in args.workloads.split(","):
        workload = all_workloads[key]
        ratios = measure(workload, repeats=args.repeats, seed=args.seed, device=device)
        cells = [
            f"{min(r):.3f}, **{statistics.median(r):.3f}**, {max(r):.3f}" for r in ratios.values()
        ]
        print(f"| ({key}) {workload.title} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
