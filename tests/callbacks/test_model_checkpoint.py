"""ModelCheckpoint: Keras arguments, epochal checkpoint directories, run-owned best value."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import epochal as ep
from _util import make_binary, state_equal
from epochal.callbacks import CallbackList, ModelCheckpoint
from epochal.checkpoint import verify_checkpoint
from epochal.errors import ArgumentError

_X, _Y = make_binary(n=240, features=6, seed=31)
_Y[:40] = 1 - _Y[:40]  # label noise: validation loss turns up after a while
X, Y, XV, YV = _X[:160], _Y[:160], _X[160:], _Y[160:]


def module() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())


def build() -> ep.Model:
    model = ep.Model(module(), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], learning_rate=0.05, seed=0)
    return model


def test_every_epoch_with_formatted_names(tmp_path):
    model = build()
    ckpt = ModelCheckpoint(str(tmp_path / "e{epoch:02d}-{val_loss:.3f}"), save_freq="epoch")
    history = model.fit(X, Y, epochs=3, verbose=0, validation_data=(XV, YV), callbacks=[ckpt])
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = [f"e{i + 1:02d}-{v:.3f}" for i, v in enumerate(history.history["val_loss"])]
    assert names == expected
    for name in names:
        verify_checkpoint(tmp_path / name)


def test_save_best_only_keeps_the_best_epochs_weights(tmp_path):
    model = build()
    ckpt = ModelCheckpoint(
        tmp_path / "best", monitor="val_loss", save_best_only=True, save_weights_only=True
    )
    seen: list[dict] = []

    class Keep(ep.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append({k: v.clone() for k, v in self.model.module.state_dict().items()})

    history = model.fit(
        X, Y, epochs=12, verbose=0, validation_data=(XV, YV), callbacks=[ckpt, Keep()]
    )
    val = history.history["val_loss"]
    best = min(range(len(val)), key=val.__getitem__)
    assert best < len(val) - 1, "validation loss must turn up for this test to mean something"
    restored = ep.Model(module(), device="cpu")
    restored.load_weights(tmp_path / "best")
    assert state_equal(restored.module.state_dict(), seen[best])
    assert ckpt.best == pytest.approx(val[best])


def test_full_checkpoint_loads_and_trains_on(tmp_path):
    model = build()
    model.fit(
        X, Y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "full", monitor="loss")]
    )
    loaded = ep.Model.load(tmp_path / "full", module=module())
    assert loaded.run.epoch == 2 and loaded.history.history == model.history.history
    loaded.fit(X, Y, epochs=1, verbose=0)
    assert loaded.run.epoch == 3


def test_initial_value_threshold_blocks_worse_saves(tmp_path):
    model = build()
    ckpt = ModelCheckpoint(
        tmp_path / "m", monitor="val_loss", save_best_only=True, initial_value_threshold=0.0
    )
    model.fit(X, Y, epochs=2, verbose=0, validation_data=(XV, YV), callbacks=[ckpt])
    assert not (tmp_path / "m").exists()


def test_save_freq_in_batches(tmp_path):
    model = build()
    ckpt = ModelCheckpoint(str(tmp_path / "b{epoch}"), monitor="loss", save_freq=4)
    model.fit(X, Y, epochs=2, batch_size=32, verbose=0, callbacks=[ckpt])  # 5 batches an epoch
    # Saves after batches 4 and 8 (run epochs 0 and 1, named 1-based).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b1", "b2"]
    assert CallbackList([ModelCheckpoint(tmp_path / "x")]).wants("on_train_batch_end") is False
    assert CallbackList([ckpt]).wants("on_train_batch_end") is True


def test_best_belongs_to_the_run_across_fit_calls(tmp_path):
    model = build()
    ckpt = ModelCheckpoint(tmp_path / "m", monitor="val_loss", save_best_only=True)
    for _ in range(4):
        model.fit(X, Y, epochs=1, verbose=0, validation_data=(XV, YV), callbacks=[ckpt])
    assert ckpt.best == pytest.approx(min(model.history.history["val_loss"]))


def test_verbose_messages(tmp_path, capsys):
    model = build()
    ckpt = ModelCheckpoint(tmp_path / "m", monitor="val_loss", save_best_only=True, verbose=1)
    model.fit(X, Y, epochs=1, verbose=0, validation_data=(XV, YV), callbacks=[ckpt])
    assert "Epoch 1: val_loss improved from inf to" in capsys.readouterr().out


def test_bad_arguments_and_unknown_key(tmp_path):
    with pytest.raises(
        ArgumentError, match=r"expected `save_freq` to be 'epoch' or a positive int"
    ):
        ModelCheckpoint(tmp_path / "m", save_freq=0)
    model = build()
    with pytest.raises(ArgumentError, match=r"names 'val_acc', which is not in the logs"):
        model.fit(
            X, Y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "{val_acc}"))]
        )


# -- every save continues the run: Model.load + fit ends with the uninterrupted bits ------
def _run_module() -> nn.Module:
    torch.manual_seed(4)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))


def _fit_kwargs(epochs: int, callbacks: list) -> dict:
    return dict(
        x=X,
        y=Y,
        epochs=epochs,
        batch_size=16,
        verbose=0,
        validation_data=(XV, YV),
        callbacks=callbacks,
    )


def _stateful() -> list:
    return [
        ep.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
        ep.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5),
    ]


def _reference(save: ep.ModelCheckpoint) -> ep.Model:
    model = ep.Model(_run_module(), device="cpu")
    model.compile(optimizer="adam", loss="bce", learning_rate=0.05, seed=2)
    model.fit(**_fit_kwargs(14, [save, *_stateful()]))
    return model


def _same(a: ep.Model, b: ep.Model) -> None:
    assert a.history.history == b.history.history
    assert (a.run.epoch, a.run.step, a.run.stopped) == (b.run.epoch, b.run.step, b.run.stopped)
    for (name, ta), tb in zip(
        a.module.state_dict().items(), b.module.state_dict().values(), strict=True
    ):
        assert torch.equal(ta, tb), name


def test_an_epoch_save_taken_before_other_callbacks_continues_the_run(tmp_path):
    ref = _reference(ep.ModelCheckpoint(str(tmp_path / "e{epoch}")))
    assert ref.run.stopped and ref.run.epoch >= 4
    for saved_epoch in (2, ref.run.epoch - 1):
        loaded = ep.Model.load(tmp_path / f"e{saved_epoch}", module=_run_module())
        assert loaded.run.epoch == saved_epoch
        loaded.fit(**_fit_kwargs(14 - saved_epoch, _stateful()))
        _same(ref, loaded)


def test_a_save_freq_save_continues_the_epoch_from_its_step(tmp_path):
    ref = _reference(ep.ModelCheckpoint(str(tmp_path / "s{epoch}"), save_freq=7))
    loaded = ep.Model.load(tmp_path / "s2", module=_run_module())  # step 14: epoch 2, batch 4
    assert (loaded.run.epoch, loaded.run.step) == (1, 14)
    loaded.fit(**_fit_kwargs(14 - 1, _stateful()))
    _same(ref, loaded)


def test_model_save_inside_on_epoch_end_holds_the_state_after_every_callback(tmp_path):
    saves = []

    class SaveFirst(ep.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                saves.append(self.model.save(tmp_path / "mine"))

    ref = ep.Model(_run_module(), device="cpu")
    ref.compile(optimizer="adam", loss="bce", learning_rate=0.05, seed=2)
    ref.fit(**_fit_kwargs(14, [SaveFirst(), *_stateful()]))
    loaded = ep.Model.load(saves[0], module=_run_module())
    loaded.fit(**_fit_kwargs(14 - 3, _stateful()))
    _same(ref, loaded)


def test_unknown_mode_warns_and_falls_back_to_auto(tmp_path):
    with pytest.warns(RuntimeWarning, match="mode 'best' is unknown, falling back to 'auto'"):
        ckpt = ModelCheckpoint(tmp_path / "m", mode="best", save_best_only=True)
    assert ckpt.mode == "auto"
    model = build()
    model.fit(X, Y, epochs=1, verbose=0, validation_data=(XV, YV), callbacks=[ckpt])
    assert (tmp_path / "m").exists()


def test_missing_monitor_warns_and_saves_as_keras(tmp_path):
    model = build()
    ckpt = ModelCheckpoint(tmp_path / "e{epoch}", monitor="val_accuracy", save_best_only=True)
    with pytest.warns(RuntimeWarning, match="val_accuracy"):  # no validation data: never logged
        model.fit(X, Y, epochs=2, verbose=0, callbacks=[ckpt])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1", "e2"]


def test_validation_freq_epochs_without_the_monitor_do_not_save(tmp_path):
    model = build()
    ckpt = ModelCheckpoint(tmp_path / "e{epoch}", monitor="val_loss", save_best_only=True)
    model.fit(
        X, Y, epochs=4, verbose=0, validation_data=(XV, YV), validation_freq=2, callbacks=[ckpt]
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "e1" not in names and "e3" not in names and "e2" in names


def test_batch_is_formatted_one_based(tmp_path):
    model = build()
    ckpt = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}"), monitor="loss", save_freq=2)
    model.fit(X, Y, epochs=1, batch_size=32, verbose=0, callbacks=[ckpt])  # 5 batches
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1-b2", "e1-b4"]
