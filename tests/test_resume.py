"""Saving, loading and resuming a run: same bits as a run never interrupted."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import Dataset

import epochal as ep
import epochal.checkpoint as checkpoint_mod
from _util import make_binary, state_equal
from epochal.errors import ArgumentError, CheckpointError

_X, _Y = make_binary(n=120, features=6, seed=21)
_Y[np.random.default_rng(0).random(120) < 0.25] = (
    1.0 - _Y[np.random.default_rng(0).random(120) < 0.25]
)
X, Y, XV, YV = _X[:80], _Y[:80], _X[80:], _Y[80:]  # noisy labels: the run overfits and stops


def module(seed: int = 5) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1), nn.Sigmoid()
    )


def build(seed: int = 5) -> ep.Model:
    model = ep.Model(module(seed), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], learning_rate=0.05, seed=seed)
    return model


class Crash(ep.Callback):
    """Dies (raises) at a chosen global step or validation batch: a process killed there."""

    def __init__(
        self, at_step: int | None = None, in_validation_of_epoch: int | None = None
    ) -> None:
        super().__init__()
        self.at_step = at_step
        self.in_validation_of_epoch = in_validation_of_epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.at_step is not None and self.model.run.step == self.at_step:
            raise KeyboardInterrupt("killed")

    def on_test_batch_end(self, batch, logs=None):
        if (
            self.in_validation_of_epoch is not None
            and self.model.run.epoch == self.in_validation_of_epoch
        ):
            raise KeyboardInterrupt("killed in validation")


def script(ckdir: Path | None, crash: Crash | None = None, *, loop: bool = False) -> ep.Model:
    """The user's training script; run again after a crash, it resumes."""
    model = build()
    cbs = [
        ep.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
        ep.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5),
        crash or Crash(),
    ]
    kwargs = dict(
        batch_size=16,
        verbose=0,
        validation_data=(XV, YV),
        callbacks=cbs,
        checkpoint_dir=ckdir,
        checkpoint_steps=3 if ckdir else None,
    )
    if loop:
        for _ in range(9):
            model.fit(X, Y, epochs=1, **kwargs)
            if model.stop_training:
                break
    else:
        model.fit(X, Y, epochs=9, **kwargs)
    return model


def assert_same(a: ep.Model, b: ep.Model) -> None:
    assert state_equal(a.module.state_dict(), b.module.state_dict())
    assert a.history.history == b.history.history
    assert (a.run.epoch, a.run.step, a.run.stopped) == (b.run.epoch, b.run.step, b.run.stopped)
    assert repr(a.optimizer.state_dict()) == repr(b.optimizer.state_dict())


@pytest.fixture(scope="module")
def reference() -> ep.Model:
    model = script(None)
    assert model.run.stopped and model.run.epoch < 9  # early stopping is part of the run
    return model


def run_with_crashes(tmp_path: Path, crashes: list[Crash], *, loop: bool = False) -> ep.Model:
    ckdir = tmp_path / "run"
    for crash in crashes:
        with pytest.raises(KeyboardInterrupt):
            script(ckdir, crash, loop=loop)
    return script(ckdir, loop=loop)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.integers(1, 10_000), min_size=1, max_size=3, unique=True), loop=st.booleans()
)
def test_crashes_at_any_steps_resume_to_the_same_bits(tmp_path_factory, reference, steps, loop):
    steps = {1 + s % reference.run.step for s in steps}  # steps the run really reaches
    tmp = tmp_path_factory.mktemp("crash")
    resumed = run_with_crashes(tmp, [Crash(at_step=s) for s in sorted(steps)], loop=loop)
    assert_same(reference, resumed)


def test_crash_during_validation_resumes(tmp_path, reference):
    resumed = run_with_crashes(
        tmp_path, [Crash(in_validation_of_epoch=1), Crash(in_validation_of_epoch=3)]
    )
    assert_same(reference, resumed)


def test_crash_during_a_checkpoint_write_resumes(tmp_path, reference, monkeypatch):
    ckdir = tmp_path / "run"
    real = checkpoint_mod._write_bytes
    calls = {"n": 0}

    def dying_write(file, data):
        calls["n"] += 1
        if calls["n"] == 14:  # part-way through some checkpoint
            raise KeyboardInterrupt("killed while writing")
        real(file, data)

    monkeypatch.setattr(checkpoint_mod, "_write_bytes", dying_write)
    with pytest.raises(KeyboardInterrupt):
        script(ckdir)
    monkeypatch.setattr(checkpoint_mod, "_write_bytes", real)
    assert_same(reference, script(ckdir))


def test_a_finished_run_is_not_trained_again(tmp_path, reference):
    ckdir = tmp_path / "run"
    script(ckdir)
    again = script(ckdir)
    assert_same(reference, again)


def test_damaged_newest_checkpoint_falls_back_with_a_warning(tmp_path, reference):
    ckdir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        script(ckdir, Crash(at_step=20))
    newest = checkpoint_mod.CheckpointDir(ckdir).list()[-1]
    weights = newest / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match=newest.name):
        resumed = script(ckdir)
    assert_same(reference, resumed)


def test_keep_checkpoints_bounds_the_directory(tmp_path):
    model = build()
    model.fit(X, Y, epochs=5, verbose=0, checkpoint_dir=tmp_path / "k", keep_checkpoints=2)
    kept = checkpoint_mod.CheckpointDir(tmp_path / "k").list()
    assert [p.name for p in kept] == ["epoch-000004", "epoch-000005"]


def test_checkpoint_from_another_seed_is_refused(tmp_path):
    build(5).fit(X, Y, epochs=1, verbose=0, checkpoint_dir=tmp_path / "r")
    other = ep.Model(module(), device="cpu")
    other.compile(optimizer="adam", loss="bce", seed=6)
    with pytest.raises(
        CheckpointError, match=r"holds a run with other settings.*seed: 5 in the directory, 6 now"
    ):
        other.fit(X, Y, epochs=1, verbose=0, checkpoint_dir=tmp_path / "r")


def test_save_then_load_continues_bit_for_bit(tmp_path):
    whole = build()
    whole.fit(X, Y, epochs=5, batch_size=16, verbose=0, validation_data=(XV, YV))
    first = build()
    first.fit(X, Y, epochs=3, batch_size=16, verbose=0, validation_data=(XV, YV))
    first.save(tmp_path / "saved")
    torch.rand(100)  # another process would have another RNG state
    loaded = ep.Model.load(tmp_path / "saved", module=module(seed=99))
    assert loaded.history.history == first.history.history
    assert loaded.run.epoch == 3
    loaded.fit(X, Y, epochs=2, batch_size=16, verbose=0, validation_data=(XV, YV))
    assert_same(whole, loaded)


def test_load_restores_the_precision_setting(tmp_path):
    model = ep.Model(module(), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=3, precision="bf16-mixed")
    model.fit(X, Y, epochs=1, verbose=0)
    model.save(tmp_path / "m")
    loaded = ep.Model.load(tmp_path / "m", module=module())
    assert loaded._compiled is not None and loaded._compiled.precision == "bf16-mixed"


def test_load_with_compile_arguments_for_callables(tmp_path):
    model = ep.Model(module(), device="cpu")
    model.compile(optimizer=lambda p: torch.optim.SGD(p, lr=0.1), loss="bce", seed=1)
    model.fit(X, Y, epochs=2, verbose=0)
    model.save(tmp_path / "m")
    with pytest.warns(RuntimeWarning, match="the weights are loaded, the run is not"):
        weights_only = ep.Model.load(tmp_path / "m", module=module(seed=7))
    assert state_equal(weights_only.module.state_dict(), model.module.state_dict())
    full = ep.Model.load(
        tmp_path / "m",
        module=module(seed=7),
        optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
        loss="bce",
    )
    assert full.run.epoch == 2 and full.run.seed == 1


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.environ.get("EVIL_MARKER", "/tmp/x"),))


def test_loading_never_unpickles_arbitrary_objects(tmp_path, monkeypatch):
    model = build()
    model.fit(X, Y, epochs=1, verbose=0)
    path = model.save(tmp_path / "m")
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    state = path / "state.pt"
    with state.open("wb") as fh:
        pickle.dump({"optimizer": Evil()}, fh)
    # Re-sign the manifest so only the unpickling defence stands in the way.
    import hashlib
    import json

    manifest = json.loads((path / "manifest.json").read_text())
    data = state.read_bytes()
    manifest["files"]["state.pt"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError):
        ep.Model.load(path, module=module())
    assert not marker.exists()


def test_disk_full_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import errno

    model = build()
    model.fit(X, Y, epochs=1, verbose=0)
    path = model.save(tmp_path / "m")
    before = (path / "manifest.json").read_bytes()
    model.fit(X, Y, epochs=1, verbose=0)

    def full(file, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_mod, "_write_bytes", full)
    with pytest.raises(CheckpointError, match="disk is full"):
        model.save(tmp_path / "m")
    assert (path / "manifest.json").read_bytes() == before
    checkpoint_mod.verify_checkpoint(path)


class Squares(Dataset):
    def __init__(self) -> None:
        self.reads: list[int] = []

    def __len__(self) -> int:
        return len(X)

    def __getitem__(self, i: int):
        self.reads.append(i)
        return torch.from_numpy(X[i]), torch.tensor(Y[i])


def test_map_dataset_resumes_mid_epoch_without_reading_skipped_samples(tmp_path):
    def run(ckdir, crash=None, data=None):
        model = build()
        model.fit(
            data or Squares(),
            epochs=2,
            batch_size=16,
            verbose=0,
            checkpoint_dir=ckdir,
            checkpoint_steps=2 if ckdir else None,
            callbacks=[crash or Crash()],
        )
        return model

    reference = run(None)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "d", Crash(at_step=7))
    data = Squares()
    resumed = run(tmp_path / "d", data=data)
    assert state_equal(reference.module.state_dict(), resumed.module.state_dict())
    # Step 6 was checkpointed: epoch 2 resumes at its batch 1, so besides the two samples
    # read for the checks before training, only its 4 remaining batches are read.
    assert data.reads[:2] == [0, 1]
    assert len(data.reads[2:]) == 4 * 16 and len(set(data.reads[2:])) == 64


def test_step_checkpoints_need_indexable_data(tmp_path):
    model = build()
    batches = [(X[i : i + 16], Y[i : i + 16]) for i in range(0, 80, 16)]
    with pytest.raises(
        ArgumentError, match=r"`checkpoint_steps` needs in-memory data or a map-style Dataset"
    ):
        model.fit(batches, epochs=1, verbose=0, checkpoint_dir=tmp_path, checkpoint_steps=2)


# -- replay: a resumed script sees, at the end of each replayed call, what it saw --------
class DieAt(ep.Callback):
    """Raises KeyboardInterrupt (a kill) at the run's global step ``at``, or in on_train_end."""

    def __init__(self, at: int | None = None, at_train_end_when_stopped: bool = False) -> None:
        super().__init__()
        self.at = at
        self.at_train_end_when_stopped = at_train_end_when_stopped

    def on_train_batch_end(self, batch, logs=None):
        if self.at is not None and self.model.run.step == self.at:
            raise KeyboardInterrupt("killed")

    def on_train_end(self, logs=None):
        if self.at_train_end_when_stopped and self.model.stop_training:
            raise KeyboardInterrupt("killed after the stopping epoch's checkpoint")


def build_slow(seed: int = 5) -> ep.Model:
    model = ep.Model(module(seed), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], learning_rate=0.01, seed=seed)
    return model


def killed_then_rerun(script, tmp_path: Path, kills: list[DieAt]):
    """Run ``script(ckdir, killer)`` once per kill (each dies), then once to the end."""
    ckdir = tmp_path / "run"
    for killer in kills:
        with pytest.raises(KeyboardInterrupt):
            script(ckdir, killer)
    return script(ckdir, DieAt())


def lr_halving_script(ckdir, killer):
    """Halves the learning rate by hand between calls."""
    model = build()
    seen = []
    for _ in range(4):
        h = model.fit(
            X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[killer], checkpoint_dir=ckdir
        )
        seen.append((h.history["loss"], model.optimizer.param_groups[0]["lr"]))
        for group in model.optimizer.param_groups:
            group["lr"] *= 0.5
    return model, seen


@pytest.mark.parametrize("at", [3, 12, 17, 26])
def test_a_learning_rate_lowered_between_calls_is_lowered_once_after_a_restart(tmp_path, at):
    reference, ref_seen = lr_halving_script(None, DieAt())
    resumed, seen = killed_then_rerun(lr_halving_script, tmp_path, [DieAt(at=at)])
    assert seen == ref_seen
    assert resumed.optimizer.param_groups[0]["lr"] == reference.optimizer.param_groups[0]["lr"]
    assert_same(reference, resumed)


def new_phase_script(ckdir, killer):
    """Early stopping, then a fresh early-stopping phase between calls."""
    model = build_slow()
    kwargs = dict(batch_size=16, verbose=0, validation_data=(XV, YV), checkpoint_dir=ckdir)
    for _ in range(2):
        es = ep.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
        model.fit(X, Y, epochs=20, callbacks=[es, killer], **kwargs)
        model.new_phase()
    return model, None


@pytest.mark.parametrize("at", [4, 25, 60])
def test_new_phase_between_calls_trains_the_same_epochs_after_a_restart(tmp_path, reference, at):
    ref, _ = new_phase_script(None, DieAt())
    resumed, _ = killed_then_rerun(new_phase_script, tmp_path, [DieAt(at=at)])
    assert resumed.run.epoch == ref.run.epoch
    assert_same(ref, resumed)


def manual_early_stopping_script(ckdir, killer):
    """examples/manual_early_stopping.py's loop: get_weights/set_weights by hand."""
    model = build_slow()
    best, best_weights, wait = float("inf"), model.get_weights(), 0
    for _ in range(30):
        h = model.fit(
            X,
            Y,
            epochs=1,
            batch_size=16,
            verbose=0,
            validation_data=(XV, YV),
            callbacks=[killer],
            checkpoint_dir=ckdir,
        )
        val_loss = h.history["val_loss"][0]
        if val_loss < best:
            best, best_weights, wait = val_loss, model.get_weights(), 0
        else:
            wait += 1
            if wait >= 2:
                break
    model.set_weights(best_weights)
    return model, best


def test_the_hand_written_early_stopping_loop_resumes_to_the_same_weights(tmp_path):
    ref, ref_best = manual_early_stopping_script(None, DieAt())
    resumed, best = killed_then_rerun(
        manual_early_stopping_script, tmp_path, [DieAt(at=7), DieAt(at=23), DieAt(at=68)]
    )
    assert best == ref_best
    assert state_equal(ref.module.state_dict(), resumed.module.state_dict())
    assert ref.history.history == resumed.history.history


def es_loop_script(ckdir, killer):
    model = build_slow()
    es = ep.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    for _ in range(30):
        model.fit(
            X,
            Y,
            epochs=1,
            batch_size=16,
            verbose=0,
            validation_data=(XV, YV),
            callbacks=[killer, es],
            checkpoint_dir=ckdir,
        )
        if model.stop_training:
            break
    return model, es


def test_a_fit_one_loop_killed_after_the_stopping_epochs_checkpoint_restores_the_best(tmp_path):
    ref, ref_es = es_loop_script(None, DieAt())
    assert ref.stop_training and ref_es.best_epoch < ref.run.epoch - 1
    resumed, es = killed_then_rerun(
        es_loop_script, tmp_path, [DieAt(at_train_end_when_stopped=True)]
    )
    assert state_equal(ref.module.state_dict(), resumed.module.state_dict())
    assert resumed.history.events == ref.history.events
    assert resumed.history.events["stopped_epoch"] == ref_es.stopped_epoch
    assert es.stopped_epoch == ref_es.stopped_epoch
    assert_same(ref, resumed)


@pytest.mark.parametrize("at", [9, 66])
def test_a_fit_one_loop_with_early_stopping_killed_anywhere_ends_the_same(tmp_path, at):
    ref, _ = es_loop_script(None, DieAt())
    resumed, _ = killed_then_rerun(es_loop_script, tmp_path, [DieAt(at=at)])
    assert_same(ref, resumed)
    assert resumed.history.events == ref.history.events


@pytest.mark.parametrize(
    "script", [lr_halving_script, new_phase_script, manual_early_stopping_script, es_loop_script]
)
def test_a_finished_script_run_again_replays_every_call_as_it_was(tmp_path, script):
    ref, ref_seen = script(None, DieAt())
    script(tmp_path / "run", DieAt())
    again, seen = script(tmp_path / "run", DieAt())
    assert again.run.epoch == ref.run.epoch
    assert state_equal(ref.module.state_dict(), again.module.state_dict())
    assert again.history.history == ref.history.history
    if script is not es_loop_script:
        assert seen == ref_seen


# -- same-process retry ------------------------------------------------------------------
class RaiseOnce(ep.Callback):
    def __init__(self, at_step: int, error: type[BaseException] = KeyboardInterrupt) -> None:
        super().__init__()
        self.at_step, self.error, self.fired = at_step, error, False

    def on_train_batch_end(self, batch, logs=None):
        if not self.fired and self.model.run.step == self.at_step:
            self.fired = True
            raise self.error("interrupted")


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
@pytest.mark.parametrize("at", [2, 8, 14])
def test_rerunning_an_interrupted_fit_in_the_same_process_ends_with_the_same_bits(
    tmp_path, error, at
):
    kwargs = dict(batch_size=16, verbose=0, validation_data=(XV, YV))
    ref = build()
    ref.fit(X, Y, epochs=2, **kwargs)
    ref.fit(X, Y, epochs=3, **kwargs)
    model = build()
    model.fit(X, Y, epochs=2, checkpoint_dir=tmp_path / "r", **kwargs)
    flaky = RaiseOnce(at_step=10 + at, error=error)
    with pytest.raises(error):
        model.fit(X, Y, epochs=3, callbacks=[flaky], checkpoint_dir=tmp_path / "r", **kwargs)
    history = model.fit(X, Y, epochs=3, callbacks=[flaky], checkpoint_dir=tmp_path / "r", **kwargs)
    assert history.epoch == [2, 3, 4]
    assert_same(ref, model)


def test_after_a_callback_raised_without_checkpoints_fit_trains_the_epochs_asked(tmp_path):
    model = build()
    with pytest.raises(RuntimeError):
        model.fit(X, Y, epochs=3, verbose=0, callbacks=[RaiseOnce(at_step=7, error=RuntimeError)])
    reached = model.run.epoch
    history = model.fit(X, Y, epochs=3, verbose=0)
    assert len(history.epoch) == 3
    assert model.run.epoch == reached + 3
