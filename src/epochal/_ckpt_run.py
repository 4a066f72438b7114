"""Checks a run checkpoint passes before any of it is put into a model.

`epochal.checkpoint` verifies files (regular, bounded, checksummed, parsed
with a depth bound); this module checks what they hold against the format
of a run checkpoint (`epochal._runio`) and against the module it is about to
be loaded into: required keys, types, ranges, finite numbers, tensor names
and shapes, optimizer state layout. Restoring calls `check_run_checkpoint`
first, so a checkpoint is taken whole or not at all. It also makes the
settings that tie a ``checkpoint_dir`` to one run (`run_settings`).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parameter import is_lazy

from epochal._ckpt_io import is_count, is_finite_number
from epochal.checkpoint import META_FILE, STATE_FILE, WEIGHTS_FILE, Checkpoint
from epochal.errors import CheckpointError

__all__ = ["check_run_checkpoint", "check_weights", "run_settings", "tensor_mismatch"]

RUN_KIND = "epochal-run"
WEIGHTS_KIND = "epochal-weights"
_PHASES = ("step", "epoch", "end")
_PRECISIONS = ("32", "bf16-mixed", "16-mixed")
_REBUILD_KEYS = ("optimizer", "loss", "metrics", "learning_rate")
_STATE_KEYS = {
    "optimizer",
    "scheduler",
    "scaler",
    "rng",
    "callbacks",
    "trajectory",
    "partial",
    "param_groups",
}
_CALL_FILE = re.compile(r"call-\d{6,}\.safetensors")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _fail(ckpt: Checkpoint, file: str, problem: str) -> CheckpointError:
    return CheckpointError(f"Checkpoint '{ckpt.path}' is refused: '{file}' {problem}.")


def run_settings(module: nn.Module, description: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The settings that make a run (compared when a ``checkpoint_dir`` is reused).

    Optimizer, loss and metrics by name (None for instances and callables),
    the compiled learning rate, the seed, and the architecture as parameter
    and buffer names with their shapes.
    """
    return {
        "seed": int(seed),
        "optimizer": description.get("optimizer"),
        "loss": description.get("loss"),
        "metrics": list(description.get("metrics") or []),
        "learning_rate": description.get("learning_rate"),
        "architecture": {k: list(v.shape) for k, v in module.state_dict().items()},
    }


def check_weights(ckpt: Checkpoint, module: nn.Module, what: str = WEIGHTS_FILE) -> None:
    """Refuse weights whose names or shapes do not match ``module.state_dict()``."""
    _check_tensors(ckpt, what, ckpt.weights, module.state_dict())


def _check_tensors(
    ckpt: Checkpoint, file: str, saved: Mapping[str, Any], expected: Mapping[str, torch.Tensor]
) -> None:
    problem = tensor_mismatch(saved, expected)
    if problem is not None:
        raise _fail(ckpt, file, problem)


def tensor_mismatch(saved: Mapping[str, Any], expected: Mapping[str, torch.Tensor]) -> str | None:
    """What keeps ``saved`` tensors from loading into a module with ``expected`` ones, or None.

    Used before any ``load_state_dict``: torch copies the tensors that fit
    before it raises on those that do not.
    """
    missing = [k for k in expected if k not in saved]
    unexpected = [k for k in saved if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"lacks {len(missing)} of the module's tensors ({', '.join(missing[:3])})")
        if unexpected:
            parts.append(
                f"has {len(unexpected)} the module does not ({', '.join(map(str, unexpected[:3]))})"
            )
        return " and ".join(parts) + ": it was saved from another architecture"
    for key, tensor in expected.items():
        value = saved[key]
        if is_lazy(tensor):  # a lazy module takes its shapes from what is loaded
            continue
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(tensor.shape):
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            return (
                f"holds {key!r} with shape {shape}, the module's has {tuple(tensor.shape)}: it "
                "was saved from another architecture"
            )
    return None


def check_run_checkpoint(
    ckpt: Checkpoint, module: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> None:
    """Refuse a run checkpoint whose metadata, state or tensors do not fit ``module``.

    Raises:
        CheckpointError: naming the checkpoint, the file and what is wrong.
    """
    check_run_meta(ckpt)
    _check_state(ckpt, module, optimizer)
    check_weights(ckpt, module)
    # Parse (and check) the history log now, before anything changes.
    history, calls = ckpt.history, ckpt.calls
    _check_calls(ckpt, calls)
    count = ckpt.meta.get("calls_count")
    if count is not None and count != len(calls or []):
        raise _fail(
            ckpt, META_FILE, f"counts {count} fit calls, its history log has {len(calls or [])}"
        )
    del history


def check_run_meta(ckpt: Checkpoint) -> None:
    """Refuse metadata that is not a run checkpoint's (see the module docstring)."""
    meta = ckpt.meta
    kind = meta.get("kind")
    if kind == WEIGHTS_KIND:
        raise CheckpointError(
            f"Checkpoint '{ckpt.path}' holds weights only (saved by save_weights), not a "
            "run: load it with model.load_weights(path) into a model built with the same "
            "architecture."
        )
    if kind != RUN_KIND:
        raise _fail(ckpt, META_FILE, f"has kind {kind!r}, expected {RUN_KIND!r}")
    for key in ("epoch", "step"):
        if not is_count(meta.get(key)):
            raise _fail(ckpt, META_FILE, f"has {key}={meta.get(key)!r}, expected an int >= 0")
    seed = meta.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or abs(seed) >= 2**64:
        raise _fail(ckpt, META_FILE, f"has seed={seed!r}, expected an int")
    if not isinstance(meta.get("stopped"), bool):
        raise _fail(ckpt, META_FILE, f"has stopped={meta.get('stopped')!r}, expected a bool")
    if meta.get("phase", "end") not in _PHASES:
        raise _fail(ckpt, META_FILE, f"has phase={meta.get('phase')!r}, expected one of {_PHASES}")
    baseline = meta.get("baseline_loss")
    if baseline is not None and not is_finite_number(baseline):
        raise _fail(ckpt, META_FILE, f"has baseline_loss={baseline!r}, expected a finite number")
    if not isinstance(meta.get("events", {}), (dict, type(None))):
        raise _fail(ckpt, META_FILE, "has 'events' that is not an object")
    position = meta.get("data_position")
    if position is not None and (
        not isinstance(position, list) or len(position) != 2 or not all(map(is_count, position))
    ):
        raise _fail(ckpt, META_FILE, f"has data_position={position!r}, expected two counts")
    if not is_count(meta.get("calls_count", 0)):
        raise _fail(ckpt, META_FILE, f"has calls_count={meta.get('calls_count')!r}")
    _check_compile(ckpt, meta.get("compile", {}))


def _check_calls(ckpt: Checkpoint, calls: Any) -> None:
    """The end-of-call records (`epochal.run.CallRecord`) a resumed script replays."""
    if calls is None:
        return
    if not isinstance(calls, list):
        raise _fail(ckpt, META_FILE, "has 'calls' that is not a list")
    for index, record in enumerate(calls):
        ok = (
            isinstance(record, dict)
            and all(is_count(record.get(k)) for k in ("first", "last", "epoch", "step"))
            and isinstance(record.get("stopped"), bool)
            and isinstance(record.get("lrs"), list)
            and all(is_finite_number(lr) for lr in record["lrs"])
            and (record.get("weights") is None or _CALL_FILE.fullmatch(str(record["weights"])))
            and (record.get("digest") is None or _SHA256.fullmatch(str(record["digest"])))
        )
        if not ok:
            raise _fail(ckpt, META_FILE, f"has a malformed record of fit call {index}")


def _check_compile(ckpt: Checkpoint, description: Any) -> None:
    if description is None:
        return
    if not isinstance(description, dict):
        raise _fail(ckpt, META_FILE, "has 'compile' that is not an object")
    for key in ("optimizer", "loss"):
        if not isinstance(description.get(key), (str, type(None))):
            raise _fail(ckpt, META_FILE, f"has compile.{key}={description.get(key)!r}")
    metrics = description.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise _fail(ckpt, META_FILE, "has compile.metrics that is not a list of names")
    lr = description.get("learning_rate")
    if lr is not None and (not is_finite_number(lr) or lr < 0):
        raise _fail(ckpt, META_FILE, f"has compile.learning_rate={lr!r}, expected a number >= 0")
    if description.get("precision", "32") not in _PRECISIONS:
        raise _fail(ckpt, META_FILE, f"has compile.precision={description.get('precision')!r}")
    for key in ("compile", "rebuildable"):
        if not isinstance(description.get(key, False), bool):
            raise _fail(ckpt, META_FILE, f"has compile.{key}={description.get(key)!r}")
    if description.get("rebuildable"):
        # Model.load rebuilds the compile call from these names.
        missing = [k for k in _REBUILD_KEYS if k not in description]
        if (
            missing
            or not isinstance(description["optimizer"], str)
            or not isinstance(description["loss"], str)
        ):
            raise _fail(ckpt, META_FILE, f"has a rebuildable compile without {missing or 'names'}")


def _check_state(
    ckpt: Checkpoint, module: nn.Module, optimizer: torch.optim.Optimizer | None
) -> None:
    state = ckpt.state
    unknown = set(state) - _STATE_KEYS
    if unknown or "rng" not in state:
        raise _fail(ckpt, STATE_FILE, f"is not a run's state (keys {sorted(map(str, state))})")
    rng = state["rng"]
    reference = torch.get_rng_state()
    if (
        not isinstance(rng, dict)
        or not isinstance(rng.get("cpu"), torch.Tensor)
        or rng["cpu"].dtype != torch.uint8
        or tuple(rng["cpu"].shape) != tuple(reference.shape)
    ):
        raise _fail(ckpt, STATE_FILE, "holds no valid CPU random generator state")
    cuda = rng.get("cuda")
    if cuda is not None and (not isinstance(cuda, torch.Tensor) or cuda.dtype != torch.uint8):
        raise _fail(ckpt, STATE_FILE, "holds an invalid CUDA random generator state")
    _check_host_rngs(ckpt, rng)
    callbacks = state.get("callbacks") or {}
    if not isinstance(callbacks, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in callbacks.items()
    ):
        raise _fail(ckpt, STATE_FILE, "holds callback states that are not a mapping of objects")
    for key in ("scheduler", "scaler"):
        if not isinstance(state.get(key), (dict, type(None))):
            raise _fail(ckpt, STATE_FILE, f"holds a {key} state that is not a mapping")
    trajectory = state.get("trajectory")
    if trajectory is not None:
        if not isinstance(trajectory, dict):
            raise _fail(ckpt, STATE_FILE, "holds a trajectory that is not a mapping of tensors")
        _check_tensors(ckpt, STATE_FILE, trajectory, module.state_dict())
    _check_partial(ckpt, state.get("partial"))
    live = _live_groups(ckpt, state.get("param_groups"), module, optimizer)
    _check_optimizer(ckpt, state.get("optimizer"), live)


def _live_groups(
    ckpt: Checkpoint, names: Any, module: nn.Module, optimizer: torch.optim.Optimizer | None
) -> list[list[torch.Tensor]] | None:
    """The parameters of each optimizer group the checkpoint will load into, if known.

    A checkpoint naming its groups' parameters (``param_groups``) is regrouped
    to them before its optimizer state is loaded; older ones load into the
    optimizer's groups as they are.
    """
    if names is None:
        if optimizer is None:
            return None
        return [list(group["params"]) for group in optimizer.param_groups]
    if not isinstance(names, list) or not all(
        isinstance(group, list) and all(isinstance(n, str) for n in group) for group in names
    ):
        raise _fail(ckpt, STATE_FILE, "holds 'param_groups' that are not lists of names")
    params = dict(module.named_parameters())
    unknown = [n for group in names for n in group if n not in params]
    if unknown:
        raise _fail(
            ckpt,
            STATE_FILE,
            f"names optimizer parameters the module does not have ({', '.join(unknown[:3])}): "
            "it was saved from another architecture",
        )
    return [[params[n] for n in group] for group in names]


def _check_host_rngs(ckpt: Checkpoint, rng: dict[Any, Any]) -> None:
    """numpy's and Python's generator states: set on throwaway generators to prove them."""
    from epochal.run import _numpy_state_from_json, _python_state_from_json

    try:
        if rng.get("numpy") is not None:
            np.random.RandomState().set_state(_numpy_state_from_json(rng["numpy"]))
        if rng.get("python") is not None:
            random.Random().setstate(_python_state_from_json(rng["python"]))
    except Exception as exc:
        problem = f"holds an invalid numpy or Python generator state ({exc})"
        raise _fail(ckpt, STATE_FILE, problem) from exc


def _check_partial(ckpt: Checkpoint, partial: Any) -> None:
    if partial is None:
        return
    ok = (
        isinstance(partial, dict)
        and all(is_count(partial.get(k)) for k in ("epoch", "batch", "seen"))
        and isinstance(partial.get("loss_sum"), torch.Tensor)
        and partial["loss_sum"].numel() == 1
        and isinstance(partial.get("metrics"), list)
        and all(isinstance(m, dict) for m in partial["metrics"])
    )
    if not ok or partial["epoch"] != ckpt.meta["epoch"]:
        raise _fail(ckpt, STATE_FILE, "holds a malformed partial-epoch record")


def _check_optimizer(ckpt: Checkpoint, saved: Any, live: list[list[torch.Tensor]] | None) -> None:
    if saved is None:
        return
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    per_param = saved.get("state") if isinstance(saved, dict) else None
    if (
        not isinstance(groups, list)
        or not isinstance(per_param, dict)
        or not all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups)
    ):
        raise _fail(ckpt, STATE_FILE, "holds an optimizer state without 'state' and 'param_groups'")
    indices = [i for g in groups for i in g["params"]]
    if not all(is_count(i) for i in indices) or len(set(indices)) != len(indices):
        raise _fail(ckpt, STATE_FILE, "holds an optimizer state with invalid parameter indices")
    if not set(per_param) <= set(indices):
        raise _fail(ckpt, STATE_FILE, "holds optimizer state for parameters no group lists")
    for group in groups:
        lr = group.get("lr")
        if lr is not None and (not is_finite_number(lr) and not isinstance(lr, torch.Tensor)):
            raise _fail(ckpt, STATE_FILE, f"holds an optimizer learning rate of {lr!r}")
    if live is None:
        return
    sizes = [len(group) for group in live]
    if sizes != [len(g["params"]) for g in groups]:
        raise _fail(
            ckpt,
            STATE_FILE,
            f"holds an optimizer over {len(indices)} parameters in groups of "
            f"{[len(g['params']) for g in groups]}, this model's has groups of {sizes}",
        )
    by_index = dict(zip(indices, [p for group in live for p in group], strict=True))
    for index, entry in per_param.items():
        if not isinstance(entry, dict):
            raise _fail(
                ckpt, STATE_FILE, f"holds a malformed optimizer state for parameter {index}"
            )
        param = by_index[index]
        for name, value in entry.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != param.shape:
                raise _fail(
                    ckpt,
                    STATE_FILE,
                    f"holds optimizer state {name!r} of shape {tuple(value.shape)} for a "
                    f"parameter of shape {tuple(param.shape)}",
                )
            if isinstance(value, float) and math.isnan(value):
                raise _fail(ckpt, STATE_FILE, f"holds a NaN optimizer state {name!r}")
