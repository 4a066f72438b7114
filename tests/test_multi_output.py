"""Multi-output training on the native face: a torch module returning a tuple or a dict."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import epochal as ep
import epochal.keras
from _util import state_equal
from epochal.errors import ArgumentError, ArgumentTypeError, DataError

RNG = np.random.default_rng(3)
X = RNG.normal(size=(64, 5)).astype("float32")
Y_REG = (X[:, :1] * 2.0 + 0.5).astype("float32")
Y_BIN = (X[:, 1:2] > 0).astype("float32")
Y_CLS = (np.digitize(X[:, 2], [-0.5, 0.5])).astype("int64")  # 3 classes
SW = RNG.uniform(0.1, 2.0, size=64).astype("float32")


class Tuple3(nn.Module):
    """Regression, binary probability (a sigmoid inside forward) and 3-class logits."""

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Dropout(dropout))
        self.reg = nn.Linear(12, 1)
        self.bin = nn.Linear(12, 1)
        self.cls = nn.Linear(12, 3)

    def forward(self, x):
        h = self.body(x)
        return self.reg(h), torch.sigmoid(self.bin(h)), self.cls(h)


class Dict2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(5, 8)
        self.price = nn.Linear(8, 1)
        self.kind = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.relu(self.body(x))
        return {"price": self.price(h), "kind": self.kind(h)}


def tuple_model(seed: int = 0, dropout: float = 0.0, **compile_kwargs) -> ep.Model:
    torch.manual_seed(seed)
    model = ep.Model(Tuple3(dropout), device="cpu")
    options = dict(
        optimizer="adam",
        loss=["mse", "binary_crossentropy", "sparse_categorical_crossentropy"],
        seed=seed,
    )
    options.update(compile_kwargs)
    model.compile(**options)
    return model


def dict_model(seed: int = 0, **compile_kwargs) -> ep.Model:
    torch.manual_seed(seed)
    model = ep.Model(Dict2(), device="cpu")
    options = dict(
        optimizer="adam",
        loss={"price": "mse", "kind": "sparse_categorical_crossentropy"},
        seed=seed,
    )
    options.update(compile_kwargs)
    model.compile(**options)
    return model


def outputs(model: ep.Model, x: np.ndarray = X):
    model.module.eval()
    with torch.no_grad():
        return model.module(torch.from_numpy(x))


# -- logs and values -------------------------------------------------------------------
def test_tuple_outputs_log_each_loss_and_the_weighted_total():
    model = tuple_model(
        loss_weights=[1.0, 0.5, 2.0],
        metrics=[["mae"], ["accuracy"], ["accuracy"]],
    )
    history = model.fit(X, [Y_REG, Y_BIN, Y_CLS], epochs=2, batch_size=16, verbose=0)
    # Keras 3's order: the loss, the compiled metrics, then the per-output losses
    assert list(history.history) == [
        "loss",
        "output_1_mae",
        "output_2_accuracy",
        "output_3_accuracy",
        "output_1_loss",
        "output_2_loss",
        "output_3_loss",
        "learning_rate",
    ]
    logs = model.evaluate(X, (Y_REG, Y_BIN, Y_CLS), batch_size=64, verbose=0)
    reg, prob, logits = outputs(model)
    mse = F.mse_loss(reg, torch.from_numpy(Y_REG)).item()
    p = prob.clamp(1e-7, 1 - 1e-7)
    y = torch.from_numpy(Y_BIN)
    bce = (-(y * p.log() + (1 - y) * (1 - p).log())).mean().item()
    ce = F.cross_entropy(logits, torch.from_numpy(Y_CLS)).item()
    assert logs["output_1_loss"] == pytest.approx(mse, rel=1e-5)
    assert logs["output_2_loss"] == pytest.approx(0.5 * bce, rel=1e-5)  # weighted, as Keras logs
    assert logs["output_3_loss"] == pytest.approx(2.0 * ce, rel=1e-5)
    total = logs["output_1_loss"] + logs["output_2_loss"] + logs["output_3_loss"]
    assert logs["loss"] == pytest.approx(total, rel=1e-5)
    accuracy = (logits.argmax(-1).numpy() == Y_CLS).mean()
    assert logs["output_3_accuracy"] == pytest.approx(accuracy)
    assert logs["output_2_accuracy"] == pytest.approx(((prob.numpy() > 0.5) == Y_BIN).mean())
    assert model.metrics_names == list(logs)


def test_validation_keys_carry_the_prefix():
    model = dict_model(metrics={"kind": "accuracy"})
    history = model.fit(
        X,
        {"price": Y_REG, "kind": Y_CLS},
        validation_data=(X[:16], {"price": Y_REG[:16], "kind": Y_CLS[:16]}),
        epochs=1,
        verbose=0,
    )
    for key in ["loss", "price_loss", "kind_loss", "kind_accuracy"]:
        assert key in history.history and f"val_{key}" in history.history


def test_dict_outputs_take_targets_as_a_dict_or_a_list_in_output_order():
    by_name = dict_model(metrics={"kind": ["accuracy"], "price": ["mae"]})
    by_name.fit(X, {"kind": Y_CLS, "price": Y_REG}, epochs=2, verbose=0)
    by_position = dict_model(metrics={"kind": ["accuracy"], "price": ["mae"]})
    by_position.fit(X, [Y_REG, Y_CLS], epochs=2, verbose=0)
    assert state_equal(by_name.module.state_dict(), by_position.module.state_dict())
    assert by_name.history.history == by_position.history.history
    assert list(by_name.history.history)[:5] == [
        "loss",
        "price_mae",
        "kind_accuracy",
        "price_loss",
        "kind_loss",
    ]


def test_one_named_loss_applies_to_every_output():
    torch.manual_seed(0)
    model = ep.Model(Dict2(), device="cpu")
    model.compile(optimizer="adam", loss="mse", seed=0)
    y_kind = np.eye(3, dtype="float32")[Y_CLS]
    model.fit(X, {"price": Y_REG, "kind": y_kind}, epochs=1, verbose=0)
    logs = model.evaluate(X, {"price": Y_REG, "kind": y_kind}, batch_size=64, verbose=0)
    out = outputs(model)
    price = F.mse_loss(out["price"], torch.from_numpy(Y_REG)).item()
    kind = F.mse_loss(out["kind"], torch.from_numpy(y_kind)).item()
    assert logs["price_loss"] == pytest.approx(price, rel=1e-5)
    assert logs["kind_loss"] == pytest.approx(kind, rel=1e-5)
    assert logs["loss"] == pytest.approx(price + kind, rel=1e-5)


def test_an_output_without_a_loss_is_not_trained_and_needs_no_targets():
    model = dict_model(loss={"kind": "sparse_categorical_crossentropy"})
    before = {k: v.clone() for k, v in model.module.state_dict().items()}
    history = model.fit(X, {"kind": Y_CLS}, epochs=1, verbose=0)
    after = model.module.state_dict()
    assert torch.equal(before["price.weight"], after["price.weight"])  # no gradient reaches it
    assert not torch.equal(before["kind.weight"], after["kind.weight"])
    assert "kind_loss" in history.history and "price_loss" not in history.history
    # a list entry None does the same, by position
    model = dict_model(loss=[None, "sparse_categorical_crossentropy"])
    model.fit(X, [Y_REG, Y_CLS], epochs=1, verbose=0)
    assert "price_loss" not in model.history.history


def test_logits_outputs_get_the_logits_form_and_metrics_see_probabilities():
    class TwoLogits(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(5, 1)
            self.b = nn.Linear(5, 1)

        def forward(self, x):
            return self.a(x), torch.sigmoid(self.b(x))

    torch.manual_seed(1)
    model = ep.Model(TwoLogits(), device="cpu")
    model.compile(
        optimizer="sgd",
        loss="binary_crossentropy",
        metrics=[["accuracy", "auc"], ["accuracy"]],
        seed=1,
    )
    logs = model.evaluate(X, [Y_BIN, Y_BIN], batch_size=64, verbose=0)
    logits, prob = outputs(model)
    y = torch.from_numpy(Y_BIN)
    assert logs["output_1_loss"] == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, y).item(), rel=1e-5
    )
    p = prob.clamp(1e-7, 1 - 1e-7)
    expected = (-(y * p.log() + (1 - y) * (1 - p).log())).mean().item()
    assert logs["output_2_loss"] == pytest.approx(expected, rel=1e-5)
    # accuracy on logits thresholds at 0 (probability 0.5); AUC reads probabilities
    assert logs["output_1_accuracy"] == pytest.approx(((logits.numpy() > 0) == Y_BIN).mean())
    assert 0.0 <= logs["output_1_auc"] <= 1.0


def test_from_logits_true_on_a_sigmoid_output_is_refused_before_any_step():
    model = tuple_model(
        loss=["mse", ep.keras.losses.BinaryCrossentropy(from_logits=True), "scce"],
    )
    with pytest.raises(ArgumentError, match="from_logits=True"):
        model.fit(X, [Y_REG, Y_BIN, Y_CLS], epochs=1, verbose=0)
    assert model.optimizer is None and model.run.step == 0


def test_targets_are_conformed_per_output():
    model = tuple_model()
    # (N,) regression targets gain their axis; (N, 1) labels lose theirs; int 0/1 become floats
    model.fit(X, [Y_REG[:, 0], Y_BIN.astype("int64"), Y_CLS[:, None]], epochs=1, verbose=0)
    assert model.run.step > 0


def test_loss_weights_on_one_output_scale_the_loss():
    torch.manual_seed(0)
    plain = ep.Model(nn.Linear(5, 1), device="cpu")
    plain.compile(optimizer="sgd", loss="mse", seed=0)
    torch.manual_seed(0)
    doubled = ep.Model(nn.Linear(5, 1), device="cpu")
    doubled.compile(optimizer="sgd", loss="mse", loss_weights=2.0, seed=0)
    a = plain.evaluate(X, Y_REG, verbose=0)
    b = doubled.evaluate(X, Y_REG, verbose=0)
    assert list(b) == ["loss"]
    assert b["loss"] == pytest.approx(2 * a["loss"], rel=1e-6)


def test_a_callable_loss_alone_receives_the_whole_output():
    seen = []

    def joint(pred, target):
        seen.append((type(pred), type(target)))
        return F.mse_loss(pred[0], target[0]) + F.mse_loss(pred[2][:, :1], target[1])

    model = tuple_model(loss=joint)
    model.fit(X, (Y_REG, Y_REG), epochs=1, verbose=0)
    assert seen and seen[0][0] is tuple


def test_a_callable_in_a_list_applies_to_its_output():
    def my_mse(pred, target):
        return (pred - target).square().mean()

    model = dict_model(loss=[my_mse, "sparse_categorical_crossentropy"])
    logs = model.evaluate(X, [Y_REG, Y_CLS], batch_size=64, verbose=0)
    out = outputs(model)
    assert logs["price_loss"] == pytest.approx(
        F.mse_loss(out["price"], torch.from_numpy(Y_REG)).item(), rel=1e-5
    )


# -- metrics ---------------------------------------------------------------------------
def test_a_flat_metric_list_with_one_entry_per_output_is_per_output_as_in_keras():
    model = dict_model(metrics=["mae", "accuracy"])
    logs = model.evaluate(X, [Y_REG, Y_CLS], verbose=0)
    assert "price_mae" in logs and "kind_accuracy" in logs


def test_a_flat_metric_list_of_another_length_is_an_error_naming_the_outputs():
    model = tuple_model(metrics=["accuracy"])
    with pytest.raises(ArgumentError, match=r"3 outputs, `metrics` .* list of lists"):
        model.fit(X, [Y_REG, Y_BIN, Y_CLS], epochs=1, verbose=0)
    assert model.optimizer is None


def test_weighted_metrics_use_the_sample_weights():
    model = dict_model(weighted_metrics={"price": ["mae"]}, metrics={"price": ["mae"]})
    logs = model.evaluate(X, [Y_REG, Y_CLS], sample_weight=SW, batch_size=64, verbose=0)
    err = (outputs(model)["price"].numpy() - Y_REG)[:, 0]
    assert logs["price_mae"] == pytest.approx(np.abs(err).mean(), rel=1e-5)
    weighted = (np.abs(err) * SW).sum() / SW.sum()
    assert logs["price_weighted_mae"] == pytest.approx(weighted, rel=1e-5)
    # without weights a weighted metric is the plain one
    logs = model.evaluate(X, [Y_REG, Y_CLS], batch_size=64, verbose=0)
    assert logs["price_weighted_mae"] == pytest.approx(logs["price_mae"], rel=1e-6)


def test_weighted_metrics_on_one_output():
    torch.manual_seed(0)
    model = ep.Model(nn.Linear(5, 1), device="cpu")
    model.compile(optimizer="sgd", loss="bce", weighted_metrics=["accuracy"], seed=0)
    logs = model.evaluate(X, Y_BIN, sample_weight=SW, batch_size=64, verbose=0)
    hits = ((outputs(model).numpy() > 0) == Y_BIN)[:, 0]
    assert list(logs) == ["loss", "accuracy"]
    assert logs["accuracy"] == pytest.approx((hits * SW).sum() / SW.sum(), rel=1e-5)


def test_sample_weights_weigh_every_output_loss():
    model = dict_model()
    logs = model.evaluate(X, [Y_REG, Y_CLS], sample_weight=SW, batch_size=64, verbose=0)
    per = (outputs(model)["price"].numpy() - Y_REG)[:, 0] ** 2
    assert logs["price_loss"] == pytest.approx((per * SW).sum() / 64, rel=1e-5)


# -- bad specs: clear errors, before any step ---------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"loss": {"prize": "mse"}}, r"key 'prize' does not correspond to any model output"),
        ({"loss": ["mse"]}, r"2 output\(s\), `loss` given as a list needs one entry per output"),
        ({"loss": ["mse", "mse", "mse"]}, r"Received 3 entries"),
        ({"loss_weights": [1.0]}, r"`loss_weights` given as a list needs one entry"),
        ({"loss_weights": {"prize": 1.0}}, r"`loss_weights`, key 'prize'"),
        ({"metrics": {"prize": ["mae"]}}, r"`metrics`, key 'prize'"),
        ({"metrics": [["mae"]]}, r"`metrics` given as a list needs one entry per output"),
        ({"loss": [None, None]}, r"a loss for at least one output"),
        (
            {
                "metrics": {"price": ["mae"], "kind": ["accuracy"]},
                "weighted_metrics": {"price": "mae"},
            },
            None,
        ),
    ],
)
def test_bad_per_output_specs_fail_at_the_first_fit_before_any_step(kwargs, pattern):
    model = dict_model(**kwargs)
    if pattern is None:  # a valid neighbour: trains
        model.fit(X, [Y_REG, Y_CLS], epochs=1, verbose=0)
        return
    with pytest.raises(ArgumentError, match=pattern):
        model.fit(X, [Y_REG, Y_CLS], epochs=1, verbose=0)
    assert model.optimizer is None and model.run.step == 0 and model.run.epoch == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"loss": ["mse", "nope"]}, ArgumentError, r"Unknown loss"),
        ({"loss": {"price": 3}}, ArgumentTypeError, r"loss\['price'\]=3"),
        ({"loss_weights": [1.0, "x"]}, ArgumentTypeError, r"loss_weights\[1\]='x'"),
        ({"loss_weights": True}, ArgumentTypeError, r"loss_weights=True"),
        ({"metrics": [["mae"], ["nope"]]}, ArgumentError, r"Unknown metric"),
        ({"metrics": "mae"}, ArgumentTypeError, r"Expected `metrics` to be a list"),
        ({"weighted_metrics": ["auc"]}, ArgumentError, r"'auc' cannot be weighted"),
        ({"metrics": {"price": ["mae"], "kind": ["mae", "mae"]}}, ArgumentError, r"duplicates"),
    ],
)
def test_bad_specs_fail_at_compile(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        dict_model(**kwargs)


@pytest.mark.parametrize(
    ("y", "pattern"),
    [
        (Y_REG, r"2 outputs \(\['price', 'kind'\]\): expected `y` as a list of 2 arrays"),
        ([Y_REG], r"one target array per output \(2"),
        ({"price": Y_REG, "kind": Y_CLS, "colour": Y_CLS}, r"key 'colour'"),
        ({"price": Y_REG}, r"targets for output 'kind'"),
        ([Y_REG, Y_CLS.astype("float32") + 0.5], r"integer class labels"),
        ([Y_REG, Y_CLS + 5], r"labels in \[5, 7\]"),
    ],
)
def test_bad_targets_are_data_errors_naming_the_output(y, pattern):
    model = dict_model()
    with pytest.raises(DataError, match=pattern):
        model.fit(X, y, epochs=1, verbose=0)
    assert model.run.step == 0


def test_bad_targets_in_a_later_batch_of_an_iterable_name_the_batch():
    x = torch.from_numpy(X)
    labels = torch.from_numpy(Y_CLS).clone()
    labels[40] = 9
    loader = DataLoader(TensorDataset(x, torch.from_numpy(Y_REG), labels), batch_size=16)
    batches = [(xb, {"price": pb, "kind": kb}) for xb, pb, kb in loader]
    model = dict_model()
    with pytest.raises(DataError, match=r"batch 2 y\['kind'\]"):
        model.fit(batches, epochs=1, verbose=0)


# -- data kinds, predict ---------------------------------------------------------------------
def test_batches_of_structured_targets_train_like_arrays():
    arrays = dict_model(metrics={"kind": "accuracy"})
    arrays.fit(
        X, {"price": Y_REG, "kind": Y_CLS}, batch_size=16, shuffle=False, epochs=2, verbose=0
    )
    batches = [
        (
            torch.from_numpy(X[i : i + 16]),
            (torch.from_numpy(Y_REG[i : i + 16]), torch.from_numpy(Y_CLS[i : i + 16])),
        )
        for i in range(0, 64, 16)
    ]
    iterable = dict_model(metrics={"kind": "accuracy"})
    iterable.fit(batches, epochs=2, verbose=0)
    assert state_equal(arrays.module.state_dict(), iterable.module.state_dict())
    for key, values in arrays.history.history.items():
        assert iterable.history.history[key] == pytest.approx(values, rel=1e-6)


def test_predict_returns_the_modules_structure():
    model = dict_model()
    out = model.predict(X, verbose=0)
    assert isinstance(out, dict) and list(out) == ["price", "kind"]
    assert out["price"].shape == (64, 1) and isinstance(out["kind"], np.ndarray)
    out = tuple_model().predict(torch.from_numpy(X), verbose=0)
    assert isinstance(out, tuple) and len(out) == 3 and isinstance(out[0], torch.Tensor)


# -- the run: split invariance, resume ----------------------------------------------------
def _multi(seed: int) -> ep.Model:
    return tuple_model(
        seed,
        dropout=0.2,
        loss_weights={"output_1": 1.0, "output_2": 0.3, "output_3": 0.7},
        loss={"output_1": "mse", "output_2": "bce", "output_3": "scce"},
        metrics={"output_2": ["accuracy"], "output_3": ["accuracy"]},
        weighted_metrics=[["mae"], [], []],
    )


def _fit(model: ep.Model, epochs: int, **kwargs) -> None:
    model.fit(
        X,
        [Y_REG, Y_BIN, Y_CLS],
        epochs=epochs,
        batch_size=16,
        sample_weight=SW,
        validation_data=(X[:24], [Y_REG[:24], Y_BIN[:24], Y_CLS[:24]]),
        verbose=0,
        **kwargs,
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(st.integers(1, 3), min_size=1, max_size=4))
def test_any_split_of_a_multi_output_run_equals_one_fit(chunks):
    whole = _multi(4)
    _fit(whole, sum(chunks))
    split = _multi(4)
    for n in chunks:
        _fit(split, n)
        torch.rand(3)  # the user's draws between calls change nothing
    assert state_equal(whole.module.state_dict(), split.module.state_dict())
    assert whole.history.history == split.history.history
    assert repr(whole.optimizer.state_dict()) == repr(split.optimizer.state_dict())


class _Crash(ep.Callback):
    def __init__(self, at_step: int) -> None:
        super().__init__()
        self.at_step = at_step

    def on_train_batch_end(self, batch, logs=None):
        if self.model.run.step == self.at_step:
            raise KeyboardInterrupt("killed")


@pytest.mark.parametrize("at_step", [3, 6, 9])
def test_a_multi_output_run_killed_mid_epoch_resumes_to_the_same_bits(tmp_path, at_step):
    reference = _multi(6)
    _fit(reference, 3)
    ckdir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        _fit(_multi(6), 3, checkpoint_dir=ckdir, checkpoint_steps=2, callbacks=[_Crash(at_step)])
    resumed = _multi(6)
    _fit(resumed, 3, checkpoint_dir=ckdir, checkpoint_steps=2)
    assert state_equal(reference.module.state_dict(), resumed.module.state_dict())
    assert reference.history.history == resumed.history.history
    assert repr(reference.optimizer.state_dict()) == repr(resumed.optimizer.state_dict())


def test_a_saved_multi_output_run_loads_and_continues_bit_for_bit(tmp_path):
    whole = _multi(2)
    _fit(whole, 3)
    split = _multi(2)
    _fit(split, 2)
    split.save(tmp_path / "m")
    torch.manual_seed(99)
    loaded = ep.Model.load(
        tmp_path / "m",
        module=Tuple3(0.2),
        optimizer="adam",
        loss={"output_1": "mse", "output_2": "bce", "output_3": "scce"},
        loss_weights={"output_1": 1.0, "output_2": 0.3, "output_3": 0.7},
        metrics={"output_2": ["accuracy"], "output_3": ["accuracy"]},
        weighted_metrics=[["mae"], [], []],
    )
    _fit(loaded, 1)
    assert state_equal(whole.module.state_dict(), loaded.module.state_dict())
    assert whole.history.history == loaded.history.history


def test_a_weighted_single_output_keeps_the_logits_form_of_a_final_sigmoid():
    def saturated() -> nn.Module:
        lin = nn.Linear(5, 1)
        with torch.no_grad():
            lin.weight.zero_()
            lin.bias.fill_(30.0)  # probability 1 - 1e-13: the probability form would clip
        return nn.Sequential(lin, nn.Sigmoid())

    plain = ep.Model(saturated(), device="cpu")
    plain.compile(optimizer="sgd", loss="bce", metrics=["accuracy"], seed=0)
    weighted = ep.Model(saturated(), device="cpu")
    weighted.compile(
        optimizer="sgd", loss="bce", loss_weights=3.0, weighted_metrics=["accuracy"], seed=0
    )
    zeros = np.zeros_like(Y_BIN)
    a = plain.evaluate(X, zeros, verbose=0)
    b = weighted.evaluate(X, zeros, verbose=0)
    assert a["loss"] == pytest.approx(30.0, rel=1e-4)  # log(1 + e^30), from the logits
    assert b["loss"] == pytest.approx(3 * a["loss"], rel=1e-6)
    assert b["accuracy"] == a["accuracy"] == 0.0


@pytest.mark.slow  # torch.compile
def test_a_compiled_multi_output_step_trains_like_the_eager_one():
    eager = tuple_model(metrics=[["mae"], ["accuracy"], ["accuracy"]])
    eager.fit(X, [Y_REG, Y_BIN, Y_CLS], epochs=2, batch_size=16, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback to eager
        compiled = tuple_model(metrics=[["mae"], ["accuracy"], ["accuracy"]], compile=True)
        compiled.fit(X, [Y_REG, Y_BIN, Y_CLS], epochs=2, batch_size=16, verbose=0)
    for key, values in eager.history.history.items():
        assert compiled.history.history[key] == pytest.approx(values, rel=1e-4, abs=1e-6)


def test_callbacks_see_the_per_output_keys_in_their_params():
    seen = {}

    class Params(ep.Callback):
        def on_train_begin(self, logs=None):
            seen.update(self.params)

    model = dict_model(metrics={"kind": ["accuracy"]})
    model.fit(X, [Y_REG, Y_CLS], validation_split=0.25, epochs=1, verbose=0, callbacks=[Params()])
    assert seen["metrics"][:4] == ["loss", "kind_accuracy", "price_loss", "kind_loss"]
    assert "val_kind_accuracy" in seen["metrics"]
    assert seen["compiled_metrics"] == ["kind_accuracy"]
