"""train_on_batch / test_on_batch / predict_on_batch: steps of the run, in both faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import epochal as ep
from _util import make_binary, state_equal
from epochal import keras
from epochal.errors import ArgumentError, NotCompiledError
from epochal.keras import layers

X, Y = make_binary(64, features=6, seed=1)
Y2 = Y[:, None]


def native(seed: int = 0, dropout: bool = True, metrics: tuple[str, ...] = ("accuracy",)):
    torch.manual_seed(seed)
    parts: list[nn.Module] = [nn.Linear(6, 8), nn.ReLU()]
    if dropout:
        parts.append(nn.Dropout(0.3))
    parts += [nn.Linear(8, 1), nn.Sigmoid()]
    model = ep.Model(nn.Sequential(*parts))
    model.compile(optimizer="adam", loss="bce", metrics=list(metrics), seed=seed)
    return model


def batches(size: int = 16):
    return [(X[i : i + size], Y2[i : i + size]) for i in range(0, len(X), size)]


def test_train_on_batch_returns_the_batch_logs_and_counts_a_step():
    model = native()
    logs = model.train_on_batch(X[:16], Y2[:16])
    assert set(logs) == {"loss", "accuracy"} and model.run.step == 1
    loss, accuracy = model.train_on_batch(X[:16], Y2[:16], return_dict=False)
    assert model.run.step == 2 and 0.0 <= accuracy <= 1.0 and loss > 0
    assert model.optimizer is not None


def test_train_on_batch_steps_equal_fit_on_the_same_batches():
    stepped = native()
    for x, y in batches():
        stepped.train_on_batch(x, y)
    fitted = native()
    fitted.fit(X, Y2, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert stepped.run.step == fitted.run.step == 4
    assert state_equal(stepped.module.state_dict(), fitted.module.state_dict())
    # and the run goes on alike: the random state (dropout) is the run's, in both
    stepped.fit(X, Y2, batch_size=16, epochs=1, shuffle=False, verbose=0)
    fitted.fit(X, Y2, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert state_equal(stepped.module.state_dict(), fitted.module.state_dict())


def test_train_on_batch_reports_this_batch_only():
    model = native(dropout=False)
    logs = model.train_on_batch(X[:16], Y2[:16])
    # the loss is the step's (of the weights before it), as fit's per-step losses
    fresh = native(dropout=False)
    before = fresh.test_on_batch(X[:16], Y2[:16])
    assert logs["loss"] == pytest.approx(before["loss"], rel=1e-6)
    assert logs["accuracy"] == pytest.approx(before["accuracy"])


def test_sample_and_class_weight():
    weights = np.where(Y > 0.5, 3.0, 1.0).astype(np.float32)
    a = native(dropout=False)
    b = native(dropout=False)
    la = a.train_on_batch(X[:32], Y2[:32], sample_weight=weights[:32])
    lb = b.train_on_batch(X[:32], Y2[:32], class_weight={0: 1.0, 1: 3.0})
    assert la["loss"] == pytest.approx(lb["loss"], rel=1e-6)
    assert state_equal(a.module.state_dict(), b.module.state_dict())
    with pytest.raises(ArgumentError, match="class_weight"):
        a.train_on_batch(X[:8], Y2[:8], sample_weight=weights[:8], class_weight={0: 1, 1: 2})


def test_bad_calls_change_nothing():
    model = ep.Model(nn.Linear(6, 1))
    with pytest.raises(NotCompiledError):
        model.train_on_batch(X, Y2)
    model = native()
    with pytest.raises(ArgumentError, match="one batch"):
        data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y2))
        model.train_on_batch(torch.utils.data.DataLoader(data, batch_size=8))
    with pytest.raises(ep.errors.DataError):
        model.train_on_batch(X[:8], Y2[:7])
    assert model.run.step == 0


def test_test_and_predict_on_batch_match_evaluate_and_predict():
    model = native()
    model.fit(X, Y2, epochs=1, verbose=0)
    step = model.run.step
    assert model.test_on_batch(X, Y2) == model.evaluate(X, Y2, batch_size=64, verbose=0)
    assert np.array_equal(model.predict_on_batch(X), model.predict(X, verbose=0))
    assert model.run.step == step  # neither trains


def test_save_after_train_on_batch_then_load_continues_bit_for_bit(tmp_path):
    whole = native()
    for x, y in batches():
        whole.train_on_batch(x, y)
    split = native()
    for x, y in batches()[:2]:
        split.train_on_batch(x, y)
    split.save(tmp_path / "ckpt")
    torch.manual_seed(123)  # the user's random state is not the run's
    module = nn.Sequential(
        nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 1), nn.Sigmoid()
    )
    loaded = ep.Model.load(tmp_path / "ckpt", module=module)
    assert loaded.run.step == 2
    for x, y in batches()[2:]:
        loaded.train_on_batch(x, y)
    assert state_equal(loaded.module.state_dict(), whole.module.state_dict())


# -- the Keras face -------------------------------------------------------------------
def keras_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            layers.Dense(8, activation="relu", input_shape=(6,)),
            layers.Dropout(0.3),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def test_keras_return_forms():
    model = keras_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
    loss, accuracy = model.train_on_batch(X[:16], Y2[:16])
    assert isinstance(loss, float) and isinstance(accuracy, float)
    logs = model.train_on_batch(X[:16], Y2[:16], return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert len(model.test_on_batch(X[:16], Y2[:16])) == 2
    assert set(model.test_on_batch(X[:16], Y2[:16], return_dict=True)) == {"loss", "accuracy"}
    assert model.predict_on_batch(X[:5]).shape == (5, 1)
    plain = keras_model()
    plain.compile(optimizer="adam", loss="binary_crossentropy", seed=0)
    assert isinstance(plain.train_on_batch(X[:16], Y2[:16]), float)
    assert isinstance(plain.test_on_batch(X[:16], Y2[:16]), float)
    assert model.optimizer.iterations == 2 and model.run.step == 2


def test_keras_train_on_batch_equals_fit_and_survives_a_keras_file(tmp_path):
    fitted = keras_model()
    fitted.compile(optimizer="adam", loss="binary_crossentropy", seed=0)
    fitted.fit(X, Y2, batch_size=16, epochs=1, shuffle=False, verbose=0)
    fitted.fit(X, Y2, batch_size=16, epochs=1, shuffle=False, verbose=0)
    stepped = keras_model()
    stepped.compile(optimizer="adam", loss="binary_crossentropy", seed=0)
    for x, y in batches()[:3]:
        stepped.train_on_batch(x, y)
    assert stepped.optimizer.iterations == 3  # the Keras surface leaves the optimizer savable
    stepped.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    for x, y in batches()[3:]:
        loaded.train_on_batch(x, y)
    loaded.fit(X, Y2, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert loaded.run.step == 8
    assert state_equal(loaded.state_dict(), fitted.state_dict())


def test_train_on_batch_with_nan_targets_in_the_keras_face():
    model = keras_model()
    model.compile(optimizer="sgd", loss="mse", seed=0)
    y = Y2[:8].copy()
    y[0] = np.nan
    assert np.isnan(model.train_on_batch(X[:8], y))


def test_keras_predict_on_batch_gives_numpy_for_tensors():
    model = keras_model()
    out = model.predict_on_batch(torch.from_numpy(X[:4]))
    assert isinstance(out, np.ndarray) and out.shape == (4, 1)
    assert np.array_equal(out, model.predict(X[:4], verbose=0))


@pytest.mark.parametrize(
    "options",
    [
        {"clipnorm": 0.05, "gradient_accumulation_steps": 2},
        {
            "scheduler": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
            "scheduler_interval": "step",
        },
    ],
    ids=["clip-accumulate", "step-scheduler"],
)
def test_train_on_batch_equals_fit_with_step_options(options):
    def build() -> ep.Model:
        torch.manual_seed(0)
        model = ep.Model(nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1)))
        model.compile(optimizer="sgd", loss="mse", seed=0, **options)
        return model

    stepped = build()
    for x, y in batches():
        stepped.train_on_batch(x, y)
    fitted = build()
    fitted.fit(X, Y2, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert state_equal(stepped.module.state_dict(), fitted.module.state_dict())
    a, b = stepped.optimizer.state_dict(), fitted.optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"]  # rates, and the applied-update count


def test_each_call_reports_its_own_batch_not_a_running_mean():
    model = native(dropout=False)
    model.train_on_batch(X[:16], Y2[:16])
    before = model.test_on_batch(X[16:48], Y2[16:48])  # the weights the next step starts from
    logs = model.train_on_batch(X[16:48], Y2[16:48])
    assert logs["loss"] == pytest.approx(before["loss"], rel=1e-6)
    assert logs["accuracy"] == before["accuracy"]


def test_keras_train_on_batch_builds_a_lazy_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.train_on_batch(X[:8], Y2[:8]), float)
    assert model.built and model.count_params() == 6 * 4 + 4 + 4 + 1


@settings(max_examples=15, deadline=None)
@given(
    batch_size=st.sampled_from([7, 16, 32, 64]),
    epochs=st.integers(1, 3),
    fit_first=st.booleans(),
)
def test_any_mix_of_batches_and_fit_epochs_equals_fit(batch_size, epochs, fit_first):
    """Epochs done batch by batch with train_on_batch, or by fit(shuffle=False): one run."""
    whole = native()
    whole.fit(X, Y2, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    mixed = native()
    for epoch in range(epochs):
        if fit_first and epoch == 0:
            mixed.fit(X, Y2, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
            continue
        for i in range(0, len(X), batch_size):
            mixed.train_on_batch(X[i : i + batch_size], Y2[i : i + batch_size])
    assert mixed.run.step == whole.run.step
    assert state_equal(mixed.module.state_dict(), whole.module.state_dict())
