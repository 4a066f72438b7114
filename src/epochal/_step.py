"""The one training step, and what wraps it: mixed precision and ``torch.compile``.

`build_train_step` returns the `TrainStep` the loop calls for every batch:
zero the gradients, forward, loss, backward, ``optimizer.step``. The options
are set up around that one step, never by copies of the loop:

- an optimizer whose ``step`` needs a closure (``torch.optim.LBFGS``, which
  evaluates the loss several times a step) gets one that does zero-grad,
  forward, loss and backward; the step reports the first evaluation's loss
  and outputs (those of the weights before the step, like every other
  optimizer);
- ``precision="bf16-mixed"`` runs forward and loss under ``torch.autocast``
  with bfloat16 (CPU and CUDA); ``"16-mixed"`` uses float16 with a gradient
  scaler (CUDA only); ``"32"`` (the default) changes nothing;
- ``compile=True`` compiles the whole step but the optimizer's update as one
  graph: forward, loss and backward (``torch.func.grad`` over
  ``torch.func.functional_call``, under ``torch.compile(fullgraph=True)``);
  the gradients it returns are handed to the optimizer, whose default kernel
  is already fused (see `epochal.optimizers`). Each model compiles its own
  copy of the step, so a sweep over many models never reaches torch's
  recompile limit; the last, smaller batch of an epoch compiles once into a
  second graph of its own (shapes are static), not every epoch. Dropout
  inside the compiled graph draws its seeds from torch's global generator,
  which during ``fit`` is the run's, so split runs and
  resumed runs end with the same bits. With a closure-driven optimizer or a
  gradient scaler, only forward-and-loss is compiled. Where compilation
  fails (no compiler, an operation torch cannot trace as one graph), epochal
  warns once with the reason and runs the same step eagerly. On a CUDA
  device the graph is compiled in torch's ``reduce-overhead`` mode: each
  step replays it as one CUDA graph (`compile_mode`).
"""

from __future__ import annotations

import contextlib
import inspect
import types
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from epochal import _lean
from epochal._tree import tree_map
from epochal.errors import ArgumentError
from epochal.layers._penalties import install_constraints, penalty_fn

if TYPE_CHECKING:
    from epochal.loop import Engine

__all__ = [
    "PRECISIONS",
    "ForwardLoss",
    "TrainStep",
    "build_forward_loss",
    "build_train_step",
    "check_precision",
    "make_scaler",
    "needs_closure",
]

Precision = Literal["32", "bf16-mixed", "16-mixed"]
PRECISIONS: tuple[str, ...] = ("32", "bf16-mixed", "16-mixed")

ForwardLoss = Callable[[Any, Any, "torch.Tensor | None"], tuple[Any, Any, torch.Tensor]]
#: ``(x, y, sample_weight) -> (outputs detached, conformed targets, loss detached)``
TrainStep = Callable[[Any, Any, "torch.Tensor | None"], tuple[Any, Any, torch.Tensor]]


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


def needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step`` must be given a closure (LBFGS, or a ``step(closure)`` without default)."""
    if isinstance(optimizer, torch.optim.LBFGS):
        return True
    try:
        parameter = inspect.signature(optimizer.step).parameters.get("closure")
    except (TypeError, ValueError):  # a builtin or C-implemented step: no closure
        return False
    return parameter is not None and parameter.default is inspect.Parameter.empty


def _private_copy(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``fn`` with a code object of its own.

    torch.compile keeps its compiled graphs (and counts recompilations) per
    code object; closures made by one ``def`` share theirs. A copy per model
    keeps every model's graphs apart, so many models in one process never hit
    the recompile limit, and a model's graphs go when the model does.
    """
    assert isinstance(fn, types.FunctionType)
    code = fn.__code__.replace(co_name=name)  # a new code object, even for an unchanged name
    copy = types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _compiled_or_eager(
    fn: Callable[..., Any], compiled: Callable[..., Any], what: str
) -> Callable[..., Any]:
    """``compiled``, or ``fn`` from the first call where ``compiled`` fails and ``fn`` does not."""
    state: dict[str, Any] = {"fn": compiled}

    def call(*args: Any) -> Any:
        current = state["fn"]
        if current is fn:
            return fn(*args)
        try:
            return current(*args)
        except Exception as exc:  # compilation failed: say why, run eagerly
            result = fn(*args)  # an error of the step itself is raised here, unchanged
            state["fn"] = fn
            warnings.warn(
                f"compile=True: torch.compile could not compile {what} ({_first_line(exc)}); "
                "training continues without compilation",
                RuntimeWarning,
                stacklevel=3,
            )
            return result

    return call


def build_forward_loss(engine: Engine, *, precision: Precision, compile: bool) -> ForwardLoss:
    """Forward and loss for a batch: returns (outputs, conformed targets, loss)."""
    autocast = _autocast(precision, engine.device)
    # Keras's layer regularizers and constraints (epochal.layers._penalties); None when unused.
    penalty = penalty_fn(engine.module)
    install_constraints(engine.optimizer, engine.module)
    # Read once: whether this forward-loss conforms batch targets is decided
    # when it is built (the engine may gain a `prepare_targets` later for
    # other uses; in-memory targets are conformed up front, not per step).
    prepare, forward, loss_fn = engine.prepare_targets, engine.forward, engine.loss_fn

    def forward_loss(
        x: Any, y: Any, sample_weight: torch.Tensor | None
    ) -> tuple[Any, Any, torch.Tensor]:
        out = forward(x)
        if prepare is not None:
            y = prepare(y, out)
        loss = loss_fn(out, y, sample_weight)
        if penalty is not None:
            loss = loss + penalty()
        return out, y, loss

    fn: ForwardLoss = forward_loss
    if autocast is not contextlib.nullcontext:  # "32" pays no context manager per step
        fn = _under(autocast, forward_loss)
    if not compile:
        return fn
    private = _private_copy(fn, f"epochal_forward_loss_{id(engine):x}")
    return _compiled_or_eager(fn, torch.compile(private), "the training step")


def _under(autocast: Callable[[], Any], forward_loss: ForwardLoss) -> ForwardLoss:
    """``forward_loss`` run under ``autocast()``."""

    def autocast_forward_loss(
        x: Any, y: Any, sample_weight: torch.Tensor | None
    ) -> tuple[Any, Any, torch.Tensor]:
        with autocast():
            return forward_loss(x, y, sample_weight)

    return autocast_forward_loss


def _detach(out: Any) -> Any:
    # A tuple or dict of outputs (several outputs) is detached leaf by leaf.
    return tree_map(lambda t: t.detach() if isinstance(t, torch.Tensor) else t, out)


def _eager_step(engine: Engine, forward_loss: ForwardLoss) -> TrainStep:
    optimizer = engine.optimizer
    optimizer_step = _lean.stepper(optimizer)

    def step(x: Any, y: Any, sample_weight: torch.Tensor | None) -> tuple[Any, Any, torch.Tensor]:
        out, y, loss = forward_loss(x, y, sample_weight)
        _lean.clear_grads(optimizer)
        if loss.requires_grad:  # a fully frozen model (Keras face) trains nothing, no error
            _lean.backward(loss)
        optimizer_step()
        return _detach(out), y, loss.detach()

    return step


def _scaled_step(engine: Engine, forward_loss: ForwardLoss) -> TrainStep:
    optimizer, scaler = engine.optimizer, engine.scaler

    def step(x: Any, y: Any, sample_weight: torch.Tensor | None) -> tuple[Any, Any, torch.Tensor]:
        out, y, loss = forward_loss(x, y, sample_weight)
        optimizer.zero_grad(set_to_none=True)
        # float16: scale the loss so small gradients do not underflow
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return _detach(out), y, loss.detach()

    return step


def _closure_step(engine: Engine, forward_loss: ForwardLoss) -> TrainStep:
    optimizer = engine.optimizer

    def step(x: Any, y: Any, sample_weight: torch.Tensor | None) -> tuple[Any, Any, torch.Tensor]:
        first: list[tuple[Any, Any, torch.Tensor]] = []

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            out, conformed, loss = forward_loss(x, y, sample_weight)
            loss.backward()
            if not first:  # the loss of the weights before the step, as other optimizers report
                first.append((_detach(out), conformed, loss.detach()))
            return loss

        optimizer.step(closure)  # type: ignore[arg-type]  # torch's stub says float; tensors are fine
        if not first:
            raise RuntimeError(
                f"{type(optimizer).__name__}.step(closure) never called the closure: "
                "epochal cannot report a loss for the step"
            )
        return first[0]

    return step


class _WithForwardLoss(nn.Module):
    """Holds the model's module, so ``functional_call`` swaps its parameters for ``forward_loss``."""

    def __init__(self, module: nn.Module, forward_loss: ForwardLoss) -> None:
        super().__init__()
        self.module = module
        self._forward_loss = forward_loss

    def forward(self, x: Any, y: Any, sample_weight: torch.Tensor | None) -> Any:
        return self._forward_loss(x, y, sample_weight)


def _whole_compiled_step(
    engine: Engine, forward_loss: ForwardLoss, graphs: bool | None = None
) -> TrainStep:
    """Forward, loss and backward as one compiled graph; the optimizer's update after it.

    ``graphs``: replay the graph as a CUDA graph (`compile_mode`); None: on CUDA.
    """
    optimizer = engine.optimizer
    module = engine.module
    holder = _WithForwardLoss(module, forward_loss)
    named = [(f"module.{n}", p) for n, p in module.named_parameters()]
    # Buffers (batch-norm statistics) are updated in place during the forward:
    # torch.func.grad allows that only on tensors its function takes as inputs.
    buffers = [(f"module.{n}", b) for n, b in module.named_buffers()]
    split: dict[str, Any] = {"flags": None}

    def inputs() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(trained parameters, everything else), redone when ``requires_grad`` changed."""
        flags = tuple(p.requires_grad for _, p in named)
        if flags != split["flags"]:  # a layer (un)frozen between calls: a new graph
            split["flags"] = flags
            split["params"] = {n: p for n, p in named if p.requires_grad}
            split["others"] = {n: p for n, p in named if not p.requires_grad} | dict(buffers)
        return split["params"], split["others"]

    def grads_and_outputs(
        params: dict[str, torch.Tensor],
        others: dict[str, torch.Tensor],
        x: Any,
        y: Any,
        sample_weight: torch.Tensor | None,
    ) -> tuple[dict[str, torch.Tensor], Any, Any, torch.Tensor]:
        def loss_of(
            p: dict[str, torch.Tensor], rest: dict[str, torch.Tensor]
        ) -> tuple[torch.Tensor, tuple[Any, Any, Any]]:
            out, conformed, loss = torch.func.functional_call(
                holder, {**p, **rest}, (x, y, sample_weight)
            )
            return loss, (_detach(out), conformed, loss.detach())

        grads, (out, conformed, loss) = torch.func.grad(loss_of, has_aux=True)(params, others)
        return grads, out, conformed, loss

    private = _private_copy(grads_and_outputs, f"epochal_train_step_{id(engine):x}")
    mode = compile_mode(engine.device, graphs)
    # Static shapes: the last, smaller batch gets its own graph, compiled once
    # and cached (dropout under torch.func.grad cannot trace a symbolic batch size).
    compiled = torch.compile(private, fullgraph=True, dynamic=False, mode=mode)
    optimizer_step = _lean.stepper(optimizer)
    # CUDA graphs write each replay's outputs where the last replay wrote
    # them. The loop adds the loss to its sum and updates the metrics before
    # the next step; a metric that may keep what it was given (anything but
    # epochal's counting metrics) gets copies of the outputs and targets.
    graphed = mode == "reduce-overhead"
    copies = graphed and not all(
        getattr(m, "counts_only", False) is True for m in engine.train_metrics
    )
    quiet = [2 if graphed else 0]  # see _graph_setup_quietly

    def step(x: Any, y: Any, sample_weight: torch.Tensor | None) -> tuple[Any, Any, torch.Tensor]:
        params, others = inputs()
        # torch.func.grad differentiates inside; outside, no autograd graph is
        # needed, and without one torch compiles a leaner inference graph.
        with torch.no_grad():
            if quiet[0]:
                quiet[0] -= 1
                with _graph_setup_quietly():
                    grads, out, y, loss = compiled(params, others, x, y, sample_weight)
            else:
                grads, out, y, loss = compiled(params, others, x, y, sample_weight)
        # Under CUDA graphs the gradients live in the graph's memory until the
        # next replay, by which time the optimizer has used them.
        for name, p in params.items():
            p.grad = grads[name]
        optimizer_step()
        if copies:
            out, y = _clones((out, y))
        return out, y, loss

    return step


def compile_mode(device: torch.device, graphs: bool | None = None) -> str:
    """torch.compile's mode for the whole step: ``reduce-overhead`` (CUDA graphs) on CUDA.

    A small model's step on a GPU is a few dozen short kernels, each launched
    from Python; replayed as one CUDA graph they cost one launch. ``graphs``
    None: CUDA graphs on a CUDA device, none elsewhere.
    """
    if graphs is None:
        graphs = device.type == "cuda"
    return "reduce-overhead" if graphs else "default"


def _clones(values: Any) -> Any:
    return tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t, values)


@contextlib.contextmanager
def _graph_setup_quietly() -> Iterator[None]:
    """Silence torch's own warning when its CUDA-graph manager starts.

    torch makes the manager (one per device, while some compiled function
    uses it) by capturing an empty CUDA graph, which warns "The CUDA Graph is
    empty"; torch catches that warning itself, but under an ``error`` filter
    (a test suite's ``-W error``) it is raised first and compilation fails.
    A model's first calls are where it can be made.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The CUDA Graph is empty", category=UserWarning)
        yield


def build_train_step(engine: Engine, *, precision: Precision, compile: bool) -> TrainStep:
    """The training step for ``engine``: ``step(x, y, sample_weight) -> (outputs, targets, loss)``.

    Args:
        engine: the bound module, forward, loss, optimizer (and gradient scaler).
        precision: ``"32"``, ``"bf16-mixed"`` or ``"16-mixed"`` (see `check_precision`).
        compile: compile the step with ``torch.compile`` (see the module docstring).

    Returns:
        A callable doing one optimizer step on a batch; it returns the outputs
        and the loss (of the weights before the step), detached, and the
        conformed targets.

    Raises:
        ArgumentError: a float16 gradient scaler with an optimizer that needs a closure.
    """
    closure = needs_closure(engine.optimizer)
    if closure and engine.scaler is not None:
        raise ArgumentError(
            f"precision='16-mixed' cannot drive {type(engine.optimizer).__name__}: its step "
            "takes a closure, which torch's gradient scaler does not support. Use "
            "precision='bf16-mixed' or '32'"
        )
    eager_forward_loss = build_forward_loss(engine, precision=precision, compile=False)
    if not compile or closure or engine.scaler is not None:
        forward_loss = build_forward_loss(engine, precision=precision, compile=compile)
        if closure:
            return _closure_step(engine, forward_loss)
        if engine.scaler is not None:
            return _scaled_step(engine, forward_loss)
        return _eager_step(engine, forward_loss)
    return _compiled_or_eager(
        _eager_step(engine, eager_forward_loss),
        _whole_compiled_step(engine, eager_forward_loss),
        "the training step",
    )
