"""SIGKILL a training script at random points, restart it each time: same bits at the end."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).with_name("train_script.py")


def launch(ckdir: Path, out: Path, kill_at: str = "", mode: str = "fit") -> int:
    env = {**os.environ, "KILL_AT": kill_at, "PYTHONHASHSEED": "0", "SCRIPT_MODE": mode}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(ckdir), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"script failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.returncode


def result(out: Path) -> tuple[dict, dict]:
    return json.loads(out.read_text()), load_file(str(out) + ".weights")


@pytest.mark.slow
def test_killed_anywhere_and_restarted_ends_with_the_same_bits(tmp_path):
    assert launch(tmp_path / "reference", tmp_path / "ref.json") == 0
    reference, ref_weights = result(tmp_path / "ref.json")
    assert reference["step"] > 200 and reference["stopped"], "the run must be long and stop early"

    # Kill points counted from each process's start, so every one is reached:
    # during a step, inside validation, and half-way through a checkpoint write.
    plan_rng = random.Random(20261124)
    plan = [f"step:{plan_rng.randint(1, 25)}" for _ in range(6)]
    plan += ["val:1", "val:2", "ckpt:1", "ckpt:2", "ckpt:3", "ckpt:4"]
    plan_rng.shuffle(plan)

    ckdir, out = tmp_path / "killed", tmp_path / "out.json"
    kills = [spec for spec in plan if launch(ckdir, out, spec) == -signal.SIGKILL]
    assert len(kills) >= 10, f"only {len(kills)} of {plan} killed the process"
    if not out.exists():
        assert launch(ckdir, out) == 0
    final, weights = result(out)
    assert final == reference
    assert weights.keys() == ref_weights.keys()
    for name in weights:
        assert torch.equal(weights[name], ref_weights[name]), name


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["es_loop", "manual", "phases"])
def test_loops_and_code_between_calls_killed_anywhere_end_with_the_same_bits(tmp_path, mode):
    """fit(epochs=1) loops with EarlyStopping, the hand-written early-stopping loop, and a
    learning rate lowered by hand with new_phase() between calls: killed and restarted."""
    assert launch(tmp_path / "reference", tmp_path / "ref.json", mode=mode) == 0
    reference, ref_weights = result(tmp_path / "ref.json")
    plan_rng = random.Random({"es_loop": 1, "manual": 2, "phases": 3}[mode])
    plan = [f"step:{plan_rng.randint(1, 30)}" for _ in range(3)] + ["ckpt:3", "ckpt:9"]
    ckdir, out = tmp_path / "killed", tmp_path / "out.json"
    kills = [spec for spec in plan if launch(ckdir, out, spec, mode) == -signal.SIGKILL]
    assert len(kills) >= 3, f"only {len(kills)} of {plan} killed the process"
    if not out.exists():
        assert launch(ckdir, out, mode=mode) == 0
    final, weights = result(out)
    assert final == reference
    for name in weights:
        assert torch.equal(weights[name], ref_weights[name]), name
