"""epochal.sklearn: scikit-learn's estimator checks, model selection, same bits, warm start."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import epochal as ep
from epochal.sklearn import Classifier, Regressor


@pytest.mark.slow
@parametrize_with_checks(
    [Classifier(epochs=50, random_state=0), Regressor(epochs=50, random_state=0)]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def classification(n: int = 120, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_classes=classes,
        class_sep=2.0,
        random_state=0,
    )
    return x.astype(np.float32), y


def regression(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_regression(n_samples=n, n_features=5, noise=0.1, random_state=0)
    return x.astype(np.float32), (y / y.std()).astype(np.float32)


def weights(est) -> list[torch.Tensor]:
    return [p.detach().clone() for p in est.module_.parameters()]


def same_bits(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_same_random_state_gives_same_bits():
    x, y = classification()
    a = Classifier(epochs=5, random_state=3).fit(x, y)
    b = Classifier(epochs=5, random_state=3).fit(x, y)
    c = Classifier(epochs=5, random_state=4).fit(x, y)
    assert same_bits(weights(a), weights(b))
    assert not same_bits(weights(a), weights(c))
    assert a.history_.history["loss"] == b.history_.history["loss"]


def test_fit_leaves_torch_global_rng_alone():
    x, y = classification()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Classifier(epochs=2, random_state=0).fit(x, y)
    assert torch.equal(torch.rand(3), expected)


def test_refit_starts_over_and_warm_start_continues_the_run():
    x, y = classification()
    once = Classifier(epochs=6, random_state=0).fit(x, y)
    warm = Classifier(epochs=3, random_state=0, warm_start=True).fit(x, y)
    first = weights(warm)
    warm.fit(x, y)
    assert len(warm.history_.epoch) == 6
    assert same_bits(weights(warm), weights(once))  # split into two fits: the same run
    assert not same_bits(first, weights(warm))
    cold = Classifier(epochs=3, random_state=0).fit(x, y)
    cold.fit(x, y)
    assert len(cold.history_.epoch) == 3
    assert same_bits(weights(cold), first)


def test_warm_start_refuses_other_classes_or_features():
    x, y = classification()
    est = Classifier(epochs=1, random_state=0, warm_start=True).fit(x, y)
    with pytest.raises(ValueError, match="same classes"):
        est.fit(x, np.where(y == 2, 7, y))
    with pytest.raises(ValueError, match="features"):
        est.fit(x[:, :4], y)


def test_classifier_outputs_and_attributes():
    x, y = classification()
    labels = np.array(["cat", "dog", "eel"])[y]
    est = Classifier(epochs=30, random_state=0).fit(x, labels)
    assert list(est.classes_) == ["cat", "dog", "eel"]
    assert est.n_features_in_ == 6
    proba = est.predict_proba(x)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (est.predict(x) == est.classes_[proba.argmax(axis=1)]).all()
    assert est.score(x, labels) > 0.8
    assert isinstance(est.history_, ep.History)
    assert len(est.history_.history["loss"]) == 30


def test_regressor_single_and_multi_output():
    x, y = regression()
    est = Regressor(epochs=40, random_state=0).fit(x, y)
    assert est.predict(x).shape == (120,)
    assert est.score(x, y) > 0.8
    y2 = np.stack([y, -y], axis=1)
    multi = Regressor(epochs=5, random_state=0).fit(x, y2)
    assert multi.predict(x).shape == (120, 2)
    assert multi.n_outputs_ == 2


class Linear(nn.Module):
    def __init__(self, n_features_in: int, n_outputs: int) -> None:
        super().__init__()
        self.fc = nn.Linear(n_features_in, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_module_as_class_factory_or_instance():
    x, y = classification()
    by_class = Classifier(Linear, epochs=2, random_state=0).fit(x, y)
    assert isinstance(by_class.module_, Linear)
    assert by_class.module_.fc.out_features == 3
    calls = []

    def factory(n_in: int, n_out: int) -> nn.Module:
        calls.append((n_in, n_out))
        return nn.Linear(n_in, n_out)

    Regressor(factory, epochs=1, random_state=0).fit(*regression())
    assert calls == [(5, 1)]
    given = nn.Linear(6, 3)
    before = given.weight.detach().clone()
    est = Classifier(given, epochs=2, random_state=0).fit(x, y)
    assert torch.equal(given.weight, before)  # the user's module is copied, not trained
    assert not torch.equal(est.module_.weight, before)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": -1}, "batch_size"),
        ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes"),
        ({"activation": "swish"}, "activation"),
        ({"validation_split": 1.5}, "validation_split"),
        ({"module": 3}, "module"),
        ({"module": lambda n_in, n_out: "not a module"}, "nn.Module"),
    ],
)
def test_bad_parameters_are_clear_errors_at_fit(params, match):
    x, y = classification()
    est = Classifier(**params)  # scikit-learn's rule: __init__ stores, fit checks
    with pytest.raises((ValueError, TypeError), match=match):
        est.fit(x, y)
    assert not hasattr(est, "module_")


def test_one_class_and_unfitted_are_errors():
    x, _ = classification()
    with pytest.raises(ValueError, match="at least 2 classes"):
        Classifier(epochs=1).fit(x, np.zeros(len(x)))
    with pytest.raises(NotFittedError):
        Regressor().predict(x)


def test_clone_pipeline_cross_val_score():
    x, y = classification()
    est = Classifier(hidden_layer_sizes=(16,), epochs=15, random_state=0)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    pipe = make_pipeline(StandardScaler(), est)
    scores = cross_val_score(pipe, x, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.6


def test_grid_search_picks_among_parameters():
    x, y = regression(90)
    grid = GridSearchCV(
        Regressor(epochs=10, random_state=0),
        {"hidden_layer_sizes": [(8,), (32,)], "learning_rate": [1e-3, 1e-2]},
        cv=2,
    )
    grid.fit(x, y)
    assert set(grid.best_params_) == {"hidden_layer_sizes", "learning_rate"}
    assert grid.best_estimator_.predict(x).shape == (90,)


def test_validation_split_and_callbacks_reach_the_run():
    x, y = classification()
    stop = ep.EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0)
    est = Classifier(epochs=50, validation_split=0.25, callbacks=[stop], random_state=0)
    est.fit(x, y)
    assert "val_loss" in est.history_.history
    assert len(est.history_.epoch) < 50


def test_pickle_keeps_predictions_and_warm_start_goes_on():
    x, y = classification()
    est = Classifier(epochs=3, random_state=0, warm_start=True).fit(x, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(x), est.predict_proba(x))
    back.fit(x, y)  # continues from the weights
    assert not same_bits(weights(back), weights(est))
