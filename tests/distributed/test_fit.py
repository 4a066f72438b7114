"""fit, evaluate and predict on 2 gloo processes under torchrun, against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ._launch import torchrun

HERE = Path(__file__).parent
SCRIPT = HERE / "fit_script.py"

pytestmark = pytest.mark.slow


def _plain(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The script on one process (plain python), as a user runs it without torchrun."""
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parents[1] / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _results(out: Path, size: int) -> list[dict]:
    return [json.loads((out / f"result-{r}.json").read_text()) for r in range(size)]


def _same_run(a: dict, b: dict, *, exact: bool = False) -> None:
    assert a["epochs"] == b["epochs"] and a["step"] == b["step"]
    for key in a["history"]:
        np.testing.assert_allclose(a["history"][key], b["history"][key], rtol=1e-6, atol=1e-6)
    for key in a["weights"]:
        if exact:
            assert a["weights"][key] == b["weights"][key], key
        else:
            np.testing.assert_allclose(a["weights"][key], b["weights"][key], rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The single-process run of the script (3 epochs)."""
    out = tmp_path_factory.mktemp("one")
    _plain(out, "basic")
    return _results(out, 1)[0]


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The same script on 2 processes under torchrun (3 epochs in one fit call)."""
    out = tmp_path_factory.mktemp("two")
    done = torchrun(SCRIPT, str(out), "basic")
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


def test_two_processes_train_like_one(two, reference):
    out, done = two
    results = _results(out, 2)
    for result in results:
        assert result["size"] == 2
        _same_run(result, reference)
        # evaluate: global values on every rank; predict: all rows, in input order
        for key, value in reference["evaluate"].items():
            assert result["evaluate"][key] == pytest.approx(value, rel=1e-6)
        np.testing.assert_allclose(result["predict"], reference["predict"], rtol=1e-5, atol=1e-6)
        # a map-style Dataset: the same run; a DataLoader evaluated whole on every rank
        _same_run(
            {
                "epochs": 2,
                "step": 0,
                "history": result["dataset_history"],
                "weights": result["dataset_weights"],
            },
            {
                "epochs": 2,
                "step": 0,
                "history": reference["dataset_history"],
                "weights": reference["dataset_weights"],
            },
        )
        for key, value in reference["evaluate_loader"].items():
            assert result["evaluate_loader"][key] == pytest.approx(value, rel=1e-6)
    # a DataLoader with a DistributedSampler: each rank its own batches, one run
    a, b = results
    assert a["sampler_history"] == b["sampler_history"] and len(a["sampler_history"]["loss"]) == 2
    assert a["sampler_weights"] == b["sampler_weights"]
    assert a["sampler_evaluate"] == b["sampler_evaluate"]
    # identical logs on both ranks, bit for bit: every rank decides alike
    assert results[0]["history"] == results[1]["history"]
    # rank 0 alone prints progress and the verdict, and writes the CSV log
    assert done.stdout.count("Epoch 1/3") == 1, done.stdout
    assert done.stdout.count("val_loss is") <= 1
    lines = (out / "log.csv").read_text().strip().splitlines()
    assert len(lines) == 4  # header + 3 epochs, written once


@pytest.mark.parametrize("scenario", ["stop_batch", "stop_epoch"])
def test_a_stop_on_one_rank_stops_every_rank_at_the_same_step(tmp_path, scenario):
    done = torchrun(SCRIPT, str(tmp_path), scenario)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = _results(tmp_path, 2)
    assert a["step"] == b["step"] and a["epochs"] == b["epochs"]
    if scenario == "stop_batch":  # stopped at batch index 3 of the first epoch
        assert (a["step"], a["epochs"]) == (4, 1)
    else:
        assert (a["step"], a["epochs"]) == (14, 2)
    assert a["weights"] == b["weights"]


def test_split_calls_on_two_processes_end_with_the_same_bits(tmp_path, two):
    done = torchrun(SCRIPT, str(tmp_path), "split")  # fit(epochs=1) three times
    assert done.returncode == 0, done.stderr[-3000:]
    for whole, split in zip(_results(two[0], 2), _results(tmp_path, 2), strict=True):
        _same_run(whole, split, exact=True)


def test_a_killed_rank_ends_the_run_and_one_process_resumes_it(tmp_path, reference):
    env_kill = dict(os.environ, FAIL_HOW="kill", EPOCHAL_DIST_TIMEOUT="20")
    done = torchrun(SCRIPT, str(tmp_path), "fail", timeout=180, env=env_kill)
    assert done.returncode != 0
    assert not (tmp_path / "result-0.json").exists()
    ckpts = sorted(p.name for p in (tmp_path / "ckpt").iterdir() if p.name.startswith("epoch"))
    assert ckpts, "rank 0 wrote no checkpoint before the failure"
    # The run written on 2 processes resumes on 1 and ends like the uninterrupted run.
    _plain(tmp_path, "checkpointed")
    _same_run(_results(tmp_path, 1)[0], reference)


def test_a_failing_rank_restarted_by_torchrun_resumes_from_the_checkpoint(tmp_path, reference):
    done = torchrun(SCRIPT, str(tmp_path), "fail", extra=["--max-restarts=1"], timeout=480)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "failed-once").exists()
    assert "rank 1 failed on purpose" in done.stderr
    for result in _results(tmp_path, 2):
        _same_run(result, reference)
