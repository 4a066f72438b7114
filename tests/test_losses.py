"""Losses: Keras values, logits vs probabilities (never a double activation), stability."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import epochal as ep
from _util import make_binary, make_multiclass, mlp
from epochal import losses
from epochal.errors import ArgumentError, DataError


def keras_style(name: str, p: torch.Tensor, y: torch.Tensor) -> float:
    """Reference values written out by hand (Keras 'sum over batch size')."""
    if name == "mean_squared_error":
        return float(((p - y) ** 2).mean())
    if name == "mean_absolute_error":
        return float((p - y).abs().mean())
    if name == "huber":
        d = (p - y).abs()
        return float(torch.where(d <= 1, 0.5 * d**2, d - 0.5).mean())
    if name == "log_cosh":
        return float(torch.log(torch.cosh(p - y)).mean())
    if name == "hinge":
        yy = 2 * y - 1
        return float(torch.clamp(1 - yy * p, min=0).mean())
    raise KeyError(name)


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "logcosh", "hinge"])
def test_regression_losses_match_hand_written_values(name):
    g = torch.Generator().manual_seed(0)
    p, y = torch.randn(16, 3, generator=g), torch.randint(0, 2, (16, 3), generator=g).float()
    spec = losses.get(name)
    value = losses.build_loss(spec, logits=False)(p, y, None)
    assert float(value) == pytest.approx(keras_style(spec.name, p, y), rel=1e-5)


def test_sample_weights_follow_sum_over_batch_size():
    p, y = torch.tensor([[0.0], [2.0]]), torch.tensor([[1.0], [1.0]])
    fn = losses.build_loss(losses.get("mse"), logits=False)
    assert float(fn(p, y, torch.tensor([1.0, 0.0]))) == pytest.approx(0.5)  # (1*1 + 0*1) / 2


def test_binary_logits_and_probability_forms_agree_and_stay_finite():
    logits = torch.tensor([[-50.0], [-3.0], [0.0], [4.0], [60.0]])
    y = torch.tensor([[1.0], [0.0], [1.0], [1.0], [0.0]])
    spec = losses.get("binary_crossentropy")
    from_logits = float(losses.build_loss(spec, logits=True)(logits, y, None))
    reference = float(F.binary_cross_entropy_with_logits(logits, y))
    assert from_logits == pytest.approx(reference)
    assert np.isfinite(from_logits) and from_logits > 10  # extreme wrong logits: large, finite
    probs = float(losses.build_loss(spec, logits=False)(torch.sigmoid(logits), y, None))
    assert np.isfinite(probs)  # clipped like Keras, never inf


def test_sigmoid_model_trains_on_logits_and_reports_the_same_loss():
    """A model ending in Sigmoid: the loss is computed from the pre-sigmoid logits."""
    x, y = make_binary(n=200)
    model = ep.Model(mlp(final=nn.Sigmoid()), device="cpu")
    model.compile(optimizer="adam", loss="bce", seed=0)
    logs = model.evaluate(x, y, verbose=0, batch_size=200)
    with torch.no_grad():
        probs = model.module(torch.from_numpy(x))
        manual = F.binary_cross_entropy(probs, torch.from_numpy(y)[:, None])
    assert logs["loss"] == pytest.approx(float(manual), rel=1e-5)
    assert model._engine is not None and model._engine.forward is not model.module


@pytest.mark.parametrize("final", [None, nn.Sigmoid()], ids=["logits", "probabilities"])
def test_logits_and_probability_models_both_train_to_high_accuracy(final):
    x, y = make_binary(n=400)
    model = ep.Model(mlp(final=final), device="cpu")
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["accuracy"],
        learning_rate=0.01,
        seed=0,
    )
    history = model.fit(x, y, epochs=15, verbose=0)
    assert history.history["accuracy"][-1] > 0.95
    preds = model.predict(x, verbose=0)
    if final is None:
        assert (preds < 0).any() or (preds > 1).any()  # predict returns the module's logits
    else:
        assert ((preds >= 0) & (preds <= 1)).all()


def test_functional_sigmoid_inside_forward_is_detected():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = mlp()

        def forward(self, x):
            return torch.sigmoid(self.body(x))

    x, y = make_binary(n=300)
    model = ep.Model(Functional(), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], learning_rate=0.01, seed=0)
    history = model.fit(x, y, epochs=10, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    with torch.no_grad():
        out = model.module(torch.from_numpy(x))
    expected = F.binary_cross_entropy(out.clamp(1e-7, 1 - 1e-7), torch.from_numpy(y)[:, None])
    assert model.evaluate(x, y, verbose=0, batch_size=300)["loss"] == pytest.approx(
        float(expected), rel=1e-4
    )


@pytest.mark.parametrize("final", [None, nn.Softmax(dim=-1)], ids=["logits", "softmax"])
def test_softmax_and_logit_multiclass_models(final):
    x, y = make_multiclass()
    model = ep.Model(mlp(features=8, out=3, final=final), device="cpu")
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        learning_rate=0.01,
        seed=0,
    )
    history = model.fit(x, y, epochs=15, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


def test_explicit_from_logits_contradicting_the_model_is_refused():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(10, 1)

        def forward(self, x):
            return torch.sigmoid(self.lin(x))

    x, y = make_binary(n=50)
    model = ep.Model(Functional(), device="cpu")
    model.compile(optimizer="adam", loss=losses.LossSpec("binary_crossentropy", "binary", True))
    with pytest.raises(
        ArgumentError, match=r"from_logits=True, but the model's output comes from a sigmoid"
    ):
        model.fit(x, y, verbose=0)


def test_logit_outputs_with_probability_loss_warn():
    x, y = make_binary(n=50)
    model = ep.Model(mlp(), device="cpu")
    model.compile(
        optimizer="adam", loss=losses.LossSpec("binary_crossentropy", "binary", False), seed=0
    )
    with pytest.warns(RuntimeWarning, match=r"they look like logits"):
        model.fit(x, y, verbose=0)


def test_custom_callable_and_module_losses():
    x, y = make_binary(n=200)

    def my_mse(y_pred, y_true):
        return ((y_pred - y_true.view_as(y_pred)) ** 2).mean()

    for loss in (my_mse, nn.BCEWithLogitsLoss()):
        model = ep.Model(mlp(), device="cpu")
        model.compile(optimizer="adam", loss=loss, seed=0, learning_rate=0.01)
        if isinstance(loss, nn.Module):
            history = model.fit(x, y[:, None], epochs=5, verbose=0)
        else:
            history = model.fit(x, y, epochs=5, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0]


def test_baseline_loss_is_the_constant_predictor():
    y = torch.tensor([[1.0], [0.0], [0.0], [0.0]])
    prior = 0.25
    expected = -(prior * np.log(prior) + (1 - prior) * np.log(1 - prior))
    assert losses.baseline_loss(losses.get("bce"), y) == pytest.approx(expected, rel=1e-5)
    ym = torch.tensor([[1.0], [3.0]])
    assert losses.baseline_loss(losses.get("mse"), ym) == pytest.approx(1.0)


# -- prepare_targets: one function per loss kind, same contract -------------------------------


def spec(name: str) -> losses.LossSpec:
    return losses.get(name)


@pytest.mark.parametrize(
    ("name", "y", "out", "shape", "dtype"),
    [
        ("bce", torch.tensor([0, 1, 1]), torch.zeros(3, 1), (3, 1), torch.float32),
        ("bce", torch.tensor([[0.0], [1.0]]), torch.zeros(2, 1), (2, 1), torch.float32),
        ("bce", torch.tensor([True, False]), torch.zeros(2, 1), (2, 1), torch.float32),
        ("mse", torch.ones(2, 3, 1), torch.zeros(2, 3), (2, 3), torch.float32),
        ("mse", torch.ones(2, 1, dtype=torch.float64), torch.zeros(2, 1), (2, 1), torch.float32),
        ("cce", torch.eye(3), torch.zeros(3, 3), (3, 3), torch.float32),
        ("scce", torch.tensor([0, 2]), torch.zeros(2, 3), (2,), torch.int64),
        ("scce", torch.tensor([[0.0], [2.0]]), torch.zeros(2, 3), (2,), torch.int64),
        ("scce", torch.tensor([[0, 1]]), torch.zeros(1, 2, 3), (1, 2), torch.int64),
    ],
)
def test_prepare_targets_conforms_shape_and_dtype(name, y, out, shape, dtype):
    got = losses.prepare_targets(spec(name), y, out)
    assert tuple(got.shape) == shape and got.dtype == dtype


@pytest.mark.parametrize(
    ("name", "y", "out", "message"),
    [
        ("bce", torch.tensor([0.0, 7.0]), torch.zeros(2, 1), r"in \[0, 1\]"),
        ("bce", torch.tensor([0.0, float("nan")]), torch.zeros(2, 1), r"in \[0, 1\]"),
        ("bce", torch.ones(2, 2), torch.zeros(2, 1), r"shape \(N, 2\) does not fit"),
        ("cce", torch.tensor([0, 2]), torch.zeros(2, 3), "sparse_categorical_crossentropy"),
        ("scce", torch.eye(3), torch.zeros(3, 3), "looks one-hot"),
        ("scce", torch.tensor([0.5, 1.0]), torch.zeros(2, 3), "non-integer"),
        ("scce", torch.tensor([0, 3]), torch.zeros(2, 3), r"labels in \[0, 3\]"),
        ("scce", torch.tensor([-1, 0]), torch.zeros(2, 3), r"labels in \[-1, 0\]"),
        ("scce", torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 3), "Expected labels of"),
        ("mse", torch.zeros(2, 3), torch.zeros(2, 2), "does not fit"),
        ("mse", torch.zeros(2, 1, dtype=torch.complex64), torch.zeros(2, 1), "numeric"),
    ],
)
def test_prepare_targets_refuses_what_the_loss_cannot_use(name, y, out, message):
    with pytest.raises(DataError, match=message):
        losses.prepare_targets(spec(name), y, out, where="y")


def test_prepare_targets_without_value_checks_skips_only_the_values():
    y = losses.prepare_targets(
        spec("scce"), torch.tensor([0, 9]), torch.zeros(2, 3), check_values=False
    )
    assert y.tolist() == [0, 9]
    with pytest.raises(DataError):
        losses.prepare_targets(spec("scce"), torch.eye(3), torch.zeros(3, 3), check_values=False)


def test_prepare_targets_names_where_and_leaves_custom_losses_alone():
    with pytest.raises(DataError, match="`x batch 4 y`"):
        losses.prepare_targets(
            spec("bce"), torch.tensor([3.0]), torch.zeros(1, 1), where="x batch 4 y"
        )
    custom = losses.get(lambda p, y: (p - y).abs().mean())
    anything = {"a": 1}
    assert losses.prepare_targets(custom, anything, torch.zeros(1)) is anything
