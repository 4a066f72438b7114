"""CSVLogger: Keras's file format, and one file per run across fit calls."""

from __future__ import annotations

import json

import pytest

from epochal.callbacks.csv_logger import CSVLogger
from epochal.errors import ArgumentError, ArgumentTypeError


def fit(callback, model, params, epochs, state=None):
    """One fit call as the callback list makes it; returns the state the run keeps."""
    callback.set_model(model)
    callback.set_params(params)
    if state is None:
        callback.reset_state()
    else:
        callback.load_state_dict(state)
    callback.on_train_begin()
    for epoch, logs in epochs:
        callback.on_epoch_end(epoch, dict(logs))
    callback.on_train_end()
    return json.loads(json.dumps(callback.state_dict()))


def rows(path):
    return path.read_text(encoding="utf-8").splitlines()


def epoch_logs(epoch, **extra):
    return (epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0, **extra})


def test_header_is_epoch_then_sorted_keys(tmp_path, model, params):
    path = tmp_path / "log.csv"
    logs = {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.25, "val_accuracy": 0.125}
    fit(CSVLogger(path), model, {**params, "metrics": list(logs)}, [(0, logs)])
    assert rows(path) == [
        "epoch,accuracy,loss,val_accuracy,val_loss",
        "0,0.75,0.5,0.125,0.25",
    ]


def test_missing_key_is_written_as_na(tmp_path, model, params):
    # Validation every other epoch: val_loss is announced by the fit but
    # absent from epoch 0's logs; the column exists from the start.
    path = tmp_path / "log.csv"
    fit(CSVLogger(path), model, params, [(0, {"loss": 0.5}), (1, {"loss": 0.25, "val_loss": 0.5})])
    assert rows(path) == ["epoch,loss,val_loss", "0,0.5,NA", "1,0.25,0.5"]


def test_each_row_is_flushed(tmp_path, model, params):
    path = tmp_path / "log.csv"
    cb = CSVLogger(path)
    cb.set_model(model)
    cb.set_params(params)
    cb.reset_state()
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.5})
    assert rows(path) == ["epoch,loss,val_loss", "0,0.5,0.5"]
    cb.on_train_end()


def test_file_is_closed_at_train_end_and_reopened_by_the_next_fit(tmp_path, model, params):
    path = tmp_path / "log.csv"
    cb = CSVLogger(path)
    state = fit(cb, model, params, [epoch_logs(0)])
    assert cb._file is None
    fit(cb, model, params, [epoch_logs(1)], state)
    assert len(rows(path)) == 3


def test_separator(tmp_path, model, params):
    path = tmp_path / "log.csv"
    fit(CSVLogger(path, ";"), model, params, [(0, {"loss": 0.5, "val_loss": 1.5})])
    assert rows(path) == ["epoch;loss;val_loss", "0;0.5;1.5"]


def test_folder_is_created(tmp_path, model, params):
    path = tmp_path / "runs" / "exp1" / "log.csv"
    fit(CSVLogger(str(path)), model, params, [epoch_logs(0)])
    assert rows(path)[0] == "epoch,loss,val_loss"


# -- one file per run ---------------------------------------------------------
def test_later_fit_calls_of_a_run_append_under_one_header(tmp_path, model, params):
    path = tmp_path / "log.csv"
    state = fit(CSVLogger(path), model, params, [epoch_logs(0), epoch_logs(1)])
    # a new callback object, as in a fresh process: the run's state carries over
    state = fit(CSVLogger(path), model, params, [epoch_logs(2)], state)
    fit(CSVLogger(path), model, params, [epoch_logs(3)], state)
    lines = rows(path)
    assert lines[0] == "epoch,loss,val_loss"
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2", "3"]


def test_split_run_writes_the_same_file_as_one_fit(tmp_path, model, params):
    epochs = [epoch_logs(e) for e in range(5)]
    whole, split = tmp_path / "whole.csv", tmp_path / "split.csv"
    fit(CSVLogger(whole), model, params, epochs)
    state = None
    for epoch in epochs:
        state = fit(CSVLogger(split), model, params, [epoch], state)
    assert split.read_bytes() == whole.read_bytes()


def test_a_new_run_overwrites_the_file(tmp_path, model, params):
    path = tmp_path / "log.csv"
    cb = CSVLogger(path)
    fit(cb, model, params, [epoch_logs(0), epoch_logs(1)])
    fit(cb, model, params, [epoch_logs(0)])  # state=None: the list resets it
    assert rows(path) == ["epoch,loss,val_loss", "0,1.0,2.0"]


def test_keys_stay_those_of_the_runs_header(tmp_path, model, params):
    path = tmp_path / "log.csv"
    state = fit(CSVLogger(path), model, params, [epoch_logs(0)])
    with pytest.warns(RuntimeWarning, match=r"key 'accuracy' that is not a column"):
        fit(CSVLogger(path), model, params, [epoch_logs(1, accuracy=0.5)], state)
    assert rows(path)[-1] == "1,0.5,2.0"


def test_new_key_warns_once(tmp_path, model, params):
    path = tmp_path / "log.csv"
    epochs = [epoch_logs(0), epoch_logs(1, lr=0.1), epoch_logs(2, lr=0.1)]
    with pytest.warns(RuntimeWarning) as record:
        fit(CSVLogger(path), model, params, epochs)
    assert len(record) == 1


def test_resume_drops_rows_written_after_the_checkpoint(tmp_path, model, params):
    # The process ran epochs 2 and 3 after the checkpoint taken at the end of
    # epoch 1, then died; the resumed run trains epochs 2 and 3 again.
    path = tmp_path / "log.csv"
    cb = CSVLogger(path)
    checkpoint = fit(cb, model, params, [epoch_logs(0), epoch_logs(1)])
    fit(cb, model, params, [(2, {"loss": 9.0}), (3, {"loss": 9.0})], checkpoint)
    fit(CSVLogger(path), model, params, [epoch_logs(2), epoch_logs(3)], checkpoint)
    whole = tmp_path / "whole.csv"
    fit(CSVLogger(whole), model, params, [epoch_logs(e) for e in range(4)])
    assert path.read_bytes() == whole.read_bytes()


def test_file_deleted_between_fit_calls_gets_a_new_header(tmp_path, model, params):
    path = tmp_path / "log.csv"
    state = fit(CSVLogger(path), model, params, [epoch_logs(0)])
    path.unlink()
    fit(CSVLogger(path), model, params, [epoch_logs(1)], state)
    assert rows(path) == ["epoch,loss,val_loss", "1,0.5,2.0"]


# -- append=True --------------------------------------------------------------
def test_append_continues_an_existing_file_without_a_second_header(tmp_path, model, params):
    path = tmp_path / "log.csv"
    path.write_text("epoch,val_loss,loss\n0,2.0,1.0\n", encoding="utf-8")
    fit(CSVLogger(path, append=True), model, params, [epoch_logs(1)])
    # the existing header's column order is kept
    assert rows(path) == ["epoch,val_loss,loss", "0,2.0,1.0", "1,2.0,0.5"]


def test_append_to_a_missing_or_empty_file_writes_the_header(tmp_path, model, params):
    path = tmp_path / "log.csv"
    fit(CSVLogger(path, append=True), model, params, [epoch_logs(0)])
    assert rows(path) == ["epoch,loss,val_loss", "0,1.0,2.0"]
    empty = tmp_path / "empty.csv"
    empty.touch()
    fit(CSVLogger(empty, append=True), model, params, [epoch_logs(0)])
    assert rows(empty) == ["epoch,loss,val_loss", "0,1.0,2.0"]


def test_append_keeps_earlier_runs_when_a_run_resumes(tmp_path, model, params):
    # Two runs appended to one file; the second resumes from its checkpoint:
    # only its own rows are candidates for dropping, not the first run's.
    path = tmp_path / "log.csv"
    fit(CSVLogger(path, append=True), model, params, [epoch_logs(e) for e in range(3)])
    checkpoint = fit(CSVLogger(path, append=True), model, params, [epoch_logs(0)])
    fit(CSVLogger(path, append=True), model, params, [epoch_logs(1), epoch_logs(2)], checkpoint)
    first_column = [line.split(",")[0] for line in rows(path)]
    assert first_column == ["epoch", "0", "1", "2", "0", "1", "2"]


def test_append_to_a_file_without_an_epoch_header(tmp_path, model, params):
    path = tmp_path / "log.csv"
    path.write_text("some notes\n", encoding="utf-8")
    fit(CSVLogger(path, append=True), model, params, [epoch_logs(0)])
    assert rows(path) == ["some notes", "0,1.0,2.0"]


# -- state and arguments ------------------------------------------------------
def test_state_records_the_columns(tmp_path, model, params):
    path = tmp_path / "log.csv"
    cb = CSVLogger(path)
    assert cb.state_dict() == {"keys": None, "start": 0}
    state = fit(cb, model, params, [epoch_logs(0)])
    assert state == {"keys": ["loss", "val_loss"], "start": len("epoch,loss,val_loss\n")}


def test_keras_signature(tmp_path):
    cb = CSVLogger(tmp_path / "log.csv", ";", append=True)
    assert (cb.separator, cb.append) == (";", True)
    assert CSVLogger("log.csv").separator == ","
    assert CSVLogger("log.csv").append is False


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"filename": 3}, ArgumentTypeError, r"`filename` to be a str or os\.PathLike.*filename=3"),
        ({"filename": "a.csv", "separator": 1}, ArgumentTypeError, r"`separator` to be a str"),
        ({"filename": "a.csv", "separator": ";;"}, ArgumentError, r"`separator` to be one char"),
        ({"filename": "a.csv", "separator": "\n"}, ArgumentError, r"`separator` to be one char"),
        ({"filename": "a.csv", "append": "yes"}, ArgumentTypeError, r"`append` to be a bool"),
    ],
)
def test_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"^CSVLogger: expected {message}"):
        CSVLogger(**kwargs)


# -- a run killed and restarted (issue 9, break 10) ---------------------------
def _real_fit(path, root, epochs=3, **kwargs):
    """A fit with a CSVLogger and a checkpoint_dir; a kill leaves its file as a dead process would."""
    logger = CSVLogger(path, **kwargs)
    try:
        _fit_with(logger, root, epochs)
    finally:
        logger._close()  # the test process lives on; a killed one closes by dying


def _fit_with(logger, root, epochs):
    import numpy as np
    import torch
    from torch import nn

    import epochal as ep

    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(3, 1), nn.Sigmoid()), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    model.fit(x, y, epochs=epochs, verbose=0, callbacks=[logger], checkpoint_dir=root)


def _die_at_write(monkeypatch, number):
    import epochal.checkpoint as checkpoint_mod

    real = checkpoint_mod._write_bytes
    calls = {"n": 0}

    def dying(file, data):
        calls["n"] += 1
        if calls["n"] == number:
            raise KeyboardInterrupt("killed while writing a checkpoint")
        real(file, data)

    monkeypatch.setattr(checkpoint_mod, "_write_bytes", dying)


@pytest.mark.parametrize("append", [True, False])
@pytest.mark.parametrize("die_at", [1, 2, 3, 5])  # inside the first or a later checkpoint
def test_a_run_killed_while_checkpointing_logs_each_epoch_once(
    tmp_path, monkeypatch, append, die_at
):
    reference = tmp_path / "reference.csv"
    _real_fit(reference, tmp_path / "ref-run", append=append)
    path = tmp_path / "log.csv"
    _die_at_write(monkeypatch, die_at)
    with pytest.raises(KeyboardInterrupt):
        _real_fit(path, tmp_path / "run", append=append)
    monkeypatch.undo()
    _real_fit(path, tmp_path / "run", append=append)  # the script, run again
    assert [r.split(",")[0] for r in rows(path)] == ["epoch", "0", "1", "2"]
    assert rows(path) == rows(reference)


def test_append_keeps_another_runs_rows_when_a_run_restarts(tmp_path, monkeypatch):
    path = tmp_path / "log.csv"
    _real_fit(path, tmp_path / "first", epochs=2, append=True)
    _die_at_write(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        _real_fit(path, tmp_path / "second", append=True)
    monkeypatch.undo()
    _real_fit(path, tmp_path / "second", append=True)
    assert [r.split(",")[0] for r in rows(path)] == ["epoch", "0", "1", "0", "1", "2"]
