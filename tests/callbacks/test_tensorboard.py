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
