"""Model: compile / fit / evaluate / predict, inputs of every supported kind, continuation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torchmetrics
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import epochal as ep
from _util import make_binary, make_multiclass, mlp, state_equal


def compiled(module=None, **kw) -> ep.Model:
    model = ep.Model(module if module is not None else mlp(), device="cpu")
    kw.setdefault("optimizer", "adam")
    kw.setdefault("loss", "bce")
    kw.setdefault("seed", 0)
    model.compile(**kw)
    return model


def test_fit_returns_history_with_keras_keys_and_floats(binary_data):
    x, y = binary_data
    model = compiled(metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    assert isinstance(history, ep.History)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
    assert history.epoch == [0, 1, 2]
    for values in history.history.values():
        assert len(values) == 3 and all(type(v) is float for v in values)
    assert history.params["epochs"] == 3
    assert history.params["steps"] == 10  # 300 training samples / 32
    assert history.history["learning_rate"] == [1e-3] * 3


def test_loss_is_sample_weighted_mean_over_the_epoch(binary_data):
    """With lr=0 the epoch loss equals evaluate's loss on the same data (batch-size weighted)."""
    x, y = binary_data
    model = compiled(optimizer=lambda p: torch.optim.SGD(p, lr=0.0))
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0, shuffle=False)
    full = model.evaluate(x, y, batch_size=400, verbose=0)
    assert history.history["loss"][0] == pytest.approx(full["loss"], rel=1e-5)


def test_repeated_fit_continues_the_run(binary_data):
    x, y = binary_data
    model = compiled(metrics=["accuracy"])
    h1 = model.fit(x, y, epochs=2, verbose=0)
    h2 = model.fit(x, y, epochs=3, verbose=0)
    assert h1.epoch == [0, 1]
    assert h2.epoch == [2, 3, 4]
    assert len(h2.history["loss"]) == 3
    assert model.history.epoch == [0, 1, 2, 3, 4]
    assert model.history.history["loss"] == h1.history["loss"] + h2.history["loss"]
    assert model.run.epoch == 5
    assert model.run.step == 5 * 13
    # The optimizer continues: Adam's step counter counts every step of the run.
    state = model.optimizer.state_dict()["state"]
    assert int(state[0]["step"]) == 5 * 13


def test_initial_epoch_has_keras_meaning(binary_data):
    x, y = binary_data
    model = compiled()
    model.fit(x, y, epochs=2, verbose=0)
    history = model.fit(x, y, epochs=5, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3, 4]
    assert model.history.epoch == [0, 1, 2, 3, 4]


def test_epochs_zero_trains_nothing(binary_data):
    x, y = binary_data
    model = compiled()
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    history = model.fit(x, y, epochs=0, verbose=0)
    assert history.epoch == []
    assert state_equal(before, model.module.state_dict())


def test_compile_starts_a_new_run_and_keeps_weights(binary_data):
    x, y = binary_data
    model = compiled()
    model.fit(x, y, epochs=2, verbose=0)
    weights = {k: v.clone() for k, v in model.module.state_dict().items()}
    model.compile(optimizer="sgd", loss="bce", seed=1)
    assert model.run.epoch == 0 and model.history.epoch == []
    assert state_equal(weights, model.module.state_dict())


def test_evaluate_returns_dict_or_keras_list(binary_data):
    x, y = binary_data
    model = compiled(metrics=["accuracy", "auc"])
    model.fit(x, y, epochs=2, verbose=0)
    logs = model.evaluate(x, y, verbose=0)
    assert set(logs) == {"loss", "accuracy", "auc"}
    as_list = model.evaluate(x, y, verbose=0, return_dict=False)
    assert as_list == [logs["loss"], logs["accuracy"], logs["auc"]]
    plain = compiled()
    assert isinstance(plain.evaluate(x, y, verbose=0, return_dict=False), float)


def test_evaluate_before_fit_works_after_compile(binary_data):
    x, y = binary_data
    model = compiled(metrics=["accuracy"])
    logs = model.evaluate(x, y, verbose=0)
    assert logs["loss"] > 0 and 0 <= logs["accuracy"] <= 1


def test_predict_numpy_in_numpy_out_tensor_in_tensor_out(binary_data):
    x, _ = binary_data
    model = compiled(mlp(final=nn.Sigmoid()))
    out = model.predict(x, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (400, 1)
    assert ((out >= 0) & (out <= 1)).all()  # a sigmoid model predicts probabilities
    tout = model.predict(torch.from_numpy(x), verbose=0, batch_size=7)
    assert isinstance(tout, torch.Tensor) and tout.shape == (400, 1)
    np.testing.assert_allclose(tout.numpy(), out, rtol=1e-6)
    assert model.predict(pd.DataFrame(x), verbose=0).shape == (400, 1)


def test_predict_leaves_train_mode_and_rng_alone(binary_data):
    x, _ = binary_data
    model = ep.Model(mlp(dropout=0.5), device="cpu")
    model.module.train()
    torch.manual_seed(5)
    a = model.predict(x, verbose=0)
    b = model.predict(x, verbose=0)
    np.testing.assert_array_equal(a, b)  # eval mode: dropout off
    assert model.module.training


def test_pandas_inputs(binary_data):
    x, y = binary_data
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(10)])
    model = compiled(metrics=["accuracy"])
    history = model.fit(frame, pd.Series(y), epochs=2, verbose=0, validation_split=0.2)
    assert len(history.history["val_loss"]) == 2


def test_pandas_non_numeric_column_is_a_clear_error(binary_data):
    x, y = binary_data
    frame = pd.DataFrame(x)
    frame["name"] = "a"
    model = compiled()
    with pytest.raises(
        ep.errors.DataError, match=r"Expected `x` to hold numbers.*non-numeric columns: \['name'\]"
    ):
        model.fit(frame, y, verbose=0)


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.b = nn.Linear(6, 8)
        self.head = nn.Linear(8, 1)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.a(left) + self.b(right)))


def test_multi_input_tuple_and_dict(binary_data):
    x, y = binary_data
    left, right = x[:, :4], x[:, 4:]
    torch.manual_seed(0)
    model = compiled(TwoInputs(), metrics=["accuracy"])
    h = model.fit((left, right), y, epochs=3, verbose=0, validation_split=0.2)
    assert len(h.history["val_accuracy"]) == 3
    p_tuple = model.predict((left, right), verbose=0)
    p_dict = model.predict({"left": left, "right": right}, verbose=0)
    np.testing.assert_allclose(p_tuple, p_dict)
    model.fit({"left": left, "right": right}, y, epochs=1, verbose=0)


def test_dataset_dataloader_and_iterable_inputs(binary_data):
    x, y = binary_data
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    sources = {
        "tensor_dataset": TensorDataset(xt, yt),
        "dataloader": DataLoader(TensorDataset(xt, yt), batch_size=50, shuffle=True),
        "list": [(xt[i : i + 50], yt[i : i + 50]) for i in range(0, 400, 50)],
    }
    for name, data in sources.items():
        model = compiled(metrics=["accuracy"], learning_rate=0.01)
        history = model.fit(data, epochs=3, verbose=0, validation_data=(x[:100], y[:100]))
        assert history.epoch == [0, 1, 2], name
        assert history.history["loss"][-1] < history.history["loss"][0], name
        logs = model.evaluate(data, verbose=0)
        assert logs["accuracy"] > 0.8, name


class MapDataset(torch.utils.data.Dataset):
    """A map-style dataset that is not a TensorDataset, counting item reads."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y
        self.reads = 0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        self.reads += 1
        return torch.from_numpy(self.x[i]), torch.tensor(self.y[i])


def test_map_style_dataset_is_batched_with_the_runs_order(binary_data):
    x, y = binary_data
    data = MapDataset(x, y)
    model = compiled()
    model.fit(data, epochs=2, batch_size=40, verbose=0)
    assert model.run.step == 20
    assert data.reads >= 800  # every sample of both epochs was read


def test_generator_with_steps_per_epoch(binary_data):
    x, y = binary_data

    def forever():
        while True:
            for i in range(0, 400, 40):
                yield x[i : i + 40], y[i : i + 40]

    model = compiled()
    history = model.fit(forever(), epochs=3, steps_per_epoch=5, verbose=0)
    assert history.epoch == [0, 1, 2]
    assert model.run.step == 15


def test_one_shot_generator_warns_when_it_runs_out(binary_data):
    x, y = binary_data
    model = compiled()
    gen = ((x[i : i + 40], y[i : i + 40]) for i in range(0, 400, 40))
    with pytest.warns(RuntimeWarning, match="produced no batches"):
        history = model.fit(gen, epochs=3, verbose=0)
    assert history.epoch == [0]


def test_steps_per_epoch_limits_array_batches(binary_data):
    x, y = binary_data
    model = compiled()
    model.fit(x, y, epochs=2, steps_per_epoch=3, verbose=0)
    assert model.run.step == 6


def test_validation_data_with_sample_weights_and_freq(binary_data):
    x, y = binary_data
    model = compiled()
    w = np.ones(100, dtype=np.float32)
    history = model.fit(
        x[:300],
        y[:300],
        epochs=4,
        verbose=0,
        validation_data=(x[300:], y[300:], w),
        validation_freq=2,
    )
    assert len(history.history["loss"]) == 4
    assert len(history.history["val_loss"]) == 2
    assert history.epochs_by_key["val_loss"] == [1, 3]
    # A list names 1-based epochs of the run: 5 and 7 are run indices 4 and 6.
    model.fit(
        x[:300],
        y[:300],
        epochs=3,
        verbose=0,
        validation_data=(x[300:], y[300:]),
        validation_freq=[5, 7],
    )
    assert model.history.epochs_by_key["val_loss"] == [1, 3, 4, 6]


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x = np.arange(100, dtype=np.float32).reshape(100, 1)
    y = (x[:, 0] >= 50).astype(np.float32)
    seen: list[np.ndarray] = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(1, 1)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            if not self.training:
                seen.append(t[:, 0].detach().numpy().copy())
            return self.lin(t)

    model = compiled(Spy())
    model.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    validated = [batch for batch in seen if len(batch) == 20]
    assert len(validated) == 1
    np.testing.assert_array_equal(validated[0], np.arange(80, 100))


def test_sample_weight_zero_ignores_samples(binary_data):
    """Samples with weight 0 contribute no gradient: training on them changes nothing."""
    x, y = binary_data
    a = compiled(optimizer="sgd")
    a.fit(x, y, epochs=1, shuffle=False, verbose=0, sample_weight=np.zeros(400, dtype=np.float32))
    b = compiled(optimizer="sgd")
    assert state_equal(a.module.state_dict(), b.module.state_dict())


def test_class_weight_is_applied_as_sample_weight(binary_data):
    x, y = binary_data
    a = compiled(optimizer="sgd")
    a.fit(x, y, epochs=1, shuffle=False, verbose=0, class_weight={0: 1.0, 1: 3.0})
    b = compiled(optimizer="sgd")
    b.fit(x, y, epochs=1, shuffle=False, verbose=0, sample_weight=np.where(y == 1, 3.0, 1.0))
    assert state_equal(a.module.state_dict(), b.module.state_dict())


def test_metrics_as_callable_and_torchmetrics_instance(binary_data):
    x, y = binary_data

    def mean_pred(y_pred, y_true):
        return y_pred.mean()

    model = compiled(
        mlp(final=nn.Sigmoid()), metrics=[mean_pred, torchmetrics.classification.BinaryAccuracy()]
    )
    history = model.fit(x, y, epochs=2, verbose=0)
    assert "mean_pred" in history.history and "binary_accuracy" in history.history
    assert 0 < history.history["mean_pred"][0] < 1


def test_optimizer_instance_and_factory(binary_data):
    x, y = binary_data
    module = mlp()
    opt = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    model = compiled(module, optimizer=opt)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.optimizer is opt and opt.state  # momentum buffers exist
    model2 = compiled(
        optimizer=lambda params: torch.optim.RMSprop(params, lr=0.01), learning_rate=0.005
    )
    model2.fit(x, y, epochs=1, verbose=0)
    assert isinstance(model2.optimizer, torch.optim.RMSprop)
    assert model2.optimizer.param_groups[0]["lr"] == 0.005


@pytest.mark.parametrize(
    "name", ["adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam"]
)
def test_every_optimizer_name_trains(binary_data, name):
    x, y = binary_data
    model = compiled(optimizer=name, learning_rate=0.05 if name != "adadelta" else 1.0)
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_stop_training_is_sticky_and_new_phase_resumes(binary_data):
    x, y = binary_data

    class StopAtTwo(ep.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    model = compiled()
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[StopAtTwo()])
    assert history.epoch == [0, 1]
    with pytest.warns(RuntimeWarning, match="stopped after epoch 2"):
        again = model.fit(x, y, epochs=3, verbose=0)
    assert again.epoch == []
    model.new_phase()
    assert model.fit(x, y, epochs=2, verbose=0).epoch == [2, 3]


def test_stop_training_mid_epoch_stops_after_the_batch(binary_data):
    x, y = binary_data

    class StopAtBatch(ep.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    model = compiled()
    model.fit(x, y, epochs=5, verbose=0, callbacks=[StopAtBatch()])
    assert model.run.step == 3


def test_get_and_set_weights_round_trip(binary_data):
    x, y = binary_data
    model = compiled()
    weights = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    model.set_weights(weights)
    for a, b in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ep.errors.ArgumentError, match="expected shape"):
        model.set_weights([w[..., :1] if w.ndim else w for w in weights])


def test_user_random_draws_between_fits_do_not_change_the_run(binary_data):
    x, y = binary_data
    a = compiled(mlp(dropout=0.3))
    a.fit(x, y, epochs=2, verbose=0)
    a.fit(x, y, epochs=2, verbose=0)
    b = compiled(mlp(dropout=0.3))
    b.fit(x, y, epochs=2, verbose=0)
    torch.rand(1000)  # the user draws random numbers between calls
    np.random.rand(10)
    b.fit(x, y, epochs=2, verbose=0)
    assert state_equal(a.module.state_dict(), b.module.state_dict())


def test_fit_does_not_consume_the_users_rng(binary_data):
    x, y = binary_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    model = compiled(mlp(dropout=0.3))
    torch.manual_seed(123)
    model.fit(x, y, epochs=1, verbose=0)
    assert torch.equal(torch.rand(3), expected)


def test_same_seed_same_result_different_seed_different_order(binary_data):
    x, y = binary_data
    runs = []
    for seed in (0, 0, 1):
        model = compiled(mlp(dropout=0.2), seed=seed)
        model.fit(x, y, epochs=2, verbose=0)
        runs.append(model.module.state_dict())
    assert state_equal(runs[0], runs[1])
    assert not state_equal(runs[0], runs[2])


def test_multiclass_sparse_and_one_hot(multiclass_data):
    x, y = multiclass_data
    for loss, targets in (
        ("sparse_categorical_crossentropy", y),
        ("categorical_crossentropy", np.eye(3, dtype=np.float32)[y]),
    ):
        model = compiled(
            mlp(features=8, out=3, final=nn.Softmax(dim=-1)), loss=loss, metrics=["accuracy"]
        )
        history = model.fit(x, targets, epochs=15, verbose=0, batch_size=16)
        assert history.history["accuracy"][-1] > 0.85, loss
        probs = model.predict(x, verbose=0)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_regression_with_mse_and_metrics():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = (x @ rng.normal(size=5)).astype(np.float32)
    model = compiled(
        mlp(features=5), loss="mse", metrics=["mae", "rmse"], optimizer="adam", learning_rate=0.01
    )
    history = model.fit(x, y, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    logs = model.evaluate(x, y, verbose=0)
    assert logs["rmse"] == pytest.approx(logs["loss"] ** 0.5, rel=1e-4)


def test_metric_direction_for_mode_auto():
    model = compiled(metrics=["accuracy", "mae"])
    assert model.metric_direction("accuracy") == "max"
    assert model.metric_direction("mae") == "min"
    assert model.metric_direction("loss") == "min"
    assert model.metric_direction("nope") is None


def test_model_call_forwards_to_module():
    model = compiled()
    out = model(torch.zeros(2, 10))
    assert out.shape == (2, 1)


def test_make_binary_is_learnable_to_high_accuracy():
    x, y = make_binary(n=600)
    model = compiled(metrics=["accuracy"])
    model.fit(x, y, epochs=15, verbose=0)
    assert model.evaluate(x, y, verbose=0)["accuracy"] > 0.95
    assert make_multiclass()[0].shape == (300, 8)


# -- fine-tuning: parameters unfrozen between fit calls are trained -----------------------
def _fine_tune(model_dir=None, *, save_after_unfreeze=False):
    x, y = make_binary(n=96, features=10, seed=2)
    torch.manual_seed(1)
    module = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())
    model = ep.Model(module, device="cpu")
    module[0].requires_grad_(False)
    model.compile(optimizer="adam", loss="bce", learning_rate=0.01, seed=3)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    frozen = module[0].weight.detach().clone()
    module[0].requires_grad_(True)
    model.new_phase()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model, frozen, (x, y)


def test_parameters_unfrozen_between_calls_are_trained_by_the_next_call():
    model, frozen, _ = _fine_tune()
    assert not torch.equal(model.module[0].weight, frozen)
    groups = model.optimizer.param_groups
    assert len(groups) == 2 and groups[1]["lr"] == 0.01
    assert any(id(p) == id(model.module[0].weight) for p in groups[1]["params"])


def test_a_fine_tuned_run_saved_and_loaded_trains_on_with_its_optimizer_state(tmp_path):
    model, _, (x, y) = _fine_tune()
    model.save(tmp_path / "ft")
    torch.manual_seed(9)
    fresh = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())
    loaded = ep.Model.load(tmp_path / "ft", module=fresh)
    loaded.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(
        model.module.state_dict().values(), loaded.module.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert repr(model.optimizer.state_dict()) == repr(loaded.optimizer.state_dict())


def test_evaluate_before_the_first_fit_leaves_the_runs_baseline_loss_alone(binary_data):
    x, y = binary_data
    plain = compiled()
    plain.fit(x[:200], y[:200], epochs=1, verbose=0)
    evaluated = compiled()
    evaluated.evaluate(x[200:], y[200:] * 0, verbose=0)
    evaluated.fit(x[:200], y[:200], epochs=1, verbose=0)
    assert evaluated.history.baseline_loss == plain.history.baseline_loss


def test_a_failing_verdict_line_never_loses_the_calls_history(binary_data, monkeypatch, capsys):
    x, y = binary_data

    def broken(self, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(ep.History, "diagnose", broken)
    model = compiled()
    history = model.fit(x, y, epochs=3, verbose=2)
    assert history.epoch == [0, 1, 2] and model.run.epoch == 3
    assert "no verdict" in capsys.readouterr().out


def test_constant_targets_train_and_return_their_history(binary_data):
    x, _ = binary_data
    model = compiled()
    history = model.fit(x, np.zeros(len(x), dtype=np.float32), epochs=3, verbose=2)
    assert len(history.history["loss"]) == 3


def test_predict_probes_the_input_shape_once_per_kind_of_input():
    from epochal.errors import EpochalError

    calls = []
    module = nn.Sequential(nn.Linear(3, 2))
    module.register_forward_pre_hook(lambda m, args: calls.append(args[0].shape[0]))
    model = ep.Model(module, device="cpu")
    x = np.zeros((10, 3), dtype="float32")
    model.predict(x, batch_size=5, verbose=0)
    assert calls == [2, 5, 5]  # the probe, then the batches
    calls.clear()
    model.predict(x, batch_size=5, verbose=0)
    assert calls == [5, 5]  # the same kind of input: no second probe
    with pytest.raises(EpochalError, match="x"):
        model.predict(np.zeros((4, 7), dtype="float32"), verbose=0)  # a new shape is probed
