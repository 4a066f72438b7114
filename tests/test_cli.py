"""The command line: a user error is one line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from torch import nn

import epochal as ep
from epochal._runio import read_checkpoint
from epochal.checkpoint import save_checkpoint
from epochal.cli import main

SRC = str(Path(ep.__file__).resolve().parents[1])


def saved_run(path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = ep.Model(nn.Sequential(nn.Linear(3, 1)), device="cpu")
    model.compile(optimizer="sgd", loss="bce", seed=0)
    model.fit(x, y, epochs=2, verbose=0)
    return model.save(path)


def with_history(src: Path, dst: Path, history: Any) -> Path:
    """A copy of the checkpoint at ``src`` whose meta holds ``history``, checksums intact."""
    ckpt = read_checkpoint(src)
    meta = dict(ckpt.meta)
    meta["history"] = history
    return save_checkpoint(dst, weights=ckpt.weights, state=ckpt.state, meta=meta)


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "EPOCHAL_DEBUG"}
    environ.update({"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", **env})
    return subprocess.run(
        [sys.executable, "-m", "epochal", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], command: str) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"epochal {command}: ")
    assert result.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return saved_run(tmp_path_factory.mktemp("cli") / "run")


def test_report_on_a_malformed_history_is_one_line_and_status_1(run_dir, tmp_path):
    bad = with_history(run_dir, tmp_path / "bad", {"history": {"loss": "not a list"}})
    line = assert_one_line_error(run_cli("report", str(bad)), "report")
    assert len(line) < 400


@pytest.mark.slow  # a fresh interpreter importing torch
def test_report_on_a_missing_directory_is_one_line_and_status_1(tmp_path):
    line = assert_one_line_error(run_cli("report", str(tmp_path / "nothing")), "report")
    assert "nothing" in line


@pytest.mark.slow  # a fresh interpreter importing torch
def test_epochal_debug_shows_the_traceback(tmp_path):
    result = run_cli("report", str(tmp_path / "nothing"), EPOCHAL_DEBUG="1")
    assert result.returncode == 1
    assert "Traceback" in result.stderr


@pytest.mark.parametrize(
    "history",
    [
        {"history": {"loss": [0.5, "x"]}, "epoch": [0, 1], "epochs_by_key": {"loss": [0, 1]}},
        {"history": {"loss": [0.5]}, "epoch": ["a"], "epochs_by_key": {"loss": [0]}},
        {"history": {"loss": [0.5, 0.4]}, "epoch": [0, 1]},  # epochs_by_key missing
        {"history": [1, 2, 3]},
        {"history": {"loss": None}},
        "not a dict",
        {"events": [1, 2], "history": {}},
    ],
)
def test_report_in_process_never_raises_for_a_malformed_history(run_dir, tmp_path, capsys, history):
    bad = with_history(run_dir, tmp_path / "bad", history)
    status = main(["report", str(bad)])
    err = capsys.readouterr().err
    if status != 0:  # what can be read is reported; what cannot is one line
        assert status == 1
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("epochal report: ")


def test_report_to_an_unwritable_output_is_one_line(run_dir, tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("x")
    assert main(["report", str(run_dir), "-o", str(target / "sub" / "r.html")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("epochal report: ") and len(err.strip().splitlines()) == 1


def test_report_on_a_file_instead_of_a_run_is_one_line(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert main(["report", str(path)]) == 1
    assert capsys.readouterr().err.startswith("epochal report: ")


def test_a_good_report_still_succeeds(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").exists()
    assert "report:" in capsys.readouterr().out


def test_usage_errors_keep_argparse_status_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
