"""Tables as data: pandas DataFrames, datasets.Dataset and dicts of columns, target by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import epochal as ep
from epochal.data._tables import resolve_table
from epochal.errors import ArgumentError, ArgumentTypeError, DataError

pd = pytest.importorskip("pandas")
datasets = pytest.importorskip("datasets")

N = 120


def columns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    a = rng.normal(size=N).astype(np.float32)
    b = rng.integers(0, 10, size=N)  # integers: converted to float features
    c = rng.integers(0, 2, size=N).astype(bool)
    label = (a + 0.1 * b > 0.5).astype(np.int64)
    return {"a": a, "b": b, "c": c, "label": label}


def model(n_in: int = 3, n_out: int = 1, loss: str = "bce") -> ep.Model:
    torch.manual_seed(0)
    m = ep.Model(nn.Sequential(nn.Linear(n_in, 8), nn.ReLU(), nn.Linear(8, n_out)), device="cpu")
    m.compile(optimizer="adam", loss=loss, metrics=["accuracy"] if loss == "bce" else [], seed=0)
    return m


def arrays() -> tuple[np.ndarray, np.ndarray]:
    cols = columns()
    x = np.stack([cols["a"], cols["b"], cols["c"]], axis=1).astype(np.float32)
    return x, cols["label"]


def weights(m: ep.Model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.module.parameters()]


def tables() -> dict[str, object]:
    cols = columns()
    return {
        "dict": dict(cols),
        "pandas": pd.DataFrame(cols),
        "datasets": datasets.Dataset.from_dict({k: v.tolist() for k, v in cols.items()}),
    }


@pytest.mark.parametrize("kind", ["dict", "pandas", "datasets"])
def test_fit_evaluate_and_validation_on_a_table_equal_the_arrays(kind: str) -> None:
    table = tables()[kind]
    x, y = arrays()
    by_table, by_arrays = model(), model()
    h1 = by_table.fit(table, y="label", epochs=3, verbose=0, validation_data=(table, "label"))
    h2 = by_arrays.fit(x, y, epochs=3, verbose=0, validation_data=(x, y))
    assert all(
        torch.equal(a, b) for a, b in zip(weights(by_table), weights(by_arrays), strict=True)
    )
    assert h1.history == h2.history
    assert by_table.evaluate(table, "label", verbose=0) == by_arrays.evaluate(x, y, verbose=0)


def test_several_target_columns_are_stacked() -> None:
    cols = columns()
    table = {**cols, "label2": 1 - cols["label"]}
    features, target = resolve_table(table, ["label", "label2"], ("x", "y"))
    assert features.shape == (N, 3) and features.dtype == np.float32
    assert target.shape == (N, 2)
    m = model(n_out=2, loss="mse")
    m.fit(table, y=["label", "label2"], epochs=1, verbose=0)


def test_an_array_valued_column_keeps_its_shape() -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(N, 4, 4), dtype=np.uint8)
    ds = datasets.Dataset.from_dict(
        {"image": images.tolist(), "label": columns()["label"].tolist()}
    )
    features, target = resolve_table(ds, "label", ("x", "y"))
    assert features.shape == (N, 4, 4) and features.dtype == np.float32
    assert target.dtype == np.int64
    m = ep.Model(nn.Sequential(nn.Flatten(), nn.Linear(16, 1)), device="cpu")
    m.compile(optimizer="adam", loss="bce", seed=0)
    m.fit(ds, y="label", epochs=1, verbose=0)
    # With other columns the array column is flattened beside them.
    ds2 = ds.add_column("extra", [1.0] * N)
    assert resolve_table(ds2, "label", ("x", "y"))[0].shape == (N, 17)


def test_dataset_columns_one_by_one() -> None:
    ds = tables()["datasets"]
    m = model(n_in=1)
    m.fit(ds["a"], ds["label"], epochs=1, verbose=0)
    x, y = resolve_table(ds["a"], ds["label"], ("x", "y"))
    np.testing.assert_array_equal(x, columns()["a"][:, None])
    np.testing.assert_array_equal(y, columns()["label"])


@pytest.mark.parametrize("kind", ["dict", "pandas", "datasets"])
def test_a_string_column_is_an_error_naming_it(kind: str) -> None:
    cols = {**columns(), "city": np.array(["Paris", "Oslo"] * (N // 2))}
    table = {
        "dict": cols,
        "pandas": pd.DataFrame(cols),
        "datasets": datasets.Dataset.from_dict({k: v.tolist() for k, v in cols.items()}),
    }[kind]
    m = model()
    before = weights(m)
    with pytest.raises(DataError, match="'city'"):
        m.fit(table, y="label", epochs=1, verbose=0)
    assert all(torch.equal(a, b) for a, b in zip(before, weights(m), strict=True))
    assert m.history.epoch == []


def test_a_categorical_column_is_an_error_naming_it() -> None:
    frame = pd.DataFrame(columns())
    frame["size"] = pd.Categorical(["S", "M", "L", "M"] * (N // 4))
    with pytest.raises(DataError, match=r"'size'.*categorical"):
        model().fit(frame, y="label", epochs=1, verbose=0)


def test_naming_errors() -> None:
    x, _ = arrays()
    m = model()
    with pytest.raises(ArgumentError, match=r"'nope'.*\['a', 'b', 'c', 'label'\]"):
        m.fit(tables()["pandas"], y="nope", epochs=1, verbose=0)
    with pytest.raises(ArgumentTypeError, match="names column"):
        m.fit(x, y="label", epochs=1, verbose=0)
    with pytest.raises(ArgumentError, match="name the target column"):
        m.fit(tables()["datasets"], epochs=1, verbose=0)
    with pytest.raises(DataError, match="no feature columns"):
        m.fit({"label": columns()["label"]}, y="label", epochs=1, verbose=0)
    with pytest.raises(DataError, match="equal lengths"):
        m.fit({"a": [1.0, 2.0], "label": [0, 1, 1]}, y="label", epochs=1, verbose=0)
    assert m.history.epoch == []


def test_a_dict_without_a_target_name_is_still_multi_input() -> None:
    x, _ = resolve_table({"a": np.zeros(3)}, np.ones(3), ("x", "y"))
    assert isinstance(x, dict) and list(x) == ["a"]
