"""Run under torchrun by tests/distributed/test_distributed.py: exercise epochal.distributed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from epochal import distributed as d

out = Path(sys.argv[1])
w = d.setup()
rows = torch.arange(w.rank + 1, dtype=torch.float32).reshape(-1, 1) + 10 * w.rank
summed = d.all_reduce_sum(torch.tensor([float(w.rank + 1)]))
result = {
    "rank": w.rank,
    "size": w.size,
    "backend": w.backend,
    "is_main": w.is_main,
    "sum": summed.item(),
    "any_only_rank1": d.any_rank(w.rank == 1),
    "any_none": d.any_rank(False),
    "gathered": d.all_gather_rows(rows)[:, 0].tolist(),
    "broadcast": d.broadcast_object({"from": w.rank}),
    "bounds": d.shard_bounds(10, w.rank, w.size),
}
with d.main_first():
    if w.is_main:
        (out / "first.txt").write_text("written by rank 0")
    result["saw_first"] = (out / "first.txt").exists()
d.barrier()
(out / f"rank{w.rank}.json").write_text(json.dumps(result))
