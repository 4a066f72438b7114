"""Writing a whole run to a checkpoint and reading it back.

What a run checkpoint holds (see `epochal.checkpoint` for the file format):

- weights: the module's ``state_dict()`` (the weights the model shows);
- state: optimizer and scheduler ``state_dict()``, the run's RNG states,
  every callback's state, the run's own trajectory when the model shows
  restored best weights, and for a checkpoint taken inside an epoch the
  epoch's partial sums (loss sum, samples seen, metric states, next batch);
- meta: epoch, step, seed, stopped flag, the history's baseline loss and
  diagnosis events, one record per finished ``fit`` call, where a
  ``steps_per_epoch`` walk stands, and a description of the compile settings;
- history: the run's `History` and end-of-call records, as the checkpoint's
  append-only history log (the save is given ``history=run.history,
  calls=run.calls``).

Reading checks the whole checkpoint against the format and the module
(`epochal._ckpt_run`) before any of it is assigned: a refused checkpoint
changes nothing.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from epochal import _ckpt_run
from epochal.callbacks.history import History
from epochal.checkpoint import Checkpoint, CheckpointDir, load_checkpoint
from epochal.errors import CheckpointError
from epochal.run import CallRecord, RunState, live_rng_states

if TYPE_CHECKING:
    from epochal.loop import Engine

__all__ = [
    "Partial",
    "capture",
    "check_run_checkpoint",
    "load_engine_state",
    "read_checkpoint",
    "restore",
]


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
    module: nn.Module,
    engine: Engine | None,
    run: RunState,
    *,
    device: torch.device,
    description: dict[str, Any],
    live_rng: bool,
    partial: Partial | None = None,
    phase: str = "end",
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """(weights, state, meta) of a run, for `epochal.checkpoint.save_checkpoint`.

    ``live_rng``: inside ``fit`` the global RNGs *are* the run's, so their
    states are read live rather than from the run's last saved copies.
    ``phase`` says where in a ``fit`` call it was taken: ``"step"``,
    ``"epoch"`` (before the call's end, so ``on_train_end`` is still owed)
    or ``"end"``. ``description`` describes the compile settings.
    """
    rng = torch.get_rng_state() if live_rng else run.rng_state
    cuda_rng = run.cuda_rng_state
    if live_rng and device.type == "cuda":
        cuda_rng = torch.cuda.get_rng_state(device)
    numpy_rng, python_rng = (
        live_rng_states() if live_rng else (run.numpy_rng_state, run.python_rng_state)
    )
    scheduler = engine.scheduler if engine is not None else None
    scaler = engine.scaler if engine is not None else None
    state: dict[str, Any] = {
        "optimizer": engine.optimizer.state_dict() if engine is not None else None,
        "param_groups": _group_names(module, engine.optimizer) if engine is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": {"cpu": rng, "cuda": cuda_rng, "numpy": numpy_rng, "python": python_rng},
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
        "baseline_loss": run.history.baseline_loss,
        "events": dict(run.history.events),
        # The records themselves go to the history log (the save's ``calls=run.calls``).
        "calls_count": len(run.calls),
        "data_position": list(run.data_position) if run.data_position is not None else None,
        "compile": description,
    }
    return module.state_dict(), state, meta


def check_run_checkpoint(ckpt: Checkpoint, seed: int) -> None:
    """Raise `CheckpointError` unless ``ckpt`` is a run checkpoint of a run with ``seed``."""
    _ckpt_run.check_run_meta(ckpt)
    meta = ckpt.meta
    if int(meta["seed"]) != seed:
        raise CheckpointError(
            f"The checkpoint {ckpt.path} belongs to a run with seed {meta['seed']}, but this model's "
            f"run has seed {seed}. Compile with seed={meta['seed']} to resume it, or use another "
            "checkpoint directory"
        )


def restore(
    module: nn.Module, engine: Engine | None, run: RunState, ckpt: Checkpoint, device: torch.device
) -> Partial | None:
    """Put the run saved in ``ckpt`` into ``run``, ``module`` and ``engine``; returns its partial epoch.

    Engine state (optimizer, scheduler, scaler) is loaded only when ``engine``
    is given; the caller loads it with `load_engine_state` once it is built.
    Everything is checked first (`epochal._ckpt_run.check_run_checkpoint`).
    """
    optimizer = engine.optimizer if engine is not None else None
    _ckpt_run.check_run_checkpoint(ckpt, module, optimizer)
    check_run_checkpoint(ckpt, run.seed)
    meta, state = ckpt.meta, ckpt.state
    history = ckpt.history or History()
    weights = {k: v.to(device) for k, v in ckpt.weights.items()}
    if engine is not None:
        _load_engine_checked(ckpt, engine, state)
    module.load_state_dict(weights)
    run.epoch = int(meta["epoch"])
    run.step = int(meta["step"])
    run.stopped = bool(meta["stopped"])
    run.history.load_dict(history.to_dict())
    if "baseline_loss" in meta:
        run.history.baseline_loss = meta["baseline_loss"]
    if "events" in meta:
        run.history.events = dict(meta["events"] or {})
    run.calls = [CallRecord.from_dict(r) for r in ckpt.calls or []]
    position = meta.get("data_position")
    run.data_position = (int(position[0]), int(position[1])) if position else None
    rng = state["rng"]
    run.rng_state = rng["cpu"]
    run.cuda_rng_state = rng.get("cuda")
    if rng.get("numpy") is not None:
        run.numpy_rng_state = rng["numpy"]
    if rng.get("python") is not None:
        run.python_rng_state = rng["python"]
    run.callback_states = dict(state.get("callbacks") or {})
    trajectory = state.get("trajectory")
    if trajectory is not None:
        run.trajectory = {k: v.to(device) for k, v in trajectory.items()}
        run.shown_versions = [t._version for t in module.state_dict().values()]
    else:
        run.trajectory = None
        run.shown_versions = None
    partial = state.get("partial")
    return Partial.from_state(partial) if partial is not None else None


def _load_engine_checked(ckpt: Checkpoint, engine: Engine, state: dict[str, Any]) -> None:
    """`load_engine_state`, undone if it fails half-way (a torch error becomes a CheckpointError)."""
    scheduler, scaler = engine.scheduler, engine.scaler
    saved = copy.deepcopy(
        {
            "optimizer": engine.optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
        }
    )
    try:
        load_engine_state(engine, state)
    except Exception as exc:
        load_engine_state(engine, saved)
        raise CheckpointError(
            f"Checkpoint '{ckpt.path}' is refused: its optimizer or scheduler state does not "
            f"fit this model's ({type(exc).__name__}: {exc})"
        ) from exc


def _group_names(module: nn.Module, optimizer: torch.optim.Optimizer) -> list[list[str]]:
    """The names of the parameters in each of the optimizer's groups."""
    names = {id(p): name for name, p in module.named_parameters()}
    return [[names.get(id(p), "") for p in group["params"]] for group in optimizer.param_groups]


def _regroup(engine: Engine, groups: list[list[str]]) -> None:
    """Give the optimizer the parameter groups a checkpoint was written with.

    Layers unfrozen for fine-tuning join the optimizer as a new group at the
    ``fit`` that trains them; a run loaded into a fresh module (all of its
    parameters trainable) takes back that grouping before its state.
    """
    optimizer = engine.optimizer
    if _group_names(engine.module, optimizer) == groups:
        return
    params = dict(engine.module.named_parameters())
    if any(name not in params for group in groups for name in group):
        return  # not the same architecture: load_state_dict says what differs
    settings = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    optimizer.param_groups.clear()
    for i, names in enumerate(groups):
        group = dict(settings[min(i, len(settings) - 1)])
        optimizer.add_param_group({**group, "params": [params[n] for n in names]})


def load_engine_state(engine: Engine, state: dict[str, Any]) -> None:
    """Optimizer, scheduler and gradient-scaler state from a run checkpoint's ``state``."""
    if state.get("param_groups"):
        _regroup(engine, state["param_groups"])
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
    latest = None
    if root.is_dir():
        # The run's own checkpoints first; else any (a folder of model.save directories).
        ckdir = CheckpointDir(root)
        latest = ckdir.latest(check=_ckpt_run.check_run_meta)
        if latest is None and ckdir.run_id is None:
            latest = ckdir.latest(check=_ckpt_run.check_run_meta, any_run=True)
    if latest is None:
        raise CheckpointError(f"No intact epochal checkpoint at {root}")
    return latest
