"""`epochal._rng_swap`: swapping numpy's and Python's global random states, exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epochal import _rng_swap
from epochal._rng_swap import NumpyState, PythonState


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
        state = _rng_swap.take_numpy()
        _apply(between, seed + 2)  # anything in between, gaussian cache included
        _rng_swap.put_numpy(state)
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
        _rng_swap.put_numpy(state)
        assert _same(np.random.get_state(), legacy)
    finally:
        np.random.set_state(saved)


def test_seeded_is_numpys_seed() -> None:
    assert _same(NumpyState.seeded(7).legacy(), np.random.RandomState(7).get_state())


def test_a_bad_key_is_refused() -> None:
    with pytest.raises(ValueError, match="624"):
        NumpyState.from_legacy(("MT19937", np.zeros(5, dtype=np.uint32), 0, 0, 0.0))


def test_without_the_struct_it_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_rng_swap, "_address", lambda: None)
    saved = np.random.get_state()
    try:
        np.random.seed(3)
        np.random.randn(1)
        expected = np.random.get_state()
        state = _rng_swap.take_numpy()
        assert state.full is not None
        np.random.seed(4)
        _rng_swap.put_numpy(state)
        assert _same(np.random.get_state(), expected)
    finally:
        np.random.set_state(saved)


_PY_OPS = st.lists(st.sampled_from(["random", "gauss", "seed", "shuffle"]), max_size=6)


def _apply_python(ops: list[str], seed: int) -> None:
    for op in ops:
        if op == "random":
            random.random()
        elif op == "gauss":
            random.gauss(0.0, 1.0)  # leaves a cached second value
        elif op == "seed":
            random.seed(seed)
        else:
            random.shuffle(list(range(10)))


@settings(max_examples=60, deadline=None)
@given(before=_PY_OPS, between=_PY_OPS, seed=st.integers(0, 2**32))
def test_python_state_take_then_put_gives_back_exactly_the_state(before, between, seed) -> None:
    saved = random.getstate()
    try:
        random.seed(seed)
        _apply_python(before, seed + 1)
        expected = random.getstate()
        state = _rng_swap.take_python()
        assert random.getstate() == expected  # reading changes nothing
        assert state.legacy() == expected
        _apply_python(between, seed + 2)
        _rng_swap.put_python(state)
        assert random.getstate() == expected
        follow = (random.random(), random.gauss(0.0, 1.0), random.gauss(0.0, 1.0))
        random.setstate(expected)
        assert (random.random(), random.gauss(0.0, 1.0), random.gauss(0.0, 1.0)) == follow
    finally:
        random.setstate(saved)


def test_python_state_from_a_tuple_and_seeded() -> None:
    generator = random.Random(5)
    generator.gauss(0.0, 1.0)
    legacy = generator.getstate()
    assert PythonState.from_legacy(legacy).legacy() == legacy
    assert PythonState.seeded(9).legacy() == random.Random(9).getstate()
    with pytest.raises((TypeError, ValueError)):
        PythonState.from_legacy((3, (1, 2, 3), None))


def test_the_python_layout_is_the_one_checked_here() -> None:
    assert _rng_swap._PY_LAYOUT  # CPython: the fast path is the one tested above


def test_python_state_without_the_layout_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_rng_swap, "_PY_LAYOUT", False)
    saved = random.getstate()
    try:
        random.seed(1)
        random.gauss(0.0, 1.0)
        expected = random.getstate()
        state = _rng_swap.take_python()
        assert state.full == expected
        random.seed(2)
        _rng_swap.put_python(state)
        assert random.getstate() == expected
    finally:
        random.setstate(saved)
