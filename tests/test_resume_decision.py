"""The pure resume decision (epochal._resume), property-tested on an abstract run.

An abstract script makes fit calls of some numbers of epochs; its run stops
at some epoch (early stopping). The uninterrupted script writes checkpoints
(inside epochs, at epoch ends and at call ends); a process killed after any
of them and started again must, call by call, see what the uninterrupted
script saw and apply the checkpoint exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from epochal._resume import Action, Saved, decide


@dataclass(frozen=True)
class Seen:
    first: int
    last: int
    epoch: int
    stopped: bool


def script(
    calls: list[int],
    stop_at: int | None,
    saved: Saved | None = None,
    records: list[Seen] | None = None,
) -> tuple[list[Seen], list[tuple[Saved, list[Seen]]], int, list[int]]:
    """Run the abstract script; returns what each call showed, the checkpoints, applications, trained epochs."""
    epoch, stopped = 0, False
    shown: list[Seen] = []
    checkpoints: list[tuple[Saved, list[Seen]]] = []
    applied = 0
    trained: list[int] = []
    pending = saved
    for i, n in enumerate(calls):
        first, last = epoch, epoch + n
        d = decide(
            call=i, first=first, last=last, run_epoch=epoch, run_stopped=stopped, saved=pending
        )
        if d.action is Action.REPLAY:
            assert records is not None and d.record == i
            seen = records[i]
            epoch, stopped = seen.epoch, seen.stopped
            shown.append(seen)
            continue
        if d.action is Action.APPLY_END:
            assert pending is not None and records is not None and d.record == i
            applied += 1
            epoch, stopped, pending = pending.epoch, pending.stopped, None
            shown.append(records[i])
            continue
        if d.action in (Action.STOPPED, Action.NOTHING):
            shown.append(Seen(first, last, epoch, stopped))
            continue
        start = d.start
        if d.action is Action.RESUME:
            assert pending is not None
            applied += 1
            epoch, stopped = pending.epoch, pending.stopped
            # A step checkpoint's epoch is finished from where it stood.
            assert d.resume_partial == (pending.partial and first <= pending.epoch < last)
            if pending.partial:
                assert start == pending.epoch
            pending = None
        for e in range(start, last):
            if stopped:
                break
            checkpoints.append((Saved(i, "step", e, False, partial=True), list(shown)))
            trained.append(e)
            epoch = e + 1
            stopped = stop_at is not None and epoch >= stop_at
            checkpoints.append((Saved(i, "epoch", epoch, stopped), list(shown)))
        shown.append(Seen(first, last, epoch, stopped))
        checkpoints.append((Saved(i + 1, "end", epoch, stopped), list(shown)))
    return shown, checkpoints, applied, trained


@settings(max_examples=50, deadline=None)
@given(
    calls=st.lists(st.integers(1, 4), min_size=1, max_size=6),
    stop_at=st.one_of(st.none(), st.integers(1, 12)),
    data=st.data(),
)
def test_a_script_killed_after_any_checkpoint_replays_to_what_it_saw(calls, stop_at, data):
    reference, checkpoints, _, ref_trained = script(calls, stop_at)
    if not checkpoints:
        return
    k = data.draw(st.integers(0, len(checkpoints) - 1), label="killed after checkpoint")
    saved, records = checkpoints[k]
    resumed, _, applied, trained = script(calls, stop_at, saved, records)
    assert resumed == reference
    assert applied == 1
    # Exactly the epochs the checkpoint does not hold are trained (its partial epoch included).
    assert trained == [e for e in ref_trained if e >= saved.epoch]


@settings(max_examples=50, deadline=None)
@given(
    call=st.integers(0, 5),
    first=st.integers(0, 8),
    n=st.integers(1, 5),
    stopped=st.booleans(),
)
def test_without_a_checkpoint_a_call_trains_from_the_run(call, first, n, stopped):
    d = decide(
        call=call, first=first, last=first + n, run_epoch=first, run_stopped=stopped, saved=None
    )
    if stopped:
        assert d.action is Action.STOPPED
    else:
        assert d.action is Action.TRAIN and (d.start, d.last) == (first, first + n)


@settings(max_examples=50, deadline=None)
@given(calls=st.integers(1, 6), call=st.integers(0, 6), phase=st.sampled_from(["step", "epoch"]))
def test_calls_a_mid_call_checkpoint_covers_replay_and_the_one_under_way_resumes(
    calls, call, phase
):
    saved = Saved(calls, phase, epoch=10, partial=phase == "step")
    d = decide(call=call, first=3, last=12, run_epoch=3, run_stopped=False, saved=saved)
    if call < calls:
        assert d.action is Action.REPLAY and d.record == call
    elif call == calls:
        assert d.action is Action.RESUME and d.start == 10 and d.last == 12
        assert d.resume_partial == (phase == "step")
    else:
        assert d.action is Action.TRAIN


def test_an_end_checkpoint_is_applied_at_the_end_of_the_call_it_closes():
    saved = Saved(3, "end", epoch=7, stopped=True)
    kinds = [
        decide(call=i, first=0, last=1, run_epoch=0, run_stopped=False, saved=saved).action
        for i in range(3)
    ]
    assert kinds == [Action.REPLAY, Action.REPLAY, Action.APPLY_END]
