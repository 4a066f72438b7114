"""What wraps the training step: mixed precision and ``torch.compile``.

There is one step (`epochal.loop.train_step`); these options are set up around
its forward-and-loss part, never by copies of it:

- ``precision="bf16-mixed"`` runs forward and loss under ``torch.autocast``
  with bfloat16 (CPU and CUDA); ``"16-mixed"`` uses float16 with a gradient
  scaler (CUDA only); ``"32"`` (the default) changes nothing.
- ``compile=True`` compiles forward-and-loss with ``torch.compile``. If
  compilation fails (no compiler, an unsupported operation), epochal warns
  once with the reason and runs the same function eagerly.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import torch

from epochal.errors import ArgumentError
from epochal.layers._penalties import install_constraints, penalty_fn

if TYPE_CHECKING:
    from epochal.loop import Engine

__all__ = ["PRECISIONS", "ForwardLoss", "build_forward_loss", "check_precision", "make_scaler"]

Precision = Literal["32", "bf16-mixed", "16-mixed"]
PRECISIONS: tuple[str, ...] = ("32", "bf16-mixed", "16-mixed")

ForwardLoss = Callable[[Any, Any, "torch.Tensor | None"], tuple[Any, Any, torch.Tensor]]


def check_precision(precision: Any, device: torch.device) -> Precision:
    """Validate ``precision`` for ``device``."""
    value = "32" if precision in (None, 32, "32") else precision
    if value not in PRECISIONS:
        raise ArgumentError(
            f"Expected `precision` to be one of {', '.join(PRECISIONS)}. Received: precision={precision!r}"
        )
    if value == "16-mixed" and device.type != "cuda":
        raise ArgumentError(
            "precision='16-mixed' needs a CUDA device (float16 autocast with a gradient scaler). "
            f"The model is on {device.type}: use precision='bf16-mixed' there"
        )
    return value  # type: ignore[return-value]


def _autocast(precision: Precision, device: torch.device) -> Callable[[], Any]:
    if precision == "32":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


def make_scaler(precision: Precision, device: torch.device) -> Any:
    """The gradient scaler float16 training needs, or None."""
    return torch.amp.GradScaler(device.type) if precision == "16-mixed" else None


def build_forward_loss(engine: Engine, *, precision: Precision, compile: bool) -> ForwardLoss:
    """Forward and loss for a batch: returns (outputs, conformed targets, loss)."""
    autocast = _autocast(precision, engine.device)
    # Keras's layer regularizers and constraints (epochal.layers._penalties); None when unused.
    penalty = penalty_fn(engine.module)
    install_constraints(engine.optimizer, engine.module)

    def forward_loss(
        x: Any, y: Any, sample_weight: torch.Tensor | None
    ) -> tuple[Any, Any, torch.Tensor]:
        with autocast():
            out = engine.forward(x)
            if engine.prepare_targets is not None:
                y = engine.prepare_targets(y, out)
            loss = engine.loss_fn(out, y, sample_weight)
            if penalty is not None:
                loss = loss + penalty()
        return out, y, loss

    if not compile:
        return forward_loss
    return _compiled_or_eager(forward_loss)


def _compiled_or_eager(fn: ForwardLoss) -> ForwardLoss:
    compiled = torch.compile(fn)
    state = {"fn": compiled, "checked": False}

    def call(x: Any, y: Any, sample_weight: torch.Tensor | None) -> tuple[Any, Any, torch.Tensor]:
        if state["checked"]:
            return state["fn"](x, y, sample_weight)  # type: ignore[operator]
        try:
            result = compiled(x, y, sample_weight)
        except Exception as exc:  # compilation failed: say why, train eagerly
            warnings.warn(
                f"compile=True: torch.compile could not compile the training step "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                "training continues without compilation",
                RuntimeWarning,
                stacklevel=4,
            )
            state["fn"] = fn
            result = fn(x, y, sample_weight)
        state["checked"] = True
        return result

    return call
