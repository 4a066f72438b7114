"""The resume decision: what a ``fit`` call does, as a pure function.

A script run again after its process died replays its ``fit`` calls from the
first. The newest checkpoint says how far the run got: ``calls`` finished
calls, and where the call under way stood (``phase``). For each call of the
script, `decide` says what it does:

- ``REPLAY``: a call the checkpoint's run finished before the one under
  way. Nothing trains; the call shows what the uninterrupted script saw at
  its end (its record: returned history, weights, ``stop_training``,
  learning rates), so the script's own code between calls decides the same.
  The checkpoint stays pending.
- ``APPLY_END``: the last call the checkpoint covers, written at its very
  end (``phase == "end"``): the checkpoint is exactly that call's end state;
  it is applied and the call returns its record's history.
- ``RESUME``: the call that was under way (``phase`` ``"step"`` or
  ``"epoch"``): the checkpoint, which already holds the effects of the
  script's code before this call, is applied and the call trains on from it
  (finishing a partial epoch first), or only runs the ``on_train_end`` it
  still owed.
- ``TRAIN``: nothing pending: train epochs ``start`` up to ``last``.
- ``NOTHING``: nothing pending and nothing to train (``start >= last``).
- ``STOPPED``: nothing pending and the run was stopped: warn, train nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

__all__ = ["Action", "Decision", "Saved", "decide"]

Phase = Literal["step", "epoch", "end"]


class Action(Enum):
    TRAIN = "train"
    NOTHING = "nothing"
    STOPPED = "stopped"
    REPLAY = "replay"
    APPLY_END = "apply_end"
    RESUME = "resume"


@dataclass(frozen=True)
class Saved:
    """What a pending checkpoint says about where its run stood.

    Attributes:
        calls: fit calls the run had finished (records it holds).
        phase: ``"end"`` (written at the end of call ``calls - 1``),
            ``"epoch"`` or ``"step"`` (written during call ``calls``).
        epoch: the run's epoch (for ``"step"``: the epoch under way).
        stopped: the run was stopped.
        partial: a ``"step"`` checkpoint's epoch was under way.
    """

    calls: int
    phase: Phase
    epoch: int
    stopped: bool = False
    partial: bool = False


@dataclass(frozen=True)
class Decision:
    """What one fit call does (see the module docstring).

    Attributes:
        action: the kind of call.
        start: the first epoch to train (TRAIN, RESUME).
        last: the epoch to train up to, exclusive.
        record: the index of the call record to show (REPLAY, APPLY_END).
        resume_partial: RESUME continues a partial epoch at ``start``.
    """

    action: Action
    start: int = 0
    last: int = 0
    record: int | None = None
    resume_partial: bool = False


def covers(saved: Saved, call: int) -> bool:
    """Whether ``saved`` holds the end of the script's call number ``call`` (0-based)."""
    return call < saved.calls


def decide(
    *,
    call: int,
    first: int,
    last: int,
    run_epoch: int,
    run_stopped: bool,
    saved: Saved | None,
) -> Decision:
    """What the script's fit call number ``call`` does.

    Args:
        call: how many fit calls of this run the script has finished (0-based index).
        first: the first epoch as the script asks for it (the run's epoch as the
            script sees it, or an explicit ``initial_epoch``).
        last: the epoch the call trains up to, exclusive.
        run_epoch: the run's epoch as the script sees it.
        run_stopped: the run is stopped, as the script sees it.
        saved: the pending checkpoint, if the process resumes one.

    Returns:
        The `Decision`.
    """
    if saved is not None:
        if saved.phase == "end":
            if call < saved.calls - 1:
                return Decision(Action.REPLAY, record=call)
            if call == saved.calls - 1:
                return Decision(Action.APPLY_END, record=call)
        else:
            if call < saved.calls:
                return Decision(Action.REPLAY, record=call)
            if call == saved.calls:
                start = max(first, saved.epoch)
                partial = saved.partial and first <= saved.epoch < last
                return Decision(Action.RESUME, start=start, last=last, resume_partial=partial)
        # A checkpoint behind the script (it should not be pending): train on.
    if run_stopped:
        return Decision(Action.STOPPED, start=run_epoch, last=last)
    start = max(first, run_epoch)
    if start >= last:
        return Decision(Action.NOTHING, start=start, last=last)
    return Decision(Action.TRAIN, start=start, last=last)
