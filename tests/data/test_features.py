"""Input dtypes as Keras, shape errors naming the argument, lazy models left unbuilt on failure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import epochal as ep
from _util import make_binary, mlp, state_equal
from epochal.data._features import FeatureCast
from epochal.errors import DataError, EpochalError
from epochal.layers import Dense, Embedding

X, Y = make_binary(n=64, features=4)
XI = np.round(X * 3).astype(np.int64)  # integer features


def model(module: nn.Module | ep.Model | None = None, **compile_kwargs) -> ep.Model:
    """A compiled model; an ``ep.Sequential`` is a Model already."""
    if isinstance(module, ep.Model):
        m = module
    else:
        m = ep.Model(module if module is not None else mlp(features=4, hidden=8), device="cpu")
    m.compile(**{"optimizer": "sgd", "loss": "bce", "seed": 0, **compile_kwargs})
    return m


def snapshot(m: ep.Model) -> dict:
    return {
        "weights": {k: v.clone() for k, v in m.module.state_dict().items()},
        "optimizer": repr(m.optimizer.state_dict()) if m.optimizer is not None else None,
        "run": (m.run.epoch, m.run.step, repr(m.history.history)),
    }


def assert_untouched(m: ep.Model, before: dict) -> None:
    after = snapshot(m)
    assert state_equal(before["weights"], after["weights"])
    assert before["optimizer"] == after["optimizer"]
    assert before["run"] == after["run"]


# -- point 2: dtypes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [
        lambda a: a.astype(np.int64),
        lambda a: a.astype(np.int32),
        lambda a: a.astype(np.float16),
        lambda a: torch.from_numpy(a).to(torch.bfloat16),
        lambda a: torch.from_numpy(a).to(torch.float16),
        lambda a: torch.from_numpy(a).to(torch.int16),
        lambda a: a > 0,
        lambda a: pd.DataFrame(a.astype(np.int64), columns=list("abcd")),
        lambda a: pd.DataFrame(a > 0, columns=list("abcd")),
    ],
    ids=[
        "int64",
        "int32",
        "np-float16",
        "bfloat16",
        "float16",
        "int16",
        "bool",
        "pd-int",
        "pd-bool",
    ],
)
def test_integer_bool_and_half_features_train_evaluate_and_predict(convert):
    m = model()
    x = convert(XI)
    m.fit(x, Y, epochs=2, batch_size=16, verbose=0, validation_data=(x, Y))
    assert np.isfinite(m.history.history["loss"]).all()
    assert set(m.evaluate(x, Y, verbose=0)) == {"loss"}
    out = m.predict(x, verbose=0)
    assert out.shape == (64, 1)
    assert out.dtype in (np.float32, torch.float32)
    assert next(m.module.parameters()).dtype == torch.float32


def test_integer_features_train_exactly_as_their_float_copy():
    a, b = model(), model()
    a.fit(XI, Y, epochs=2, batch_size=16, verbose=0)
    b.fit(XI.astype(np.float32), Y, epochs=2, batch_size=16, verbose=0)
    assert state_equal(a.module.state_dict(), b.module.state_dict())
    assert a.history.history == b.history.history


def test_uint8_images_train_with_epochal_layers():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(32, 6, 6), dtype=np.uint8)
    labels = (images.mean(axis=(1, 2)) > 127).astype(np.float32)
    m = model(ep.Sequential([ep.layers.Flatten(), Dense(4, "relu"), Dense(1)]))
    m.fit(images, labels, epochs=1, batch_size=8, verbose=0)
    assert m.predict(images[:3], verbose=0).dtype == np.float32


class IntBatches(Dataset):
    def __len__(self) -> int:
        return len(XI)

    def __getitem__(self, i: int):
        return torch.from_numpy(XI[i]).to(torch.uint8 if i % 2 else torch.int64), torch.tensor(
            Y[i : i + 1]
        )


@pytest.mark.parametrize("kind", ["dataset", "dataloader", "list"])
def test_integer_batches_of_iterables_are_cast_batch_by_batch(kind):
    xs = torch.from_numpy(XI).clamp_min(0).to(torch.uint8)
    ys = torch.from_numpy(Y)[:, None]
    data = {
        "dataset": IntBatches(),
        "dataloader": DataLoader(IntBatches(), batch_size=16),
        "list": [(xs[i : i + 16], ys[i : i + 16]) for i in range(0, 64, 16)],
    }[kind]
    m = model()
    m.fit(data, epochs=2, verbose=0, validation_data=data)
    assert np.isfinite(m.history.history["val_loss"]).all()
    m.evaluate(data, verbose=0)


def test_a_float64_model_gets_float64_features():
    m = model(mlp(features=4, hidden=8).double())
    m.fit(X.astype(np.float64), Y, epochs=1, verbose=0)
    m.fit(XI, Y, epochs=1, verbose=0)
    assert m.predict(X, verbose=0).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int16])
def test_indices_feeding_an_embedding_stay_integer(dtype):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 10, size=(40, 5)).astype(dtype)
    y = (ids.sum(axis=1) > 22).astype(np.float32)
    torch.manual_seed(0)
    for module in (
        nn.Sequential(nn.Embedding(10, 3), nn.Flatten(), nn.Linear(15, 1)),
        ep.Sequential([Embedding(10, 3), ep.layers.Flatten(), Dense(1)]),
    ):
        m = model(module)
        m.fit(ids, y, epochs=1, batch_size=8, verbose=0)
        assert m.predict(ids, verbose=0).shape == (40, 1)


def test_the_dtype_rule_reads_the_first_layer_and_multi_input_embeddings():
    ids = torch.arange(6).reshape(3, 2)
    assert FeatureCast(nn.Sequential(nn.Embedding(9, 2)))(ids).dtype == torch.int64
    assert FeatureCast(nn.Sequential(nn.Linear(2, 1)))(ids).dtype == torch.float32

    class TwoInputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Linear(2, 1)
            self.emb = nn.EmbeddingBag(9, 1)

        def forward(self, a, ids):  # pragma: no cover - only the rule is read
            return self.dense(a) + self.emb(ids)

    cast = FeatureCast(TwoInputs())
    out = cast((torch.ones(3, 2, dtype=torch.float16), ids.to(torch.uint8)))
    assert out[0].dtype == torch.float32 and out[1].dtype == torch.int64


def test_a_float16_first_batch_does_not_make_a_lazy_model_float16():
    m = model(ep.Sequential([Dense(4, "relu"), Dense(1)]))
    m.fit(X.astype(np.float16), Y, epochs=1, verbose=0)
    assert {p.dtype for p in m.module.parameters()} == {torch.float32}
    m.fit(X, Y, epochs=1, verbose=0)  # float32 data keeps working on it


def test_a_bfloat16_dataloader_first_batch_does_not_make_a_lazy_model_bfloat16():
    xs = torch.from_numpy(X).to(torch.bfloat16)
    data = DataLoader(list(zip(xs, torch.from_numpy(Y)[:, None], strict=True)), batch_size=16)
    m = model(ep.Sequential([Dense(4, "relu"), Dense(1)]))
    m.fit(data, epochs=1, verbose=0)
    assert {p.dtype for p in m.module.parameters()} == {torch.float32}


# -- point 3: shapes --------------------------------------------------------------------------


def trained() -> ep.Model:
    m = model()
    m.fit(X, Y, epochs=1, verbose=0)
    return m


X5 = np.ones((10, 5), np.float32)
Y10 = np.ones(10, np.float32)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda m: m.fit(X5, Y10, verbose=0), "`x`"),
        (lambda m: m.fit(X, Y, validation_data=(X5, Y10), verbose=0), "`validation_data`"),
        (lambda m: m.evaluate(X5, Y10, verbose=0), "`x`"),
        (lambda m: m.predict(X5, verbose=0), "`x`"),
        (lambda m: m.fit([(torch.ones(4, 5), torch.ones(4, 1))], verbose=0), "`x`"),
        (
            lambda m: m.fit(X, Y, validation_data=[(torch.ones(4, 5), torch.ones(4))], verbose=0),
            "`validation_data`",
        ),
    ],
)
def test_a_feature_count_that_does_not_fit_names_the_argument_and_shapes(call, name):
    m = trained()
    before = snapshot(m)
    with pytest.raises(DataError) as info:
        call(m)
    message = str(info.value)
    assert name in message
    assert "(N, 5)" in message  # received
    assert "(N, 4)" in message or "(N, ..., 4)" in message  # expected
    assert_untouched(m, before)


def test_the_expected_shape_is_named_before_the_first_fit_too():
    m = model()
    with pytest.raises(DataError, match=r"`x` of shape \(N, 5\) does not fit.*\(N, \.\.\., 4\)"):
        m.fit(X5, Y10, verbose=0)
    m.fit(X, Y, epochs=1, verbose=0)


@pytest.mark.parametrize("what", ["fit", "evaluate", "predict", "validation"])
def test_features_of_width_zero_are_refused(what):
    m = trained()
    before = snapshot(m)
    empty = np.zeros((10, 0), np.float32)
    with pytest.raises(DataError, match="at least one feature"):
        if what == "fit":
            m.fit(empty, Y10, verbose=0)
        elif what == "evaluate":
            m.evaluate(empty, Y10, verbose=0)
        elif what == "predict":
            m.predict(empty, verbose=0)
        else:
            m.fit(X, Y, validation_data=(empty, Y10), verbose=0)
    assert_untouched(m, before)


def test_width_zero_is_refused_for_a_lazy_model_which_stays_unbuilt():
    m = model(ep.Sequential([Dense(3), Dense(1)]))
    with pytest.raises(DataError, match="at least one feature"):
        m.fit(np.zeros((10, 0), np.float32), Y10, verbose=0)
    m.fit(X, Y, epochs=1, verbose=0)
    assert m.module.layers[0].in_features == 4


@pytest.mark.parametrize("what", ["fit", "evaluate", "predict"])
def test_a_dict_for_a_single_input_module_is_refused_naming_x(what):
    m = trained()
    before = snapshot(m)
    x = {"features": X}
    with pytest.raises(DataError, match=r"`x` is a dict with keys \['features'\]"):
        if what == "fit":
            m.fit(x, Y, verbose=0)
        elif what == "evaluate":
            m.evaluate(x, Y, verbose=0)
        else:
            m.predict(x, verbose=0)
    assert_untouched(m, before)


def test_a_tuple_of_two_arrays_for_a_single_input_module_is_refused():
    m = trained()
    with pytest.raises(DataError, match="tuple of 2 arrays"):
        m.fit((X, X), Y, verbose=0)


def test_a_refused_first_fit_leaves_a_lazy_model_unbuilt():
    m = model(ep.Sequential([Dense(8, "relu"), Dense(1)]))
    with pytest.raises(DataError):
        m.fit(np.ones((10, 3), np.float32), np.ones((10, 2), np.float32), verbose=0)  # bad y
    assert all(not layer.built for layer in m.module.layers)
    m.fit(X, Y, epochs=1, verbose=0)  # the corrected call, another width
    assert m.module.layers[0].in_features == 4


def test_a_validation_set_of_another_width_leaves_a_lazy_model_unbuilt():
    m = model(ep.Sequential([Dense(8, "relu"), Dense(1)]))
    with pytest.raises(DataError, match="`validation_data`"):
        m.fit(X, Y, validation_data=(X5, Y10), verbose=0)
    assert not m.module.layers[0].built
    m.fit(X5, Y10, epochs=1, verbose=0)
    assert m.module.layers[0].in_features == 5


def test_a_refused_first_fit_leaves_torch_lazy_modules_uninitialized():
    m = model(nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 1)))
    with pytest.raises(EpochalError):
        m.fit(np.ones((10, 3), np.float32), np.full(10, 7.0, np.float32), verbose=0)
    assert isinstance(m.module[0], nn.LazyLinear)
    m.fit(X, Y, epochs=1, verbose=0)
    assert m.module[0].weight.shape == (4, 4)


def test_a_refused_predict_leaves_a_lazy_model_unbuilt():
    m = model(ep.Sequential([Dense(8), Dense(1)]))
    with pytest.raises(DataError):
        m.predict({"a": X}, verbose=0)
    assert not m.module.layers[0].built


def test_float_ids_for_an_embedding_become_integer_ids():
    rng = np.random.default_rng(1)
    ids = pd.DataFrame(rng.integers(0, 10, size=(24, 3)).astype(np.float64))
    y = rng.integers(0, 2, size=24).astype(np.float32)
    torch.manual_seed(0)
    m = model(nn.Sequential(nn.Embedding(10, 2), nn.Flatten(), nn.Linear(6, 1)))
    m.fit(ids, y, epochs=1, batch_size=8, verbose=0)
    assert m.predict(ids.to_numpy(), verbose=0).shape == (24, 1)


def test_a_convolution_names_its_channels_as_the_expected_shape():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.LazyLinear(1))
    m = model(module, loss="mse")
    images = np.zeros((4, 1, 8, 8), np.uint8)
    with pytest.raises(
        DataError, match=r"`x` of shape \(N, 1, 8, 8\).*expected shape \(N, 3, \?, \?\)"
    ):
        m.fit(images, np.zeros(4, np.float32), verbose=0)
    assert isinstance(m.module[2], nn.LazyLinear)  # left unbuilt
    m.fit(np.zeros((4, 3, 8, 8), np.uint8), np.zeros(4, np.float32), verbose=0)


def test_an_embedding_names_its_id_range_when_ids_are_out_of_range():
    torch.manual_seed(0)
    m = model(nn.Sequential(nn.Embedding(5, 2), nn.Flatten(), nn.Linear(6, 1)))
    with pytest.raises(DataError, match=r"expected integer ids in \[0, 4\]"):
        m.fit(np.full((4, 3), 9), np.zeros(4, np.float32), verbose=0)
