"""bench/functional.py: the functional model and its nn.Sequential twin compute the same thing."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: `bench`

from bench import functional


def test_twins_start_equal_and_train_to_equal_weights():
    sequential, model = functional.seed_twins()
    weights = [p.detach().clone() for p in sequential.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True))
    data = torch.randn(4, 10)
    assert torch.equal(sequential(data), model(data))


def test_compare_runs_both_loops_and_checks_the_weights(monkeypatch):
    monkeypatch.setattr(functional, "STEP_BLOCKS", 2)
    for loop in ("hand", "step"):
        result = functional.compare("a", loop, repeats=1, quick=True, device=torch.device("cpu"))
        assert len(result.ratios) == 1 and result.ratios[0] > 0
        assert result.row().startswith(f"| a | {loop} |")
