"""numpy's and Python's global random states, swapped in microseconds.

``fit`` makes numpy's global generator (the legacy ``RandomState`` behind
``np.random.rand``, ``np.random.shuffle`` ...) the run's for the call and
gives the user's back afterwards. ``np.random.get_state`` and ``set_state``
copy the 624-word Mersenne Twister key element by element in Python and cost
about 30 µs each: four of them were a seventh of a short ``fit`` call.

`take_numpy` and `put_numpy` do the same work through the generator's state
struct (``MT19937.ctypes.state_address``: 624 key words and a position,
copied as one block of bytes). The one part of the state that struct does
not hold is ``RandomState``'s cached second Gaussian (``has_gauss``,
``gauss``), which no public call reads. `take_numpy` finds it by drawing one
Gaussian: if the key did not move, the draw returned the cached value (the
state held one); otherwise the draw made a new pair, and a second draw
empties the cache again. Reading this way consumes the live state, so
`take_numpy` is for swaps: a `put_numpy` always follows. A state with a
cached Gaussian is put back by ``set_state`` (the slow path); a state
without one by emptying the live cache and copying the bytes.

Where numpy's global generator is not a Mersenne Twister exposing its
struct, both fall back to ``get_state``/``set_state``.

Python's ``random`` module has the same generator: ``random.getstate()``
builds a tuple of 625 ints (about 9 µs). `PythonState` reads and writes the
C object's fields instead (``int index; uint32_t state[624]`` right after
the object header), and ``gauss_next``, the Python attribute
``getstate`` adds. That layout is checked against ``getstate`` and
``setstate`` when this module is imported; on an interpreter where it does
not hold, ``getstate``/``setstate`` are used.
"""

from __future__ import annotations

import ctypes
import random
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["NumpyState", "PythonState", "put_numpy", "put_python", "take_numpy", "take_python"]

_KEY_WORDS = 624
_STATE_BYTES = _KEY_WORDS * 4 + 4  # uint32 key[624]; int pos


@dataclass(frozen=True)
class NumpyState:
    """A state of numpy's global generator.

    ``raw``: the Mersenne Twister struct's bytes, for a state without a cached
    Gaussian; ``full``: ``np.random.get_state()``'s tuple, for the others.
    Exactly one is set.
    """

    raw: bytes | None = None
    full: tuple[Any, ...] | None = None

    def legacy(self) -> tuple[Any, ...]:
        """The state as ``np.random.get_state()`` gives it."""
        if self.full is not None:
            return self.full
        assert self.raw is not None
        return _numpy_legacy(self.raw, 0, 0.0)

    @classmethod
    def from_legacy(cls, state: tuple[Any, ...]) -> NumpyState:
        """A state from ``np.random.get_state()``'s tuple."""
        kind, key, pos, has_gauss, cached = state
        if has_gauss or kind != "MT19937" or _address() is None:
            return cls(
                full=(
                    kind,
                    np.asarray(key, dtype=np.uint32),
                    int(pos),
                    int(has_gauss),
                    float(cached),
                )
            )
        words = np.asarray(key, dtype=np.uint32)
        if words.shape != (_KEY_WORDS,):
            raise ValueError(f"a Mersenne Twister key has {_KEY_WORDS} words, not {words.shape}")
        return cls(raw=words.tobytes() + np.array([pos], dtype=np.intc).tobytes())

    @classmethod
    def seeded(cls, seed: int) -> NumpyState:
        """The state ``np.random.seed(seed)`` gives."""
        return cls.from_legacy(_legacy_tuple(np.random.RandomState(seed).get_state()))


def _numpy_legacy(raw: bytes, has_gauss: int, gauss: float) -> tuple[Any, ...]:
    """``np.random.get_state()``'s tuple for the struct bytes ``raw`` and a Gaussian cache."""
    key = np.frombuffer(raw, dtype=np.uint32, count=_KEY_WORDS).copy()
    pos = int(np.frombuffer(raw, dtype=np.intc, count=1, offset=_KEY_WORDS * 4)[0])
    return ("MT19937", key, pos, has_gauss, gauss)


def _legacy_tuple(state: Any) -> tuple[Any, ...]:
    """``get_state()``'s value (a tuple, as ``legacy=True`` gives it), typed as one."""
    assert isinstance(state, tuple)
    return state


_found: list[Any] = [None, None]  # (the global generator, its struct's address) last found


def _address() -> int | None:
    """The address of the global generator's Mersenne Twister struct, or None."""
    generator = getattr(np.random.mtrand, "_rand", None)
    if generator is _found[0]:
        return _found[1]
    bit_generator = getattr(generator, "_bit_generator", None)
    address = None
    if type(bit_generator).__name__ == "MT19937":
        address = getattr(getattr(bit_generator, "ctypes", None), "state_address", None)
    _found[:] = [generator, address]
    return address


def _raw(address: int) -> bytes:
    return ctypes.string_at(address, _STATE_BYTES)


def take_numpy() -> NumpyState:
    """The global state, read by consuming it: call `put_numpy` before numpy draws again."""
    address = _address()
    if address is None:
        return NumpyState(full=_legacy_tuple(np.random.get_state()))
    raw = _raw(address)
    gaussian = np.random.standard_normal()
    if _raw(address) == raw:  # the draw returned the cached Gaussian
        return NumpyState(full=_numpy_legacy(raw, 1, float(gaussian)))
    np.random.standard_normal()  # the draw cached the pair's second half: empty the cache
    return NumpyState(raw=raw)


def put_numpy(state: NumpyState) -> None:
    """Make ``state`` numpy's global state."""
    address = _address()
    if state.raw is None or address is None:
        np.random.set_state(state.legacy())
        return
    # Empty the live Gaussian cache: a draw either takes the cached value
    # (the key stays) or makes a pair and caches one (then take that too).
    before = _raw(address)
    np.random.standard_normal()
    if _raw(address) != before:
        np.random.standard_normal()
    ctypes.memmove(address, state.raw, _STATE_BYTES)


# -- Python's random ------------------------------------------------------------------
_PY_OFFSET = object.__basicsize__  # the object header: the C fields follow it


def _py_raw(generator: random.Random) -> bytes:
    return ctypes.string_at(id(generator) + _PY_OFFSET, _STATE_BYTES)


def _py_internal(raw: bytes) -> tuple[int, ...]:
    """``random.getstate()[1]`` for the C fields' bytes: the 624 key words, then the index."""
    index = struct.unpack_from("i", raw, 0)[0]
    return (*struct.unpack_from(f"{_KEY_WORDS}I", raw, 4), index)


def _py_layout_holds() -> bool:
    """Whether ``random.Random``'s C fields are where `_py_raw` reads them (read and write)."""
    try:
        source, target = random.Random(12345), random.Random(0)
        source.random()
        raw = _py_raw(source)
        if tuple(source.getstate()[1]) != _py_internal(raw):
            return False
        ctypes.memmove(id(target) + _PY_OFFSET, raw, _STATE_BYTES)
        return target.getstate() == source.getstate() and target.random() == source.random()
    except Exception:  # pragma: no cover - an interpreter with another layout
        return False


_PY_LAYOUT = _py_layout_holds()


@dataclass(frozen=True)
class PythonState:
    """A state of Python's global generator (``random``).

    ``raw``: the C fields' bytes (index, then the 624 key words), or None
    where the layout does not hold; ``full``: ``random.getstate()``'s tuple
    then. ``gauss``: the cached Gaussian ``random.gauss`` keeps.
    """

    raw: bytes | None = None
    gauss: float | None = None
    full: tuple[Any, ...] | None = None

    def legacy(self) -> tuple[Any, ...]:
        """The state as ``random.getstate()`` gives it."""
        if self.full is not None:
            return self.full
        assert self.raw is not None
        return (3, _py_internal(self.raw), self.gauss)

    @classmethod
    def from_legacy(cls, state: tuple[Any, ...]) -> PythonState:
        """A state from ``random.getstate()``'s tuple (checked by ``setstate``)."""
        generator = random.Random()
        generator.setstate(state)  # raises on a malformed state
        if not _PY_LAYOUT:
            return cls(full=generator.getstate())
        return cls(raw=_py_raw(generator), gauss=generator.gauss_next)  # type: ignore[attr-defined]

    @classmethod
    def seeded(cls, seed: int) -> PythonState:
        """The state ``random.seed(seed)`` gives."""
        return cls.from_legacy(random.Random(seed).getstate())


def take_python() -> PythonState:
    """Python's global state now (without changing it)."""
    generator = random._inst  # what random.random() and co. use
    if not _PY_LAYOUT:
        return PythonState(full=generator.getstate())
    return PythonState(raw=_py_raw(generator), gauss=generator.gauss_next)  # type: ignore[attr-defined]


def put_python(state: PythonState) -> None:
    """Make ``state`` Python's global state."""
    generator = random._inst
    if state.raw is None or not _PY_LAYOUT:
        generator.setstate(state.legacy())
        return
    ctypes.memmove(id(generator) + _PY_OFFSET, state.raw, _STATE_BYTES)
    generator.gauss_next = state.gauss  # type: ignore[attr-defined]
