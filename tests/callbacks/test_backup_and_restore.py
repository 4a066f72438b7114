"""BackupAndRestore: Keras's arguments, as fit(checkpoint_dir=...) with exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import epochal as ep
from epochal.errors import ArgumentError, ArgumentTypeError

X = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
Y = (X[:, :1] > 0).astype("float32")


def build():
    torch.manual_seed(0)
    model = ep.Model(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)))
    model.compile(optimizer="adam", loss="bce", seed=0)
    return model


def weights(model):
    return [t.clone() for t in model.module.state_dict().values()]


def test_backs_up_like_checkpoint_dir_and_deletes_at_the_end(tmp_path):
    backup = tmp_path / "backup"
    model = build()
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[ep.BackupAndRestore(backup)])
    assert not backup.exists()  # delete_checkpoint=True: a rerun starts afresh
    reference = build()
    reference.fit(X, Y, epochs=3, verbose=0)
    for a, b in zip(weights(model), weights(reference), strict=True):
        assert torch.equal(a, b)


def test_a_rerun_after_an_interruption_resumes_exactly(tmp_path):
    backup = tmp_path / "backup"

    class Crash(ep.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    first = build()
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, Y, epochs=4, verbose=0, callbacks=[ep.BackupAndRestore(backup), Crash()])
    assert backup.exists()
    rerun = build()  # the script started again
    rerun.fit(X, Y, epochs=4, verbose=0, callbacks=[ep.BackupAndRestore(backup)])
    reference = build()
    reference.fit(X, Y, epochs=4, verbose=0)
    for a, b in zip(weights(rerun), weights(reference), strict=True):
        assert torch.equal(a, b)
    assert rerun.history.history == reference.history.history


def test_save_freq_in_batches_and_keeping_the_backup(tmp_path):
    backup = tmp_path / "b"
    model = build()
    cb = ep.BackupAndRestore(backup, save_freq=3, delete_checkpoint=False)
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0, callbacks=[cb])
    names = sorted(p.name for p in backup.iterdir() if p.name.startswith("epoch-"))
    assert any("-step-" in n for n in names)


def test_bad_arguments():
    with pytest.raises(ArgumentError, match="save_freq"):
        ep.BackupAndRestore("d", save_freq=0)
    with pytest.raises(ArgumentError, match="save_freq=False"):
        ep.BackupAndRestore("d", save_freq=False)
    with pytest.raises(ArgumentTypeError, match="backup_dir"):
        ep.BackupAndRestore(None)
    with pytest.raises(ArgumentTypeError, match="delete_checkpoint"):
        ep.BackupAndRestore("d", delete_checkpoint="yes")
    model = build()
    with pytest.raises(ArgumentError, match="one way of backing the run up"):
        model.fit(X, Y, verbose=0, checkpoint_dir="x", callbacks=[ep.BackupAndRestore("d")])
    assert model.run.epoch == 0
