"""Reusing prepared in-memory data across fit calls given the same tensors (`epochal.data._reuse`).

What is reused must never change a result: every test compares a run whose
calls reuse their data with the same run given fresh copies each call.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import epochal as ep
import epochal.model as model_mod
from _util import make_binary, mlp, state_equal
from epochal.errors import DataError


def _model(seed: int = 0) -> ep.Model:
    model = ep.Model(mlp(seed=seed, final=torch.nn.Sigmoid(), dropout=0.2))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=seed)
    return model


def _tensors() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = make_binary(120)
    return torch.from_numpy(x).clone(), torch.from_numpy(y).clone()


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of ``epochal.model``'s ``name`` (how often data was prepared anew)."""
    count = [0]
    real = getattr(model_mod, name)

    def counting(*args, **kwargs):
        count[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(model_mod, name, counting)
    return count


@pytest.fixture
def prepared_count(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times fit prepared its data from scratch."""
    return _count_calls(monkeypatch, "fit_sources")


def test_the_same_tensors_are_prepared_once(prepared_count: list[int]) -> None:
    x, y = _tensors()
    model = _model()
    for _ in range(4):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_split=0.25)
    assert prepared_count[0] == 1
    fresh = _model()
    for _ in range(4):
        fresh.fit(x.clone(), y.clone(), batch_size=16, epochs=1, verbose=0, validation_split=0.25)
    assert prepared_count[0] == 5
    assert state_equal(model.module.state_dict(), fresh.module.state_dict())
    assert model.history.history == fresh.history.history


def test_an_in_place_write_between_calls_is_seen(prepared_count: list[int]) -> None:
    x, y = _tensors()
    model, fresh = _model(), _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    fresh.fit(x.clone(), y.clone(), batch_size=16, epochs=1, verbose=0)
    x[:10] *= 3.0  # through torch: the version counter moves
    y[:5] = 1.0 - y[:5]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    fresh.fit(x.clone(), y.clone(), batch_size=16, epochs=1, verbose=0)
    assert prepared_count[0] == 4
    assert state_equal(model.module.state_dict(), fresh.module.state_dict())


def test_a_nan_written_in_place_is_refused_on_the_next_call() -> None:
    x, y = _tensors()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    weights = {k: v.clone() for k, v in model.module.state_dict().items()}
    x[3, 2] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert state_equal(model.module.state_dict(), weights)
    x[3, 2] = 0.0
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # clean again: trains on


def test_replaced_data_is_seen(prepared_count: list[int]) -> None:
    x, y = _tensors()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    x.data = torch.zeros(60, 10)  # another storage and shape behind the same object
    with pytest.raises(DataError, match="same number of samples"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "change",
    [
        {"batch_size": 8},
        {"validation_split": 0.5},
        {"check_finite": False},
        {"validation_batch_size": 4, "validation_split": 0.25},
    ],
)
def test_other_settings_prepare_again(prepared_count: list[int], change: dict) -> None:
    x, y = _tensors()
    model, fresh = _model(), _model()
    base = {"batch_size": 16, "validation_split": 0.25, "epochs": 1, "verbose": 0}
    model.fit(x, y, **base)
    model.fit(x, y, **{**base, **change})
    assert prepared_count[0] == 2
    fresh.fit(x.clone(), y.clone(), **base)
    fresh.fit(x.clone(), y.clone(), **{**base, **change})
    assert model.history.history == fresh.history.history


def test_numpy_copies_and_class_weights_are_prepared_every_call(
    prepared_count: list[int],
) -> None:
    x, y = _tensors()
    model = _model()
    model.fit(x.numpy(), y.numpy(), batch_size=16, epochs=1, verbose=0)
    model.fit(x.numpy(), y.numpy(), batch_size=16, epochs=1, verbose=0)
    assert prepared_count[0] == 2  # numpy has no version counter: never kept
    x64 = x.double()
    model.fit(x64, y, batch_size=16, epochs=1, verbose=0)
    model.fit(x64, y, batch_size=16, epochs=1, verbose=0)
    assert prepared_count[0] == 4  # cast to float32: a copy, not kept
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, class_weight={0: 1.0, 1: 2.0})
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, class_weight={0: 1.0, 1: 2.0})
    assert prepared_count[0] == 6


def test_a_numpy_write_is_seen_by_the_next_call() -> None:
    x, y = make_binary(120)
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    x[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)


def test_validation_data_tensors_are_kept_and_checked(prepared_count: list[int]) -> None:
    x, y = _tensors()
    xv, yv = x[:30].clone(), y[:30].clone()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(xv, yv))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(xv, yv))
    assert prepared_count[0] == 1
    xv[0, 0] = float("inf")
    with pytest.raises(DataError, match="validation_data"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(xv, yv))


def test_a_new_compile_forgets_the_kept_data(prepared_count: list[int]) -> None:
    x, y = _tensors()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.compile(optimizer="sgd", loss="binary_crossentropy", seed=1)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert prepared_count[0] == 2


@pytest.mark.parametrize("where", ["x", "dict", "tuple", "val"])
def test_the_key_moves_with_a_write_to_any_leaf(where: str) -> None:
    from epochal.data._reuse import inputs_key

    a, b, c = torch.zeros(4, 2), torch.zeros(4, 3), torch.zeros(4)
    trees = {
        "x": (a, c, None, None),
        "dict": ({"p": a, "q": b}, c, None, None),
        "tuple": ((a, b), c, None, None),
        "val": (a, c, None, (b, c)),
    }[where]
    before = inputs_key(trees, ("settings",))
    assert before is not None and before == inputs_key(trees, ("settings",))
    b.add_(1.0) if where != "x" else a.add_(1.0)
    assert inputs_key(trees, ("settings",)) != before
    assert inputs_key(trees, ("other",)) != inputs_key(trees, ("settings",))


def test_anything_but_tensors_has_no_key() -> None:
    from epochal.data._reuse import inputs_key

    t = torch.zeros(3, 2)
    assert inputs_key((t.numpy(), t, None, None), ()) is None
    assert inputs_key(((t, t.numpy()), t, None, None), ()) is None
    assert inputs_key((t, [1.0, 2.0, 3.0], None, None), ()) is None
    assert inputs_key((torch.utils.data.TensorDataset(t), None, None, None), ()) is None


@pytest.fixture
def made_count(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times evaluate or predict converted and checked their data."""
    return _count_calls(monkeypatch, "make_source")


def test_evaluate_reuses_unchanged_tensors_and_sees_writes(made_count: list[int]) -> None:
    x, y = _tensors()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    first = model.evaluate(x, y, batch_size=16, verbose=0)
    assert model.evaluate(x, y, batch_size=16, verbose=0) == first
    assert made_count[0] == 1
    y[:40] = 1.0 - y[:40]  # through torch: evaluated anew
    changed = model.evaluate(x, y, batch_size=16, verbose=0)
    assert made_count[0] == 2
    assert changed == model.evaluate(x.clone(), y.clone(), batch_size=16, verbose=0)
    assert changed != first
    assert model.evaluate(x, y, batch_size=8, verbose=0) == pytest.approx(changed)
    assert made_count[0] == 4
    x[0, 0] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        model.evaluate(x, y, batch_size=16, verbose=0)


def test_predict_reuses_unchanged_tensors_and_sees_writes(made_count: list[int]) -> None:
    x, _ = _tensors()
    model = _model()
    first = model.predict(x, batch_size=16, verbose=0)
    assert torch.equal(model.predict(x, batch_size=16, verbose=0), first)
    assert made_count[0] == 1
    x[:7] += 1.0
    again = model.predict(x, batch_size=16, verbose=0)
    assert made_count[0] == 2
    assert torch.equal(again, model.predict(x.clone(), batch_size=16, verbose=0))
    assert not torch.equal(again[:7], first[:7]) and torch.equal(again[7:], first[7:])
    with pytest.raises(DataError, match=r"\(N, 3\) does not fit the model"):
        model.predict(torch.zeros(4, 3), batch_size=16, verbose=0)  # still probed


def test_sparse_tensors_have_no_key() -> None:
    from epochal.data._reuse import inputs_key

    dense = torch.zeros(3, 2)
    assert inputs_key((dense.to_sparse(), dense, None, None), ()) is None
    assert inputs_key(((dense, dense.to_sparse()), dense, None, None), ()) is None


def test_host_tensors_moved_to_an_accelerator_are_kept() -> None:
    """A device copy of host tensors is kept (the GPU case; "meta" stands in for CUDA here)."""
    from epochal.data._reuse import inputs_key, keep, moved_to_accelerator
    from epochal.data._sources import ArraySource

    x, y = _tensors()
    moved = ArraySource(x, y, None, torch.device("meta"))
    assert moved_to_accelerator((moved, None), (x, y))
    key = inputs_key((x, y), ())
    entry = keep(key, moved, None, (x, y))
    assert entry is not None and entry.source is moved
    # a cast on the host makes a copy that is not kept: prepared anew each call
    cast = ArraySource(x.double(), y, None, torch.device("cpu"))
    assert not moved_to_accelerator((cast, None), (x, y))
    assert keep(key, cast, None, (x, y)) is None
    # device tensors given: nothing was moved (they are the caller's own memory)
    on_meta = x.to("meta")
    assert not moved_to_accelerator((moved, None), (on_meta, y.to("meta")))
    assert not moved_to_accelerator((moved, None), ())
