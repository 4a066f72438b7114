"""The continuity promise with step options: clipping, accumulation, schedules, EMA.

Every option keeps state (accumulated gradients, applied-update counts, moving
averages, the schedule's position) that must be part of the run: split ``fit``
calls, a run abandoned mid-call and resumed by a fresh model from its
``checkpoint_dir`` (as a restarted process would; the SIGKILL version is in
tests/kill), and a ``Model.save`` taken inside ``fit`` then loaded and fitted
on, all end with the bits of the uninterrupted run.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import epochal as ep
from epochal._optim_hooks import iterations
from epochal._runio import read_checkpoint
from epochal.keras import optimizers, schedules

# 50 samples in batches of 8: 7 steps an epoch, so accumulation windows of 3
# straddle epoch ends, and step checkpoints every 4 steps fall inside windows.
X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32))[:, None] + 0.1
XV, YV = X[:16] * 0.9, Y[:16]


def _keras(**kwargs):
    return lambda: optimizers.Adam(**{"learning_rate": 0.02, **kwargs})


def _cosine():
    return schedules.CosineDecay(0.02, decay_steps=20, warmup_target=0.05, warmup_steps=6)


OPTIONS = {
    "clipnorm": (_keras(clipnorm=0.05), {}),
    "clipvalue": (_keras(clipvalue=0.01), {}),
    "global_clipnorm": (_keras(global_clipnorm=0.05), {}),
    "accumulation": (_keras(gradient_accumulation_steps=3), {}),
    "schedule": (lambda: optimizers.Adam(learning_rate=_cosine()), {}),
    "ema": (_keras(use_ema=True, ema_momentum=0.8), {}),
    "ema_overwrite": (_keras(use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=4), {}),
    "all": (
        lambda: optimizers.Adam(
            learning_rate=_cosine(),
            global_clipnorm=0.5,
            clipvalue=0.2,
            gradient_accumulation_steps=3,
            use_ema=True,
            ema_momentum=0.8,
            weight_decay=0.01,
        ),
        {},
    ),
    "native": (lambda: "adam", {"clipnorm": 0.05, "gradient_accumulation_steps": 3}),
}


def make(option: str, *, compile: bool = False) -> ep.Model:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
    model = ep.Model(module, device="cpu")
    optimizer, extra = OPTIONS[option]
    kwargs = {"learning_rate": 0.02} if extra else {}
    model.compile(optimizer=optimizer(), loss="mse", seed=5, compile=compile, **kwargs, **extra)
    return model


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs in the abandoned model."""


class KillAt(ep.Callback):
    """Raise `Killed` after the ``at``-th training step of this process (0: never)."""

    def __init__(self, at: int = 0) -> None:
        super().__init__()
        self.at, self.steps = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.at:
            raise Killed


class KillAtEpochEnd(ep.Callback):
    """Raise `Killed` after the ``at``-th epoch end of this process: after its checkpoint."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.epochs = at, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs += 1
        if self.epochs == self.at + 1:  # the previous epoch is checkpointed by now
            raise Killed


def script(
    model: ep.Model, ckdir=None, killer: ep.Callback | None = None, seen: list | None = None
) -> ep.Model:
    """Two fit calls; ``seen`` gets what the script sees after each (weights, rates, history)."""
    for epochs in (3, 2):
        history = model.fit(
            X,
            Y,
            epochs=epochs,
            batch_size=8,
            verbose=0,
            validation_data=(XV, YV),
            callbacks=[killer] if killer is not None else [],
            checkpoint_dir=ckdir,
            checkpoint_steps=4 if ckdir is not None else None,
        )
        if seen is not None:
            seen.append(
                (
                    {k: v.clone() for k, v in model.module.state_dict().items()},
                    [group["lr"] for group in model.optimizer.param_groups],
                    history.history,
                )
            )
    return model


def state(model: ep.Model) -> tuple[dict, dict, dict, int]:
    opt = model.optimizer.state_dict()
    return (
        {k: v.clone() for k, v in model.module.state_dict().items()},
        opt,
        model.history.history,
        model.run.step,
    )


def assert_same(a, b) -> None:
    weights_a, opt_a, hist_a, step_a = a
    weights_b, opt_b, hist_b, step_b = b
    assert step_a == step_b
    assert hist_a == hist_b
    for name in weights_a:
        assert torch.equal(weights_a[name], weights_b[name]), name
    assert_same_tree(opt_a, opt_b)


def assert_same_tree(a, b, where="optimizer") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_tree(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tree(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def references():
    return {}


def reference(references: dict, option: str):
    if option not in references:
        seen: list = []
        references[option] = state(script(make(option), seen=seen))
        references[option + ":seen"] = seen
    return references[option]


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_split_fits_equal_one_fit(option):
    whole = make(option)
    whole.fit(X, Y, epochs=5, batch_size=8, verbose=0, validation_data=(XV, YV))
    split = make(option)
    for n in (2, 1, 2):
        split.fit(X, Y, epochs=n, batch_size=8, verbose=0, validation_data=(XV, YV))
    # The same weights shown, and the same run under them.
    assert_same(state(whole), state(split))
    whole.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    split.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert_same(state(whole), state(split))


@pytest.mark.parametrize("option", sorted(OPTIONS))
@pytest.mark.parametrize("kill", ["step:5", "step:13", "epoch:2", "epoch:3", "step:30"])
def test_abandoned_mid_run_and_resumed_by_a_new_model_ends_with_the_same_bits(
    tmp_path, references, option, kill
):
    """Killed inside an accumulation window (step 5, 13 of 7-step epochs, checkpoints
    every 4 steps), after an epoch checkpoint, between the two calls (epoch 3)."""
    kind, _, at = kill.partition(":")
    killer = KillAt(int(at)) if kind == "step" else KillAtEpochEnd(int(at))
    with pytest.raises(Killed):
        script(make(option), tmp_path, killer)
    gc.collect()
    seen: list = []
    resumed = script(make(option), tmp_path, seen=seen)
    assert_same(state(resumed), reference(references, option))
    # What the resumed script saw at the end of each call (replayed or trained).
    for (weights, lrs, history), (ref_weights, ref_lrs, ref_history) in zip(
        seen, references[option + ":seen"], strict=True
    ):
        assert lrs == ref_lrs and history == ref_history
        for name in ref_weights:
            assert torch.equal(weights[name], ref_weights[name]), name


@pytest.mark.parametrize("option", ["accumulation", "ema", "all", "native"])
def test_a_save_inside_fit_loaded_and_fitted_on_continues_the_run(tmp_path, option):
    saved = tmp_path / "saved"

    class SaveAt(ep.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.save(saved)

    uninterrupted = make(option)
    uninterrupted.fit(
        X, Y, epochs=4, batch_size=8, verbose=0, validation_data=(XV, YV), callbacks=[SaveAt()]
    )
    optimizer, extra = OPTIONS[option]
    kwargs = {"learning_rate": 0.02} if extra else {}
    torch.manual_seed(123)  # another initialization: the load must replace it
    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
    loaded = ep.Model.load(
        saved, module=module, device="cpu", optimizer=optimizer(), loss="mse", **kwargs, **extra
    )
    assert loaded.run.epoch == 2
    loaded.fit(X, Y, epochs=2, batch_size=8, verbose=0, validation_data=(XV, YV))
    assert_same(state(loaded), state(uninterrupted))


def test_native_step_options_are_restored_by_name(tmp_path):
    """A run compiled with names and native step options is rebuilt whole by Model.load."""
    model = make("native")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "run")
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
    loaded = ep.Model.load(tmp_path / "run", module=module, device="cpu")
    loaded.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert_same(state(loaded), state(model))
    assert iterations(loaded.optimizer) == iterations(model.optimizer)


# -- EarlyStopping's restored weights and the EMA: two kinds of shown weights ----
class Trajectory(ep.Callback):
    """The weights of the run at every epoch end (before any are shown)."""

    def __init__(self) -> None:
        super().__init__()
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = {k: v.clone() for k, v in self.model.module.state_dict().items()}


def ema_model() -> ep.Model:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
    model = ep.Model(module, device="cpu")
    # A high rate makes val_loss noisy, so early stopping stops the run early.
    opt = optimizers.SGD(learning_rate=0.08, momentum=0.9, use_ema=True, ema_momentum=0.7)
    model.compile(optimizer=opt, loss="mse", seed=11)
    return model


def es() -> ep.EarlyStopping:
    return ep.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)


def es_loop(model: ep.Model, ckdir=None, extra=()) -> ep.Model:
    stopper = es()
    for _ in range(25):
        model.fit(
            X,
            Y,
            epochs=1,
            batch_size=8,
            verbose=0,
            validation_data=(XV, YV),
            callbacks=[*extra, stopper],
            checkpoint_dir=ckdir,
            checkpoint_steps=4 if ckdir is not None else None,
        )
        if model.stop_training:
            break
    return model


def test_early_stopping_restore_wins_over_the_ema_in_one_fit_and_in_an_epochs_1_loop():
    """As in Keras (the averages are written before on_train_end, where EarlyStopping
    restores): the model shows the best epoch's weights of the run, not the averages."""
    trajectory = Trajectory()
    long = ema_model()
    long.fit(
        X,
        Y,
        epochs=25,
        batch_size=8,
        verbose=0,
        validation_data=(XV, YV),
        callbacks=[es(), trajectory],
    )
    assert long.run.stopped and long.run.epoch < 25, "the case must stop early"
    best = long.history.events["restored_epoch"]
    for name, value in long.module.state_dict().items():
        assert torch.equal(value, trajectory.weights[best][name]), name
    averages = long.optimizer.state_dict()["step_options"]["ema"]
    assert not all(
        torch.equal(p, a) for p, a in zip(long.module.parameters(), averages, strict=True)
    )
    loop = es_loop(ema_model())
    assert_same(state(loop), state(long))
    assert loop.history.events == long.history.events


def test_without_restore_the_ema_is_shown_and_the_run_goes_on_from_its_own_weights():
    trajectory = Trajectory()
    model = ema_model()
    stop = ep.EarlyStopping(monitor="loss", patience=100)
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0, callbacks=[stop, trajectory])
    averages = model.optimizer.state_dict()["step_options"]["ema"]
    for p, a in zip(model.module.parameters(), averages, strict=True):
        assert torch.equal(p, a)
    assert model.run.trajectory is not None
    for name, value in model.run.trajectory.items():
        assert torch.equal(value, trajectory.weights[1][name])


class KillAtTrainEnd(ep.Callback):
    """Raise `Killed` in the ``at``-th call's on_train_end: after its last epoch checkpoint,
    before the callbacks after this one (EarlyStopping's restore) ran."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0

    def on_train_end(self, logs=None):
        self.calls += 1
        if self.calls == self.at:
            raise Killed


@pytest.mark.parametrize("kill", ["step:9", "epoch:2", "train_end:2", "train_end:4"])
def test_early_stopping_loop_with_ema_abandoned_and_resumed_ends_with_the_same_bits(tmp_path, kill):
    whole = es_loop(ema_model())
    kind, _, at = kill.partition(":")
    killers = {"step": KillAt, "epoch": KillAtEpochEnd, "train_end": KillAtTrainEnd}
    killer = killers[kind](int(at))
    with pytest.raises(Killed):
        es_loop(ema_model(), tmp_path, extra=[killer])
    gc.collect()
    resumed = es_loop(ema_model(), tmp_path)
    assert_same(state(resumed), state(whole))
    assert resumed.history.events == whole.history.events


# -- fine-tuning: parameters joining the optimizer later ---------------------------
def finetune(option: str, splits: tuple[int, ...], ckdir=None) -> ep.Model:
    model = make(option)
    first = model.module[0]
    first.requires_grad_(False)
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=ckdir)
    first.requires_grad_(True)
    model.new_phase()
    for n in splits:
        model.fit(X, Y, epochs=n, batch_size=8, verbose=0, checkpoint_dir=ckdir)
    return model


@pytest.mark.parametrize("option", ["accumulation", "ema", "all", "native"])
def test_unfrozen_layers_get_step_options_and_split_invariance_holds(option):
    whole = finetune(option, (3,))
    frozen_then = make(option).module[0].weight
    assert not torch.equal(whole.module[0].weight, frozen_then), "the unfrozen layer trains"
    assert_same(state(whole), state(finetune(option, (1, 2))))
    buffers = whole.optimizer.state_dict()["step_options"]
    n_params = len(list(whole.module.parameters()))
    assert len(buffers["accumulators"]) == len(buffers["ema"]) == n_params


@pytest.mark.parametrize("option", ["accumulation", "all"])
def test_unfrozen_layers_with_step_options_resume_from_a_checkpoint(tmp_path, option):
    whole = finetune(option, (3,))
    finetune(option, (1,), tmp_path)  # a script stopped after its second call
    gc.collect()
    assert_same(state(finetune(option, (1, 2), tmp_path)), state(finetune(option, (1, 2))))
    assert_same(state(finetune(option, (1, 2))), state(whole))


# -- compile=True: the compiled step hands its gradients to the same hooks ------------
def compiled(option: str) -> ep.Model:
    """As `make`, without dropout (the compiled step's dropout is tested in test_step_options)."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    model = ep.Model(module, device="cpu")
    optimizer, extra = OPTIONS[option]
    kwargs = {"learning_rate": 0.02} if extra else {}
    model.compile(optimizer=optimizer(), loss="mse", seed=5, compile=True, **kwargs, **extra)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("option", ["accumulation", "all", "native"])
def test_compiled_step_with_step_options_splits_resumes_and_matches_eager(tmp_path, option):
    whole = script(compiled(option))
    split = compiled(option)
    for n in (1, 2, 2):
        split.fit(X, Y, epochs=n, batch_size=8, verbose=0, validation_data=(XV, YV))
    assert_same(state(split), state(whole))
    with pytest.raises(Killed):
        script(compiled(option), tmp_path, KillAt(13))
    gc.collect()
    assert_same(state(script(compiled(option), tmp_path)), state(whole))
    eager = compiled(option)
    eager.compile(
        optimizer=OPTIONS[option][0](),
        loss="mse",
        seed=5,
        **({"learning_rate": 0.02, **OPTIONS[option][1]} if OPTIONS[option][1] else {}),
    )
    script(eager)
    for a, b in zip(eager.module.parameters(), whole.module.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert iterations(eager.optimizer) == iterations(whole.optimizer)


@pytest.mark.parametrize("option", ["ema", "native"])
def test_loading_a_step_options_run_without_them_is_refused(tmp_path, option):
    model = make(option)
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "run")
    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
    with pytest.raises(ep.errors.CheckpointError, match="step options"):
        ep.Model.load(tmp_path / "run", module=module, optimizer="adam", loss="mse")


@pytest.mark.parametrize("option", ["accumulation", "all"])
def test_a_save_inside_an_accumulation_window_loaded_and_fitted_on_continues_the_run(
    tmp_path, option
):
    """model.save at step 10 (epoch 1, inside a window of 3): the loaded run finishes
    that epoch first, with the gradients it had accumulated."""
    saved = tmp_path / "saved"

    class SaveAtStep(ep.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.run.step == 10:
                self.model.save(saved)

    uninterrupted = make(option)
    uninterrupted.fit(X, Y, epochs=4, batch_size=8, verbose=0, callbacks=[SaveAtStep()])
    optimizer, _ = OPTIONS[option]
    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
    loaded = ep.Model.load(saved, module=module, device="cpu", optimizer=optimizer(), loss="mse")
    assert loaded.run.step == 10
    assert read_checkpoint(saved).state["optimizer"]["param_groups"][0]["accumulated"] == 10 % 3
    loaded.fit(X, Y, epochs=3, batch_size=8, verbose=0)
    assert_same(state(loaded), state(uninterrupted))


class Interrupt(ep.Callback):
    """Raise KeyboardInterrupt (Ctrl-C) at this callback's ``at``-th step."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.steps = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("option", ["accumulation", "ema", "all"])
@pytest.mark.parametrize("checkpointed", [False, True])
def test_a_call_interrupted_and_run_again_in_the_same_process_ends_with_the_same_bits(
    tmp_path, references, option, checkpointed
):
    """A notebook cell re-run after Ctrl-C inside an accumulation window: from the newest
    checkpoint of the call, or from the call's start when none was written yet."""
    model = make(option)
    kwargs = dict(batch_size=8, verbose=0, validation_data=(XV, YV), checkpoint_dir=tmp_path)
    kwargs["checkpoint_steps"] = 4 if checkpointed else 1000
    model.fit(X, Y, epochs=3, **kwargs)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, epochs=2, callbacks=[Interrupt(6)], **kwargs)
    model.fit(X, Y, epochs=2, **kwargs)
    assert_same(state(model), reference(references, option))


def test_a_retried_call_after_early_stopping_showed_the_best_weights_goes_on_from_the_run(
    tmp_path,
):
    """The same retry with EarlyStopping's restored weights shown between the calls."""

    def run(ckdir, interrupt: bool) -> ep.Model:
        torch.manual_seed(0)
        module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
        model = ep.Model(module, device="cpu")
        # noisy val_loss (see ema_model): the best of the first 3 epochs is not the last
        opt = optimizers.SGD(learning_rate=0.08, momentum=0.9, gradient_accumulation_steps=2)
        model.compile(optimizer=opt, loss="mse", seed=11)
        kwargs = dict(batch_size=8, verbose=0, validation_data=(XV, YV), checkpoint_dir=ckdir)
        stopper = ep.EarlyStopping(monitor="val_loss", patience=50, restore_best_weights=True)
        model.fit(X, Y, epochs=3, callbacks=[stopper], **kwargs)
        assert model.history.events["restored_epoch"] < 2, "the case must show other weights"
        if interrupt:
            with pytest.raises(KeyboardInterrupt):
                model.fit(X, Y, epochs=2, callbacks=[Interrupt(6), stopper], **kwargs)
        model.fit(X, Y, epochs=2, callbacks=[stopper], **kwargs)
        return model

    assert_same(state(run(tmp_path / "a", True)), state(run(tmp_path / "b", False)))


@pytest.mark.parametrize(
    ("first", "second"),
    [("native", "accumulation"), ("ema", "clipnorm"), ("schedule", "all"), ("clipnorm", None)],
)
def test_a_checkpoint_dir_holding_a_run_with_other_step_options_is_refused(tmp_path, first, second):
    make(first).fit(X, Y, epochs=1, batch_size=8, verbose=0, checkpoint_dir=tmp_path)
    other = make(second) if second is not None else make("native")
    if second is None:  # the same optimizer by name, without the options
        other.compile(optimizer="adam", loss="mse", learning_rate=0.02, seed=5)
    before = [p.detach().clone() for p in other.module.parameters()]
    with pytest.raises(ep.errors.CheckpointError, match="step_options"):
        other.fit(X, Y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(before, other.module.parameters(), strict=True))


def test_the_same_step_options_reuse_their_checkpoint_dir(tmp_path):
    make("all").fit(X, Y, epochs=1, batch_size=8, verbose=0, checkpoint_dir=tmp_path)
    gc.collect()
    make("all").fit(X, Y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=tmp_path)


_WHOLE: dict[tuple[str, int], tuple] = {}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    option=st.sampled_from(sorted(OPTIONS)),
    splits=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    between=st.sampled_from(["nothing", "evaluate", "predict", "draw"]),
)
def test_any_split_with_anything_between_calls_equals_one_fit(option, splits, between):
    """Calls of any lengths, with evaluate/predict (on the shown weights) or random draws
    between them: the same run as one fit."""
    total = sum(splits)
    if (option, total) not in _WHOLE:
        whole = make(option)
        whole.fit(X, Y, epochs=total, batch_size=8, verbose=0)
        _WHOLE[option, total] = state(whole)
    split = make(option)
    for n in splits:
        split.fit(X, Y, epochs=n, batch_size=8, verbose=0)
        if between == "evaluate":
            split.evaluate(XV, YV, verbose=0)
        elif between == "predict":
            split.predict(XV, verbose=0)
        elif between == "draw":
            torch.rand(3), np.random.rand(3)
    assert_same(state(split), _WHOLE[option, total])


@pytest.mark.parametrize(
    "callback",
    [
        lambda: ep.ReduceLROnPlateau(monitor="loss", patience=0),
        lambda: ep.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
    ],
)
def test_a_callback_setting_the_rate_a_schedule_owns_is_refused_before_training(callback):
    """Its change would be overwritten by the schedule at the next update (Keras refuses)."""
    model = make("schedule")
    with pytest.raises(ep.errors.ArgumentTypeError, match="LearningRateSchedule"):
        model.fit(X, Y, epochs=2, batch_size=8, verbose=0, callbacks=[callback()])
    assert model.run.step == 0 and model.run.epoch == 0
    make("clipnorm").fit(X, Y, epochs=1, batch_size=8, verbose=0, callbacks=[callback()])


# -- train_on_batch steps are steps of the run -------------------------------------
def batch_steps(model: ep.Model, n: int) -> None:
    for i in range(n):
        model.train_on_batch(X[8 * i : 8 * i + 8], Y[8 * i : 8 * i + 8])


@pytest.mark.parametrize("option", ["accumulation", "ema", "schedule", "all", "native"])
def test_train_on_batch_steps_inside_a_window_saved_loaded_and_fitted_on(tmp_path, option):
    """Five train_on_batch steps (a window of 3 left open), a save, a load, fit on:
    the bits of the uninterrupted run; with fit between the steps too."""
    whole = make(option)
    batch_steps(whole, 5)
    whole.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    batch_steps(whole, 2)

    stepped = make(option)
    batch_steps(stepped, 5)
    stepped.save(tmp_path / "run")
    optimizer, extra = OPTIONS[option]
    kwargs = {"learning_rate": 0.02} if extra else {}
    module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1))
    loaded = ep.Model.load(
        tmp_path / "run",
        module=module,
        device="cpu",
        optimizer=optimizer(),
        loss="mse",
        **kwargs,
        **extra,
    )
    assert loaded.run.step == 5
    loaded.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    batch_steps(loaded, 2)
    assert_same(state(loaded), state(whole))


# -- multi-output losses ------------------------------------------------------------
class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.2))
        self.reg = nn.Linear(8, 1)
        self.cls = nn.Linear(8, 3)

    def forward(self, x):
        h = self.body(x)
        return self.reg(h), self.cls(h)


YC = np.digitize(X[:, 0], [-0.5, 0.5]).astype("int64")


def multi(option: str) -> ep.Model:
    torch.manual_seed(0)
    model = ep.Model(TwoHeads(), device="cpu")
    optimizer, extra = OPTIONS[option]
    kwargs = {"learning_rate": 0.02} if extra else {}
    model.compile(
        optimizer=optimizer(),
        loss=["mse", "sparse_categorical_crossentropy"],
        loss_weights=[1.0, 0.5],
        metrics=[["mae"], ["accuracy"]],
        seed=5,
        **kwargs,
        **extra,
    )
    return model


def multi_fit(model: ep.Model, epochs: int, ckdir=None, killer=None) -> None:
    model.fit(
        X,
        [Y, YC],
        epochs=epochs,
        batch_size=8,
        verbose=0,
        validation_data=(XV, [YV, YC[:16]]),
        callbacks=[killer] if killer is not None else [],
        checkpoint_dir=ckdir,
        checkpoint_steps=4 if ckdir is not None else None,
    )


@pytest.mark.parametrize("option", ["accumulation", "ema", "all", "native"])
@pytest.mark.parametrize("kill", ["step:5", "step:13", "epoch:3"])
def test_multi_output_losses_with_step_options_split_and_resumed(tmp_path, option, kill):
    whole = multi(option)
    for n in (3, 2):
        multi_fit(whole, n)
    split = multi(option)
    for n in (1, 2, 2):
        multi_fit(split, n)
    assert_same(state(split), state(whole))
    kind, _, at = kill.partition(":")
    killer = KillAt(int(at)) if kind == "step" else KillAtEpochEnd(int(at))
    killed = multi(option)
    with pytest.raises(Killed):
        for n in (3, 2):
            multi_fit(killed, n, tmp_path, killer)
    del killed
    gc.collect()
    resumed = multi(option)
    for n in (3, 2):
        multi_fit(resumed, n, tmp_path)
    assert_same(state(resumed), state(whole))
