"""TensorBoard: Keras's scalar layout, read back from the event files."""

from __future__ import annotations

import sys

import pytest

from epochal.callbacks.base import CallbackList
from epochal.callbacks.tensorboard import TensorBoard
from epochal.errors import ArgumentError, ArgumentTypeError


@pytest.fixture
def read_scalars():
    """``read_scalars(folder)`` -> {tag: [(step, value), ...]} from a folder's event files."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def read(folder):
        events = EventAccumulator(str(folder))
        events.Reload()
        return {
            tag: [(event.step, event.value) for event in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]
        }

    return read


def fit(callback, model, params, epochs, state=None, batches=0):
    """One fit call as the callback list makes it; returns the state the run keeps."""
    callbacks = CallbackList([callback])
    callbacks.set_model(model)
    callbacks.set_params(params)
    if state is None:
        callback.reset_state()
    else:
        callback.load_state_dict(state)
    callbacks.on_train_begin()
    for epoch, logs in epochs:
        callbacks.on_epoch_begin(epoch)
        if callbacks.wants("on_train_batch_end"):
            for batch in range(batches):
                callbacks.batch_hook("on_train_batch_end", batch, {"loss": float(batch)})
        callbacks.on_epoch_end(epoch, dict(logs))
    callbacks.on_train_end()
    return callback.state_dict()


def test_epoch_scalars_go_to_train_and_validation(tmp_path, model, params, read_scalars):
    logs = {"loss": 0.5, "accuracy": 0.25, "val_loss": 0.75, "val_accuracy": 0.125}
    fit(TensorBoard(tmp_path), model, params, [(0, logs), (1, logs)])
    assert read_scalars(tmp_path / "train") == {
        "epoch_loss": [(0, 0.5), (1, 0.5)],
        "epoch_accuracy": [(0, 0.25), (1, 0.25)],
        "epoch_learning_rate": [(0, pytest.approx(0.1)), (1, pytest.approx(0.1))],
    }
    assert read_scalars(tmp_path / "validation") == {
        "epoch_loss": [(0, 0.75), (1, 0.75)],
        "epoch_accuracy": [(0, 0.125), (1, 0.125)],
    }


def test_learning_rate_from_the_logs_wins(tmp_path, model, params, read_scalars):
    fit(TensorBoard(tmp_path), model, params, [(0, {"loss": 1.0, "learning_rate": 0.5})])
    assert read_scalars(tmp_path / "train")["epoch_learning_rate"] == [(0, 0.5)]


def test_no_validation_folder_without_validation_logs(tmp_path, model, params):
    pytest.importorskip("tensorboard")
    fit(TensorBoard(tmp_path), model, params, [(0, {"loss": 1.0})])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]


def test_fit_calls_of_a_run_continue_the_curves(tmp_path, model, params, read_scalars):
    state = fit(TensorBoard(tmp_path), model, params, [(0, {"loss": 3.0}), (1, {"loss": 2.0})])
    fit(TensorBoard(tmp_path), model, params, [(2, {"loss": 1.0})], state)
    assert read_scalars(tmp_path / "train")["epoch_loss"] == [(0, 3.0), (1, 2.0), (2, 1.0)]


def test_update_freq_epoch_adds_no_batch_hook(tmp_path, model, params, read_scalars):
    callbacks = CallbackList([TensorBoard(tmp_path)])
    for hook in ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_end"):
        assert not callbacks.wants(hook)
    fit(TensorBoard(tmp_path / "run"), model, params, [(0, {"loss": 1.0})], batches=3)
    assert "batch_loss" not in read_scalars(tmp_path / "run" / "train")


def test_update_freq_int_writes_every_nth_batch(tmp_path, model, params, read_scalars):
    cb = TensorBoard(tmp_path, update_freq=2)
    assert CallbackList([cb]).wants("on_train_batch_end")
    assert not CallbackList([cb]).wants("on_train_batch_begin")
    state = fit(cb, model, params, [(0, {"loss": 1.0}), (1, {"loss": 1.0})], batches=3)
    assert state == {"global_batch": 6}
    # the batch count is the run's: a later fit call numbers on
    fit(TensorBoard(tmp_path, update_freq=2), model, params, [(2, {"loss": 1.0})], state, 3)
    # the batch logs of batches 1, 0, 2, 1 of their epochs: global batches 2, 4, 6, 8
    assert read_scalars(tmp_path / "train")["batch_loss"] == [
        (2, 1.0),
        (4, 0.0),
        (6, 2.0),
        (8, 1.0),
    ]


def test_update_freq_batch_means_every_batch(tmp_path, model, params, read_scalars):
    cb = TensorBoard(tmp_path, update_freq="batch")
    assert cb.update_freq == 1
    fit(cb, model, params, [(0, {"loss": 1.0})], batches=2)
    assert read_scalars(tmp_path / "train")["batch_loss"] == [(1, 0.0), (2, 1.0)]


def test_batch_logging_reads_the_logs_only_on_logging_batches(tmp_path, model, params, lazy_logs):
    pytest.importorskip("tensorboard")
    cb = TensorBoard(tmp_path, update_freq=3)
    cb.set_model(model)
    cb.reset_state()
    cb.on_train_begin()
    reads = []
    for batch in range(3):
        logs = lazy_logs({"loss": 1.0, "accuracy": 0.5})
        cb.on_train_batch_end(batch, logs)
        reads.append(sorted(logs.reads))
    cb.on_train_end()
    assert reads == [[], [], ["accuracy", "loss"]]


def test_steps_per_second(tmp_path, model, params, read_scalars):
    fit(
        TensorBoard(tmp_path, write_steps_per_second=True),
        model,
        params,
        [(0, {"loss": 1.0})],
        batches=4,
    )
    [(step, value)] = read_scalars(tmp_path / "train")["epoch_steps_per_second"]
    assert step == 0
    assert value > 0


def test_writers_are_closed_at_train_end(tmp_path, model, params):
    pytest.importorskip("tensorboard")
    cb = TensorBoard(tmp_path)
    fit(cb, model, params, [(0, {"loss": 1.0})])
    assert cb._writers == {}


def test_looks_like_a_tensorboard_callback(tmp_path):
    pytest.importorskip("tensorboard")
    cb = TensorBoard(tmp_path, update_freq=5)
    assert isinstance(cb, TensorBoard)
    assert cb.state_key == "TensorBoard"


def test_unsupported_options_are_ignored_with_a_warning(tmp_path):
    pytest.importorskip("tensorboard")
    with pytest.warns(
        UserWarning, match=r"scalars only; ignoring histogram_freq=1, write_images=True\.$"
    ):
        TensorBoard(tmp_path, histogram_freq=1, write_images=True, write_graph=True)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"log_dir": 1}, ArgumentTypeError, r"`log_dir` to be a str or os\.PathLike"),
        ({"update_freq": 0}, ArgumentError, r"`update_freq` to be >= 1\. Received: update_freq=0"),
        ({"update_freq": "step"}, ArgumentError, r"`update_freq` to be 'epoch', 'batch' or an int"),
        (
            {"update_freq": 1.5},
            ArgumentTypeError,
            r"`update_freq` to be 'epoch', 'batch' or an int",
        ),
        ({"histogram_freq": -1}, ArgumentError, r"`histogram_freq` to be >= 0"),
        (
            {"write_steps_per_second": 1},
            ArgumentTypeError,
            r"`write_steps_per_second` to be a bool",
        ),
    ],
)
def test_invalid_arguments(kwargs, error, message):
    pytest.importorskip("tensorboard")
    with pytest.raises(error, match=f"^TensorBoard: expected {message}"):
        TensorBoard(**kwargs)


def test_missing_tensorboard_package_says_how_to_install_it(monkeypatch):
    # As if tensorboard were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'epochal\[tensorboard\]'") as info:
        TensorBoard("logs")
    assert info.value.name == "tensorboard"


# -- a run killed and resumed (issue 9, break 10) -----------------------------
def _points(log_dir):
    """Every scalar point in the event files, as (folder, tag, step, value), in file order."""
    from tensorboard.compat.proto import event_pb2

    from epochal.callbacks.tensorboard import _records

    found = []
    for folder in ("train", "validation"):
        path = log_dir / folder
        for name in sorted(p.name for p in path.iterdir()) if path.exists() else []:
            for _, payload in _records((path / name).read_bytes()):
                event = event_pb2.Event.FromString(payload)
                for value in event.summary.value:
                    found.append((folder, value.tag, event.step, value.simple_value))
    return found


def _tb_fit(log_dir, root, **kwargs):
    import numpy as np
    import torch
    from torch import nn

    import epochal as ep

    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(3, 1), nn.Sigmoid()), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    callback = TensorBoard(log_dir, update_freq=2)
    try:
        model.fit(
            x,
            y,
            epochs=4,
            batch_size=8,
            verbose=0,
            validation_split=0.25,
            callbacks=[callback],
            checkpoint_dir=root,
            **kwargs,
        )
    finally:
        callback._close_writers()  # a killed process closes them by dying


@pytest.mark.parametrize("die_at", [1, 4, 7, 12])  # the first checkpoint, later ones
@pytest.mark.parametrize("checkpoint_steps", [None, 3])
def test_a_resumed_run_writes_each_point_once(tmp_path, monkeypatch, die_at, checkpoint_steps):
    pytest.importorskip("tensorboard")
    import epochal.checkpoint as checkpoint_mod

    _tb_fit(tmp_path / "reference", tmp_path / "ref-run", checkpoint_steps=checkpoint_steps)
    real, calls = checkpoint_mod._write_bytes, {"n": 0}

    def dying(file, data):
        calls["n"] += 1
        if calls["n"] == die_at:
            raise KeyboardInterrupt("killed while writing a checkpoint")
        real(file, data)

    monkeypatch.setattr(checkpoint_mod, "_write_bytes", dying)
    with pytest.raises(KeyboardInterrupt):
        _tb_fit(tmp_path / "logs", tmp_path / "run", checkpoint_steps=checkpoint_steps)
    monkeypatch.undo()
    _tb_fit(tmp_path / "logs", tmp_path / "run", checkpoint_steps=checkpoint_steps)

    got = _points(tmp_path / "logs")
    keys = [(folder, tag, step) for folder, tag, step, _ in got]
    assert len(keys) == len(set(keys)), "a point was written twice"
    assert sorted(got) == sorted(_points(tmp_path / "reference"))
