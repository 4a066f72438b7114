"""`epochal._np_rng`: swapping numpy's global random state, exactly as get_state/set_state."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epochal import _np_rng
from epochal._np_rng import NumpyState


def _same(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and tuple(a[2:]) == tuple(b[2:])


# Draws that leave a cached Gaussian or not, and reseeding.
_OPS = st.lists(
    st.sampled_from(["normal", "randn3", "rand", "seed", "integers"]), min_size=0, max_size=6
)


def _apply(ops: list[str], seed: int) -> None:
    for op in ops:
        if op == "normal":
            np.random.normal()
        elif op == "randn3":
            np.random.randn(3)
        elif op == "rand":
            np.random.rand(2)
        elif op == "seed":
            np.random.seed(seed)
        else:
            np.random.randint(0, 10, size=5)


@settings(max_examples=60, deadline=None)
@given(before=_OPS, between=_OPS, seed=st.integers(0, 2**32 - 3))
def test_take_then_put_gives_back_exactly_the_state(before, between, seed) -> None:
    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        _apply(before, seed + 1)
        expected = np.random.get_state()
        state = _np_rng.take()
        _apply(between, seed + 2)  # anything in between, gaussian cache included
        _np_rng.put(state)
        assert _same(np.random.get_state(), expected)
        assert _same(state.legacy(), expected)
        # and the draws that follow are the same
        follow = (np.random.normal(), np.random.rand())
        np.random.set_state(expected)
        assert (np.random.normal(), np.random.rand()) == follow
    finally:
        np.random.set_state(saved)


@settings(max_examples=30, deadline=None)
@given(ops=_OPS, seed=st.integers(0, 2**32 - 3))
def test_legacy_tuple_round_trip(ops, seed) -> None:
    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        _apply(ops, seed)
        legacy = np.random.get_state()
        state = NumpyState.from_legacy(legacy)
        assert _same(state.legacy(), legacy)
        assert (state.full is None) == (legacy[3] == 0)
        np.random.seed(0)
        _np_rng.put(state)
        assert _same(np.random.get_state(), legacy)
    finally:
        np.random.set_state(saved)


def test_seeded_is_numpys_seed() -> None:
    assert _same(NumpyState.seeded(7).legacy(), np.random.RandomState(7).get_state())


def test_a_bad_key_is_refused() -> None:
    with pytest.raises(ValueError, match="624"):
        NumpyState.from_legacy(("MT19937", np.zeros(5, dtype=np.uint32), 0, 0, 0.0))


def test_without_the_struct_it_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_np_rng, "_address", lambda: None)
    saved = np.random.get_state()
    try:
        np.random.seed(3)
        np.random.randn(1)
        expected = np.random.get_state()
        state = _np_rng.take()
        assert state.full is not None
        np.random.seed(4)
        _np_rng.put(state)
        assert _same(np.random.get_state(), expected)
    finally:
        np.random.set_state(saved)
