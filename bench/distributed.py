"""epochal on 1 and 2 gloo processes against a hand-written DDP loop on the same batches.

    OMP_NUM_THREADS=1 PYTHONPATH=src python bench/distributed.py [--repeats 3] [--epochs 3]

Run plainly, it launches itself under torchrun (1 and 2 CPU processes), once
per side and repeat, and prints a Markdown table: ms per training step
(median over repeats, rank 0's clock) and the ratio epochal / hand loop.
Both sides train the same MLP (64-256-256-10, softmax cross-entropy, SGD
with momentum) on the same 8192 synthetic samples with a global batch of
128: the hand loop cuts each global batch of epochal's permutation f(seed,
epoch) into the ranks' `shard_bounds` shares and scales each rank's loss to
its share, exactly as epochal does, so both end with the same weights.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

N, FEATURES, CLASSES, BATCH, SEED = 8192, 64, 10, 128, 0


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, FEATURES, generator=g)
    teacher = torch.randn(FEATURES, CLASSES, generator=g)
    return x, (x @ teacher).argmax(dim=1)


def _module() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(FEATURES, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, CLASSES)
    )


def _optimizer(params) -> torch.optim.Optimizer:  # type: ignore[no-untyped-def]
    return torch.optim.SGD(params, lr=0.05, momentum=0.9)


def hand(epochs: int) -> tuple[float, int]:
    """A careful hand-written DDP loop; returns (seconds, steps)."""
    from torch.nn.parallel import DistributedDataParallel

    from epochal import distributed as d
    from epochal.run import derive_seed

    w = d.setup()
    x, y = _data()
    module = _module()
    d.barrier()
    start = time.perf_counter()
    model = DistributedDataParallel(module) if w.distributed else module
    optimizer = _optimizer(module.parameters())
    steps = 0
    for epoch in range(epochs):
        gen = torch.Generator().manual_seed(derive_seed(SEED, "shuffle", epoch))
        order = torch.randperm(N, generator=gen)
        loss_sum = torch.zeros((), dtype=torch.float64)
        for lo in range(0, N, BATCH):
            index = order[lo : lo + BATCH]
            a, b = d.shard_bounds(index.numel(), w.rank, w.size)
            mine = index[a:b]
            loss = F.cross_entropy(model(x[mine]), y[mine])
            optimizer.zero_grad(set_to_none=True)
            (loss * ((b - a) * w.size / index.numel())).backward()
            optimizer.step()
            loss_sum += loss.detach() * (b - a)
            steps += 1
        d.all_reduce_sum(loss_sum)
        float(loss_sum)  # one host sync per epoch, as epochal
    d.barrier()
    return time.perf_counter() - start, steps


def epochal_side(epochs: int) -> tuple[float, int]:
    import epochal as ep
    from epochal import distributed as d

    d.setup()
    x, y = _data()
    module = _module()
    d.barrier()
    start = time.perf_counter()
    model = ep.Model(module, device="cpu")
    model.compile(optimizer=_optimizer, loss="sparse_categorical_crossentropy", seed=SEED)
    model.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0)
    d.barrier()
    return time.perf_counter() - start, model.run.step


def _worker(side: str, epochs: int, out: Path) -> None:
    seconds, steps = (hand if side == "hand" else epochal_side)(epochs)
    if int(os.environ.get("RANK", "0")) == 0:
        out.write_text(json.dumps({"seconds": seconds, "steps": steps}))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch(side: str, nproc: int, epochs: int) -> float:
    """ms per step of one run of ``side`` on ``nproc`` processes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={nproc}",
            "--master_addr=127.0.0.1",
            f"--master_port={_free_port()}",
            __file__,
            "--worker",
            side,
            "--epochs",
            str(epochs),
            "--out",
            str(out),
        ]
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)
        result = json.loads(out.read_text())
    return 1000 * result["seconds"] / result["steps"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--worker", choices=["hand", "epochal"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker is not None:
        _worker(args.worker, args.epochs, args.out)
        return
    print("| processes | hand DDP ms/step | epochal ms/step | epochal / hand (min, median, max) |")
    print("|---|---|---|---|")
    for nproc in (1, 2):
        hand_ms, ep_ms, ratios = [], [], []
        for _ in range(args.repeats):
            h = _launch("hand", nproc, args.epochs)
            e = _launch("epochal", nproc, args.epochs)
            hand_ms.append(h)
            ep_ms.append(e)
            ratios.append(e / h)
        print(
            f"| {nproc} | {statistics.median(hand_ms):.3f} | {statistics.median(ep_ms):.3f} | "
            f"{min(ratios):.3f}, {statistics.median(ratios):.3f}, {max(ratios):.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
