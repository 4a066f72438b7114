"""Reading the curves of real training runs, the fit summary line and `epochal report`."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch
from torch import nn

import epochal as ep
from epochal.cli import main as cli_main


def fit(
    module: nn.Module, x, y, *, epochs: int, lr: float, val=None, batch_size: int = 32
) -> ep.Model:
    model = ep.Model(module, device="cpu")
    model.compile(optimizer="adam", loss="bce", learning_rate=lr, seed=0)
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, validation_data=val)
    return model


def test_a_large_network_on_few_noisy_samples_overfits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20)).astype(np.float32)
    y = (x[:, 0] + 0.8 * rng.normal(size=400) > 0).astype(np.float32)  # noisy labels
    torch.manual_seed(0)
    big = nn.Sequential(
        nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1)
    )
    model = fit(big, x[:40], y[:40], epochs=60, lr=3e-3, val=(x[40:], y[40:]), batch_size=8)
    verdict = model.history.diagnose()
    assert verdict.verdict == "overfitting", verdict
    assert verdict.since_epoch is not None and verdict.since_epoch < 30
    assert "overfitting since epoch" in verdict.summary


def test_a_linear_model_on_a_nonlinear_task_underfits():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 2)).astype(np.float32)
    y = ((x**2).sum(axis=1) > 1.4).astype(np.float32)  # a ring: no line separates it
    torch.manual_seed(0)
    model = fit(nn.Linear(2, 1), x[:480], y[:480], epochs=30, lr=0.05, val=(x[480:], y[480:]))
    verdict = model.history.diagnose()
    assert model.run.baseline_loss is not None
    assert verdict.verdict == "underfitting", verdict


def test_a_well_tuned_run_converges_and_a_short_one_is_still_improving():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(800, 5)).astype(np.float32)
    y = (x @ rng.normal(size=5) > 0).astype(np.float32)
    val = (x[600:], y[600:])
    torch.manual_seed(0)
    short = fit(
        nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 1)),
        x[:600],
        y[:600],
        epochs=6,
        lr=1e-3,
        val=val,
    )
    assert short.history.diagnose().verdict == "still_improving"
    torch.manual_seed(0)
    tuned = ep.Model(nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 1)), device="cpu")
    tuned.compile(
        optimizer="adam",
        loss="bce",
        learning_rate=0.01,
        seed=0,
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.3),
    )
    tuned.fit(x[:600], y[:600], epochs=50, verbose=0, validation_data=val)
    assert tuned.history.diagnose().verdict == "converged"


def test_without_validation_overfitting_cannot_be_judged():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    torch.manual_seed(0)
    model = fit(
        nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1)), x, y, epochs=8, lr=1e-2
    )
    verdict = model.history.diagnose()
    assert "overfitting" in " ".join(verdict.cannot_judge)


def test_fit_prints_the_verdict_line(capsys):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    model.fit(x, y, epochs=5, verbose=2, validation_split=0.25)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == model.history.diagnose().summary
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_report_command_writes_html_with_curves_and_verdict(tmp_path, capsys):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
    model.fit(x, y, epochs=6, verbose=0, validation_split=0.25, checkpoint_dir=tmp_path / "run")
    assert cli_main(["report", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out.splitlines()
    verdict = model.history.diagnose().summary
    assert out[0] == verdict
    html = (tmp_path / "run" / "report.html").read_text()
    assert verdict.split(":")[0] in html
    assert "data:image/png;base64," in html
    assert "adam" in html and "binary_crossentropy" in html
    assert cli_main(["report", str(tmp_path / "missing")]) == 1
    assert "No intact epochal checkpoint" in capsys.readouterr().err


def test_demo_writes_a_run_directory_with_a_report(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "epochal",
            "demo",
            "--verbose",
            "0",
            "--run-dir",
            str(tmp_path / "demo"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert (tmp_path / "demo" / "report.html").exists()
    assert f"report:        {tmp_path / 'demo' / 'report.html'}" in out
    loaded = ep.Model.load(tmp_path / "demo", module=_demo_module())
    assert loaded.history.epoch and loaded.run.stopped


def _demo_module() -> nn.Module:
    from epochal import layers

    return ep.Sequential(
        [
            layers.Dense(32, activation="relu", input_shape=(30,)),
            layers.Dropout(0.2),
            layers.Dense(16, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    ).module
