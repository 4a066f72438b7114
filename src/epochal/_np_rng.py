"""numpy's global random state, swapped in microseconds.

``fit`` makes numpy's global generator (the legacy ``RandomState`` behind
``np.random.rand``, ``np.random.shuffle`` ...) the run's for the call and
gives the user's back afterwards. ``np.random.get_state`` and ``set_state``
copy the 624-word Mersenne Twister key element by element in Python and cost
about 30 µs each: four of them were a seventh of a short ``fit`` call.

`take` and `put` do the same work through the generator's state struct
(``MT19937.ctypes.state_address``: 624 key words and a position, copied as
one block of bytes). The one part of the state that struct does not hold is
``RandomState``'s cached second Gaussian (``has_gauss``, ``gauss``), which no
public call reads. `take` finds it by drawing one Gaussian: if the key did not
move, the draw returned the cached value (the state held one); otherwise the
draw made a new pair, and a second draw empties the cache again. Reading
this way consumes the live state, so `take` is for swaps: a `put` always
follows. A state with a cached Gaussian is put back by ``set_state`` (the slow
path); a state without one by emptying the live cache and copying the bytes.

Where numpy's global generator is not a Mersenne Twister exposing its
struct, both fall back to ``get_state``/``set_state``.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["NumpyState", "put", "take"]

_KEY_WORDS = 624
_STATE_BYTES = _KEY_WORDS * 4 + 4  # uint32 key[624]; int pos


@dataclass(frozen=True)
class NumpyState:
    """A state of numpy's global generator.

    ``raw``: the Mersenne Twister struct's bytes, for a state without a cached
    Gaussian; ``legacy``: ``np.random.get_state()``'s tuple, for the others.
    Exactly one is set.
    """

    raw: bytes | None = None
    full: tuple[Any, ...] | None = None

    def legacy(self) -> tuple[Any, ...]:
        """The state as ``np.random.get_state()`` gives it."""
        if self.full is not None:
            return self.full
        assert self.raw is not None
        key = np.frombuffer(self.raw, dtype=np.uint32, count=_KEY_WORDS).copy()
        pos = int(np.frombuffer(self.raw, dtype=np.intc, count=1, offset=_KEY_WORDS * 4)[0])
        return ("MT19937", key, pos, 0, 0.0)

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
        return cls.from_legacy(np.random.RandomState(seed).get_state())


def _address() -> int | None:
    """The address of the global generator's Mersenne Twister struct, or None."""
    generator = getattr(np.random.mtrand, "_rand", None)
    bit_generator = getattr(generator, "_bit_generator", None)
    if type(bit_generator).__name__ != "MT19937":
        return None
    interface = getattr(bit_generator, "ctypes", None)
    return getattr(interface, "state_address", None)


def _raw(address: int) -> bytes:
    return ctypes.string_at(address, _STATE_BYTES)


def take() -> NumpyState:
    """The global state, read by consuming it: call `put` before numpy draws again."""
    address = _address()
    if address is None:
        return NumpyState(full=np.random.get_state())
    raw = _raw(address)
    gaussian = np.random.standard_normal()
    if _raw(address) == raw:  # the draw returned the cached Gaussian
        key = np.frombuffer(raw, dtype=np.uint32, count=_KEY_WORDS).copy()
        pos = int(np.frombuffer(raw, dtype=np.intc, count=1, offset=_KEY_WORDS * 4)[0])
        return NumpyState(full=("MT19937", key, pos, 1, float(gaussian)))
    np.random.standard_normal()  # the draw cached the pair's second half: empty the cache
    return NumpyState(raw=raw)


def put(state: NumpyState) -> None:
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
