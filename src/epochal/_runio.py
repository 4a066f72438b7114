"""Writing a whole run to a checkpoint and reading it back.

What a run checkpoint holds (see `epochal.checkpoint` for the file format):

- weights: the module's ``state_dict()`` (the weights the model shows);
- state: optimizer and scheduler ``state_dict()``, the run's RNG states,
  every callback's state, the run's own trajectory when the model shows
  restored best weights, and for a checkpoint taken inside an epoch the
  epoch's partial sums (loss sum, samples seen, metric states, next batch);
- meta: epoch, step, seed, stopped flag, baseline loss, events and a
  description of the compile settings;
- history: the run's `History`, as the checkpoint's append-only history log
  (pass ``history=model.run.history`` to the save).

Reading checks the whole checkpoint against the format and the module
(`epochal._ckpt_run`) before any of it is assigned.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from epochal._ckpt_run import check_run_checkpoint, check_run_meta
from epochal.callbacks.history import History
from epochal.checkpoint import Checkpoint, CheckpointDir, load_checkpoint
from epochal.errors import CheckpointError

if TYPE_CHECKING:
    from epochal.loop import Engine
    from epochal.model import Model

__all__ = ["Partial", "capture", "load_engine_state", "read_checkpoint", "restore"]


@dataclass
class Partial:
    """Where an epoch stood at a step checkpoint: resume at ``batch`` with these sums."""

    epoch: int
    batch: int
    loss_sum: torch.Tensor
    seen: int
    metric_states: list[dict[str, Any]]

    def to_state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "batch": self.batch,
            "loss_sum": self.loss_sum.detach().clone(),
            "seen": self.seen,
            "metrics": self.metric_states,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Partial:
        return cls(
            int(state["epoch"]),
            int(state["batch"]),
            state["loss_sum"],
            int(state["seen"]),
            list(state["metrics"]),
        )


def capture(
    model: Model, *, live_rng: bool, partial: Partial | None = None, phase: str = "end"
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """(weights, state, meta) of the model's run, for `epochal.checkpoint.save_checkpoint`.

    ``live_rng``: inside ``fit`` the global RNG *is* the run's, so its state
    is read live rather than from the run's last saved copy. ``phase`` says
    where in a ``fit`` call it was taken: ``"step"``, ``"epoch"`` (before the
    call's end, so ``on_train_end`` is still owed) or ``"end"``.
    """
    run = model.run
    engine = model._engine
    rng = torch.get_rng_state() if live_rng else run.rng_state
    cuda_rng = run.cuda_rng_state
    if live_rng and model.device.type == "cuda":
        cuda_rng = torch.cuda.get_rng_state(model.device)
    state: dict[str, Any] = {
        "optimizer": engine.optimizer.state_dict() if engine is not None else None,
        "scheduler": (
            engine.scheduler.state_dict()
            if engine is not None and engine.scheduler is not None
            else None
        ),
        "scaler": (
            engine.scaler.state_dict() if engine is not None and engine.scaler is not None else None
        ),
        "rng": {"cpu": rng, "cuda": cuda_rng},
        "callbacks": run.callback_states,
        "trajectory": run.trajectory,
        "partial": partial.to_state() if partial is not None else None,
    }
    meta: dict[str, Any] = {
        "kind": "epochal-run",
        "phase": phase,
        "epoch": run.epoch,
        "step": run.step,
        "seed": run.seed,
        "stopped": run.stopped,
        "baseline_loss": run.baseline_loss,
        "events": run.events,
        "compile": model._compile_description(),
    }
    return model.module.state_dict(), state, meta


def restore(model: Model, ckpt: Checkpoint) -> Partial | None:
    """Put the run saved in ``ckpt`` into ``model`` (compiled); returns its partial epoch.

    Everything is checked first (`check_run_checkpoint`: metadata, state,
    tensor names and shapes, history): a refused checkpoint changes nothing.
    """
    engine = model._engine
    check_run_checkpoint(ckpt, model.module, engine.optimizer if engine is not None else None)
    meta, state = ckpt.meta, ckpt.state
    run = model.run
    if int(meta["seed"]) != run.seed:
        raise CheckpointError(
            f"The checkpoint {ckpt.path} belongs to a run with seed {meta['seed']}, but this model's "
            f"run has seed {run.seed}. Compile with seed={meta['seed']} to resume it, or use another "
            "checkpoint directory"
        )
    history = ckpt.history or History()
    partial = state.get("partial")
    resumed = Partial.from_state(partial) if partial is not None else None
    module = model.module
    weights = {k: v.to(model.device) for k, v in ckpt.weights.items()}
    if engine is not None:
        _load_engine_checked(ckpt, engine, state)
    module.load_state_dict(weights)
    run.epoch = int(meta["epoch"])
    run.step = int(meta["step"])
    run.stopped = bool(meta["stopped"])
    run.history.__dict__.update(
        {k: v for k, v in history.__dict__.items() if k not in ("model", "params")}
    )
    run.baseline_loss = meta.get("baseline_loss")
    run.history.baseline_loss = run.baseline_loss
    run.events = dict(meta.get("events") or {})
    run.history.events = dict(run.events)
    run.rng_state = state["rng"]["cpu"]
    run.cuda_rng_state = state["rng"].get("cuda")
    run.callback_states = dict(state.get("callbacks") or {})
    trajectory = state.get("trajectory")
    if trajectory is not None:
        run.trajectory = {k: v.to(model.device) for k, v in trajectory.items()}
        run.shown_versions = [t._version for t in module.state_dict().values()]
    else:
        run.trajectory = None
        run.shown_versions = None
    return resumed


def _load_engine_checked(ckpt: Checkpoint, engine: Engine, state: dict[str, Any]) -> None:
    """`load_engine_state`, undone if it fails half-way (a torch error becomes a CheckpointError)."""
    saved = {
        "optimizer": engine.optimizer.state_dict(),
        "scheduler": engine.scheduler.state_dict() if engine.scheduler is not None else None,
        "scaler": engine.scaler.state_dict() if engine.scaler is not None else None,
    }
    saved = copy.deepcopy(saved)
    try:
        load_engine_state(engine, state)
    except Exception as exc:
        load_engine_state(engine, saved)
        raise CheckpointError(
            f"Checkpoint '{ckpt.path}' is refused: its optimizer or scheduler state does not "
            f"fit this model's ({type(exc).__name__}: {exc})"
        ) from exc


def load_engine_state(engine: Engine, state: dict[str, Any]) -> None:
    """Optimizer, scheduler and gradient-scaler state from a run checkpoint's ``state``."""
    if state.get("optimizer") is not None:
        engine.optimizer.load_state_dict(state["optimizer"])
    if state.get("scheduler") is not None and engine.scheduler is not None:
        engine.scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler") is not None and engine.scaler is not None:
        engine.scaler.load_state_dict(state["scaler"])


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """A checkpoint directory, or the run's newest intact one in a ``checkpoint_dir``.

    Raises:
        CheckpointError: nothing intact there (the message says why).
    """
    root = Path(path)
    if os.path.lexists(root / "manifest.json"):
        return load_checkpoint(root)
    latest = CheckpointDir(root).latest(check=check_run_meta) if root.is_dir() else None
    if latest is None:
        raise CheckpointError(f"No intact epochal checkpoint at {root}")
    return latest
