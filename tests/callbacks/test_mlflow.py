"""MLflowLogger against a real local MLflow store (sqlite): split fits, resume, artifacts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("mlflow")

import mlflow

import epochal as ep
from epochal.callbacks.mlflow import MLflowLogger
from epochal.errors import ArgumentTypeError

# MLflow's sqlite store uses a SQLAlchemy loader option that SQLAlchemy 2.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:.*``noload`` loader strategy:DeprecationWarning")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One sqlite store for the module: creating its schema takes seconds."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    mlflow.MlflowClient(tracking_uri=uri).search_experiments()
    return uri


@pytest.fixture
def store(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # MLflow's defaults write under the working folder
    return {
        "tracking_uri": database,
        "artifact_location": (tmp_path / "artifacts").as_uri(),
        "experiment_name": f"epochal-{request.node.name}",  # one experiment per test
    }


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.float32)


def new_model() -> ep.Model:
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], learning_rate=0.01, seed=3)
    return model


def steps(client, run_id: str, key: str) -> list[int]:
    return sorted(int(m.step) for m in client.get_metric_history(run_id, key))


def only_run(store: dict[str, str]):
    client = mlflow.MlflowClient(tracking_uri=store["tracking_uri"])
    experiment = client.get_experiment_by_name(store["experiment_name"])
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return client, runs[0]


def test_split_fits_log_into_one_run_with_every_epoch_once(store):
    x, y = data()
    model = new_model()
    logger = MLflowLogger(**store)
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[logger])
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[logger])
    client, run = only_run(store)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert steps(client, run.info.run_id, key) == [0, 1, 2, 3, 4], key
    losses = [
        m.value
        for m in sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)
    ]
    assert losses == pytest.approx(model.history.history["loss"])
    params = run.data.params
    assert params["optimizer"].lower().startswith("adam")
    assert float(params["learning_rate"]) == pytest.approx(0.01)
    assert params["seed"] == "3"
    assert int(params["parameter_count"]) == 4 * 8 + 8 + 8 + 1
    assert params["compiled_metrics"] == "accuracy"
    assert params["batch_size"] == "32"
    assert params["loss"] == "binary_crossentropy"
    assert params["samples"] == "72" and params["validation"] == "True"
    assert params["epochs"] == "2"  # the first call's; MLflow params cannot change
    assert run.data.tags["epochal.latest.epochs"] == "5"
    assert run.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "curves.png"} <= artifacts


def test_a_loop_of_one_epoch_fits_is_one_run(store):
    x, y = data()
    model = new_model()
    logger = MLflowLogger(**store)
    for _ in range(4):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[logger])
    client, run = only_run(store)
    assert steps(client, run.info.run_id, "loss") == [0, 1, 2, 3]


def test_a_new_run_on_the_same_callback_is_a_new_mlflow_run(store):
    x, y = data()
    logger = MLflowLogger(**store)
    new_model().fit(x, y, epochs=1, verbose=0, callbacks=[logger])
    new_model().fit(x, y, epochs=1, verbose=0, callbacks=[logger])
    client = mlflow.MlflowClient(tracking_uri=store["tracking_uri"])
    experiment = client.get_experiment_by_name(store["experiment_name"])
    assert len(client.search_runs([experiment.experiment_id])) == 2


class Crash(ep.Callback):
    """Fails after the logger has logged epoch ``at``, before that epoch's checkpoint."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("killed")


def test_resume_continues_the_mlflow_run_without_logging_a_step_twice(store, tmp_path):
    x, y = data()
    ckpt = tmp_path / "ckpt"
    with pytest.raises(RuntimeError, match="killed"):
        new_model().fit(
            x,
            y,
            epochs=5,
            verbose=0,
            checkpoint_dir=ckpt,
            callbacks=[MLflowLogger(**store), Crash(at=3)],
        )
    # The script, run again: a new model and a new callback resume the run from its checkpoint.
    model = new_model()
    model.fit(x, y, epochs=5, verbose=0, checkpoint_dir=ckpt, callbacks=[MLflowLogger(**store)])
    client, run = only_run(store)
    assert steps(client, run.info.run_id, "loss") == [0, 1, 2, 3, 4]
    uninterrupted = new_model()
    uninterrupted.fit(x, y, epochs=5, verbose=0)
    logged = sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)
    assert [m.value for m in logged] == pytest.approx(uninterrupted.history.history["loss"])


def test_an_active_mlflow_run_is_used_and_left_open(store):
    x, y = data()
    mlflow.set_tracking_uri(store["tracking_uri"])
    try:
        experiment = mlflow.set_experiment(store["experiment_name"])
        with mlflow.start_run() as active:
            new_model().fit(
                x, y, epochs=2, verbose=0, callbacks=[MLflowLogger(log_artifacts=False)]
            )
            client = mlflow.MlflowClient(tracking_uri=store["tracking_uri"])
            assert client.get_run(active.info.run_id).info.status == "RUNNING"
            assert steps(client, active.info.run_id, "loss") == [0, 1]
        assert len(client.search_runs([experiment.experiment_id])) == 1
    finally:
        mlflow.set_tracking_uri(None)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"experiment_name": 3}, "experiment_name"),
        ({"tags": ["a"]}, "tags"),
        ({"log_artifacts": "yes"}, "log_artifacts"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(ArgumentTypeError, match=match):
        MLflowLogger(**kwargs)


SCRIPT = """
import os, signal, sys
import numpy as np, torch
from torch import nn
import epochal as ep
from epochal.callbacks.mlflow import MLflowLogger

class Kill(ep.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == int(os.environ.get("KILL_AT", "-1")):
            os.kill(os.getpid(), signal.SIGKILL)

rng = np.random.default_rng(0)
x = rng.normal(size=(96, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.float32)
torch.manual_seed(0)
model = ep.Model(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)), device="cpu")
model.compile(optimizer="adam", loss="bce", learning_rate=0.01, seed=3)
logger = MLflowLogger(sys.argv[2], tracking_uri=sys.argv[1], log_artifacts=False)
for _ in range(3):
    model.fit(x, y, epochs=2, verbose=0, checkpoint_dir="ckpt", callbacks=[logger, Kill()])
"""


@pytest.mark.slow
def test_a_killed_process_resumes_the_same_mlflow_run(store, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    args = [sys.executable, str(script), store["tracking_uri"], store["experiment_name"]]
    src = str(Path(ep.__file__).resolve().parents[1])  # this checkout's epochal, from any folder
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "KILL_AT": "3", "PYTHONPATH": path}
    killed = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, timeout=300)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    env["KILL_AT"] = "-1"
    done = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    client, run = only_run(store)
    assert steps(client, run.info.run_id, "loss") == [0, 1, 2, 3, 4, 5]
