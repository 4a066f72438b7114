"""Bad input: a clear error before any training, naming the argument, and nothing changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import epochal as ep
from _util import make_binary, make_multiclass, mlp, state_equal
from epochal.errors import (
    ArgumentError,
    ArgumentTypeError,
    DataError,
    EpochalError,
    NotCompiledError,
)

X, Y = make_binary(n=100)


def trained_model() -> ep.Model:
    """A model one epoch into its run, so 'untouched' covers optimizer and run state too."""
    model = ep.Model(mlp(dropout=0.2), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
    model.fit(X, Y, epochs=1, verbose=0)
    return model


def snapshot(model: ep.Model) -> dict:
    return {
        "weights": {k: v.clone() for k, v in model.module.state_dict().items()},
        "optimizer": repr(model.optimizer.state_dict()),
        "epoch": model.run.epoch,
        "step": model.run.step,
        "history": repr(model.history.history),
        "rng": model.run.rng_state.clone(),
        "callbacks": repr(model.run.callback_states),
    }


def assert_untouched(model: ep.Model, before: dict) -> None:
    after = snapshot(model)
    assert state_equal(before["weights"], after["weights"])
    assert before["optimizer"] == after["optimizer"]
    assert (before["epoch"], before["step"]) == (after["epoch"], after["step"])
    assert before["history"] == after["history"]
    assert torch.equal(before["rng"], after["rng"])
    assert before["callbacks"] == after["callbacks"]


x_nan = X.copy()
x_nan[3, 2] = np.nan
x_inf = X.copy()
x_inf[5, 0] = np.inf

FIT_CASES = [
    (
        "length mismatch",
        dict(x=X, y=Y[:90]),
        DataError,
        r"Expected `x` and `y` to have the same number of samples\. Received: x with 100 samples, y with 90",
    ),
    ("empty", dict(x=X[:0], y=Y[:0]), DataError, r"Expected `x` to hold at least one sample"),
    (
        "batch_size 0",
        dict(x=X, y=Y, batch_size=0),
        ArgumentError,
        r"Expected `batch_size` to be a positive int\. Received: batch_size=0",
    ),
    ("batch_size negative", dict(x=X, y=Y, batch_size=-4), ArgumentError, r"batch_size=-4"),
    (
        "epochs negative",
        dict(x=X, y=Y, epochs=-1),
        ArgumentError,
        r"Expected `epochs` to be an int >= 0\. Received: epochs=-1",
    ),
    (
        "validation_split 1",
        dict(x=X, y=Y, validation_split=1.0),
        ArgumentError,
        r"Expected `validation_split` to be a float in \[0, 1\)\. Received: validation_split=1\.0",
    ),
    (
        "validation_split negative",
        dict(x=X, y=Y, validation_split=-0.1),
        ArgumentError,
        r"validation_split=-0\.1",
    ),
    (
        "validation_split with iterable",
        dict(x=[(torch.zeros(4, 10), torch.zeros(4))], validation_split=0.2),
        ArgumentError,
        r"`validation_split` is only supported for in-memory arrays",
    ),
    (
        "validation_data wrong length",
        dict(x=X, y=Y, validation_data=(X,)),
        ArgumentError,
        r"Expected `validation_data` to be \(x_val, y_val\) or \(x_val, y_val, sample_weight\)\. "
        r"Received a tuple of length 1",
    ),
    (
        "validation_data mismatched",
        dict(x=X, y=Y, validation_data=(X, Y[:5])),
        DataError,
        r"`validation_data x` and `validation_data y` to have the same number of samples",
    ),
    (
        "validation_data y shape",
        dict(x=X, y=Y, validation_data=(X, np.zeros((100, 3), np.float32))),
        DataError,
        r"does not fit model outputs of shape \(N, 1\)",
    ),
    (
        "class_weight with sample_weight",
        dict(x=X, y=Y, class_weight={0: 1, 1: 2}, sample_weight=np.ones(100)),
        ArgumentError,
        r"`class_weight` and `sample_weight` cannot be used together",
    ),
    (
        "class_weight missing class",
        dict(x=X, y=Y, class_weight={0: 1.0}),
        ArgumentError,
        r"`class_weight` has no weight for classes \[1\]",
    ),
    (
        "sample_weight shape",
        dict(x=X, y=Y, sample_weight=np.ones(50)),
        DataError,
        r"Expected `sample_weight` to have shape \(100,\)",
    ),
    (
        "nan in x",
        dict(x=x_nan, y=Y),
        DataError,
        r"Expected `x` to contain only finite values\. Received 1 NaN and 0 Inf values.*check_finite=False",
    ),
    ("inf in x", dict(x=x_inf, y=Y), DataError, r"Received 0 NaN and 1 Inf"),
    (
        "y shape for bce",
        dict(x=X, y=np.zeros((100, 2), np.float32)),
        DataError,
        r"Loss 'binary_crossentropy': `y` of shape \(N, 2\) does not fit model outputs of shape \(N, 1\)",
    ),
    (
        "y values for bce",
        dict(x=X, y=Y * 2 + 1),
        DataError,
        r"binary_crossentropy expects `y` in \[0, 1\].*Received values in \[1, 3\]",
    ),
    ("y dtype", dict(x=X, y=np.array(["a"] * 100)), DataError, r"Expected `y` to hold numbers"),
    ("x type", dict(x="data.csv", y=Y), ArgumentTypeError, r"Expected `x` to be a numpy array"),
    ("x None", dict(x=None, y=Y), ArgumentError, r"Expected `x` to be data\. Received: x=None"),
    ("y missing", dict(x=X), ArgumentError, r"Expected `y` \(the targets\) for in-memory `x`"),
    (
        "y with dataloader",
        dict(
            x=torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(torch.zeros(4, 10), torch.zeros(4))
            ),
            y=Y,
        ),
        ArgumentError,
        r"`y` must not be given when `x` is a DataLoader",
    ),
    (
        "verbose",
        dict(x=X, y=Y, verbose=3),
        ArgumentError,
        r"Expected `verbose` to be 0, 1, 2 or 'auto'\. Received: verbose=3",
    ),
    (
        "callbacks type",
        dict(x=X, y=Y, callbacks=[print]),
        ArgumentTypeError,
        r"Expected every entry of `callbacks` to be an epochal Callback instance",
    ),
    (
        "validation_freq",
        dict(x=X, y=Y, validation_freq=0),
        ArgumentError,
        r"Expected `validation_freq` to be a positive int or a list",
    ),
    ("steps_per_epoch", dict(x=X, y=Y, steps_per_epoch=0), ArgumentError, r"steps_per_epoch=0"),
    (
        "initial_epoch > epochs",
        dict(x=X, y=Y, epochs=1, initial_epoch=3),
        ArgumentError,
        r"`epochs` is the index of the final epoch",
    ),
    (
        "batch_size with dataloader",
        dict(
            x=torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(torch.zeros(4, 10), torch.zeros(4))
            ),
            batch_size=8,
        ),
        ArgumentError,
        r"`batch_size` cannot be set when x is a DataLoader",
    ),
    # issue 13: shapes that do not fit, named before any step
    (
        "feature count",
        dict(x=X[:, :7], y=Y),
        DataError,
        r"`x` of shape \(N, 7\) does not fit the model: expected shape \(N, 10\)",
    ),
    (
        "validation feature count",
        dict(x=X, y=Y, validation_data=(X[:, :3], Y)),
        DataError,
        r"`validation_data` of shape \(N, 3\) does not fit the model: expected shape \(N, 10\)",
    ),
    ("no features", dict(x=X[:, :0], y=Y), DataError, r"`x` to hold at least one feature"),
    ("dict for one input", dict(x={"a": X}, y=Y), DataError, r"`x` is a dict with keys \['a'\]"),
    (
        "iterable feature count",
        dict(x=[(torch.zeros(4, 9), torch.zeros(4))]),
        DataError,
        r"`x` of shape \(N, 9\) does not fit",
    ),
    # issue 13: weights
    (
        "class_weight NaN",
        dict(x=X, y=Y, class_weight={0: float("nan"), 1: 1.0}),
        ArgumentError,
        r"class_weight\[0\]=nan",
    ),
    (
        "class_weight inf",
        dict(x=X, y=Y, class_weight={0: 1.0, 1: float("inf")}),
        ArgumentError,
        r"finite numbers >= 0",
    ),
    (
        "sample_weight negative",
        dict(x=X, y=Y, sample_weight=-np.ones(100, np.float32)),
        DataError,
        r"`sample_weight` to hold weights >= 0",
    ),
    (
        "sample_weight NaN, check_finite off",
        dict(x=X, y=Y, sample_weight=np.full(100, np.nan, np.float32), check_finite=False),
        DataError,
        r"`sample_weight` to hold finite weights",
    ),
    (
        "first batch targets out of range",
        dict(x=[(torch.zeros(4, 10), torch.full((4,), 3.0))]),
        DataError,
        r"binary_crossentropy expects `y` in \[0, 1\]",
    ),
]


@pytest.mark.parametrize(
    ("case", "kwargs", "error", "message"), FIT_CASES, ids=[c[0] for c in FIT_CASES]
)
def test_bad_fit_input_raises_before_training_and_changes_nothing(case, kwargs, error, message):
    model = trained_model()
    es = ep.EarlyStopping(monitor="loss", patience=3)
    before = snapshot(model)
    kwargs = {"verbose": 0, **kwargs}
    with pytest.raises(error, match=message):
        model.fit(callbacks=kwargs.pop("callbacks", [es]), **kwargs)
    assert_untouched(model, before)
    assert issubclass(error, EpochalError)


def test_nan_check_can_be_turned_off():
    model = trained_model()
    x = X.copy()
    x[0, 0] = np.nan
    model.fit(x, Y, epochs=1, verbose=0, check_finite=False)
    assert model.run.epoch == 2


def test_fit_and_evaluate_before_compile():
    model = ep.Model(mlp(), device="cpu")
    with pytest.raises(
        NotCompiledError,
        match=r"call model\.compile\(optimizer=\.\.\., loss=\.\.\.\) before model\.fit\(\)",
    ):
        model.fit(X, Y)
    with pytest.raises(NotCompiledError, match=r"before model\.evaluate\(\)"):
        model.evaluate(X, Y)
    assert isinstance(model.predict(X, verbose=0), np.ndarray)  # predict needs no compile


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            dict(optimizer="adamm", loss="bce"),
            ArgumentError,
            r"Unknown optimizer: optimizer='adamm'\. Expected one of: adadelta, adagrad, adam, adamax, adamw, nadam, radam, rmsprop, sgd",
        ),
        (dict(optimizer=3, loss="bce"), ArgumentTypeError, r"Expected `optimizer` to be a name"),
        (
            dict(optimizer="adam", loss="binary_crossentropyy"),
            ArgumentError,
            r"Unknown loss: loss='binary_crossentropyy'\. Expected one of: .*binary_crossentropy.*mse",
        ),
        (dict(optimizer="adam", loss=None), ArgumentError, r"Expected `loss`.*Received: loss=None"),
        (
            dict(optimizer="adam", loss="bce", metrics=["acc", "presicion"]),
            ArgumentError,
            r"Unknown metric: 'presicion'\. Expected one of: .*accuracy.*precision",
        ),
        (
            dict(optimizer="adam", loss="bce", metrics="accuracy"),
            ArgumentTypeError,
            r"Expected `metrics` to be a list",
        ),
        (
            dict(optimizer="adam", loss="bce", learning_rate=-1),
            ArgumentError,
            r"Expected `learning_rate` to be a positive number\. Received: learning_rate=-1",
        ),
        (
            dict(optimizer="adam", loss="bce", seed="0"),
            ArgumentTypeError,
            r"Expected `seed` to be an int",
        ),
    ],
)
def test_bad_compile_arguments(kwargs, error, message):
    model = trained_model()
    before = snapshot(model)
    with pytest.raises(error, match=message):
        model.compile(**kwargs)
    assert_untouched(model, before)


def test_model_requires_a_module():
    with pytest.raises(
        ArgumentTypeError, match=r"Expected `module` to be a torch\.nn\.Module\. Received: function"
    ):
        ep.Model(lambda x: x)


def test_sparse_labels_out_of_range_and_one_hot_confusions():
    x, y = make_multiclass()
    model = ep.Model(mlp(features=8, out=3), device="cpu")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(
        DataError, match=r"holds labels in \[0, 5\] but the model outputs 3 classes"
    ):
        model.fit(x, np.where(y == 2, 5, y), verbose=0)
    with pytest.raises(DataError, match=r"looks one-hot\. Use loss='categorical_crossentropy'"):
        model.fit(x, np.eye(3, dtype=np.float32)[y], verbose=0)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(DataError, match=r"Use loss='sparse_categorical_crossentropy'"):
        model.fit(x, y, verbose=0)
    assert model.optimizer is None  # nothing was built by the failed calls


def test_unknown_early_stopping_mode_and_unknown_direction():
    with pytest.raises(
        ArgumentError, match=r"EarlyStopping: expected `mode` to be one of 'auto', 'min', 'max'"
    ):
        ep.EarlyStopping(mode="maximize")
    model = ep.Model(mlp(), device="cpu")

    def custom(y_pred, y_true):
        return y_pred.mean()

    model.compile(optimizer="adam", loss="bce", metrics=[custom])
    with pytest.raises(
        ArgumentError, match=r"cannot tell whether monitor='custom' should be minimized"
    ):
        model.fit(X, Y, verbose=0, callbacks=[ep.EarlyStopping(monitor="custom")])


def test_model_output_not_a_tensor_with_named_loss():
    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(10, 1)

        def forward(self, x):
            return self.lin(x), x

    model = ep.Model(Pair(), device="cpu")
    model.compile(optimizer="adam", loss="mse")
    # A named loss applies to every output (as in Keras): one target array is not enough.
    with pytest.raises(DataError, match=r"2 outputs .*expected `y` as a list of 2 arrays"):
        model.fit(X, Y, verbose=0)
    assert model.optimizer is None and model.run.epoch == 0
