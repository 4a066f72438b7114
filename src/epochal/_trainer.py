"""`Trainer`: the one owner of a training run, made by ``Model.compile``.

It holds the compiled settings, the engine (bound once, at the first ``fit``
or ``evaluate``, then fixed), the `RunState`, a pending checkpoint while a
resumed script replays the calls it covers, and the checkpoint policy.
``Model`` checks arguments and builds data sources; everything that changes
the run happens here, and `loop.fit_loop` runs the epochs of a call.

What a ``fit`` call does (train, replay a call a checkpoint covers, finish
an interrupted call) is decided by the pure `epochal._resume.decide`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors.torch import load, save_file
from torch import nn

from epochal import _dist_run, loop
from epochal import distributed as dist_mod
from epochal import losses as losses_mod
from epochal import metrics as metrics_mod
from epochal import optimizers as optimizers_mod
from epochal._calls import engine_calls, marked
from epochal._ckpt_io import read_bytes
from epochal._ckpt_run import check_run_checkpoint as check_full_checkpoint
from epochal._ckpt_run import run_settings
from epochal._direct import Forward
from epochal._heads import LossForm, loss_form
from epochal._optim_hooks import StepOptions, ema_weights, install
from epochal._outputs import BoundOutputs, OutputsLoss, output_names_of
from epochal._resume import Action, Decision, Saved, decide
from epochal._runio import Partial, capture, check_run_checkpoint, load_engine_state, restore
from epochal._step import (
    Precision,
    build_forward_loss,
    build_train_step,
    make_scaler,
    needs_closure,
)
from epochal._tree import call_module, first_leaf, leaves, tree_map
from epochal.callbacks.base import Callback, CallbackContext, CallbackList
from epochal.callbacks.history import History
from epochal.callbacks.progress import ProgbarLogger
from epochal.checkpoint import Checkpoint, CheckpointDir, save_checkpoint
from epochal.data import ArraySource, Batch, IterableSource, Source
from epochal.data._checks import install_batch_checks, target_name
from epochal.data._features import input_errors, input_signature, unbuilt_on_failure
from epochal.data._reuse import Prepared, keep, reusable
from epochal.errors import ArgumentError, CheckpointError
from epochal.run import CallRecord, RunState, derive_seed, owned_rng, preserved_rng, seeded_rng

__all__ = ["FitCall", "Settings", "Trainer"]

CALLS_DIR = "calls"  # end-of-call weights, beside the checkpoints of a checkpoint_dir
MAX_CALL_WEIGHTS_BYTES = 1 << 40


@dataclass
class Settings:
    """What ``compile`` was given, checked."""

    optimizer: Any
    learning_rate: float | None
    loss: losses_mod.LossSpec | OutputsLoss  # OutputsLoss: several outputs, or weights
    metrics: list[metrics_mod.MetricRequest]
    seed: int
    scheduler: Any = None
    scheduler_interval: Literal["epoch", "step"] = "epoch"
    compile: bool = False
    precision: Precision = "32"
    step_options: StepOptions = field(default_factory=StepOptions)
    optimizer_impl: optimizers_mod.OptimizerImpl = "auto"
    # The Keras face (what epochal.keras builds): Keras's conventions where they differ.
    keras_face: bool = False

    @property
    def logs_learning_rate(self) -> bool:
        """Whether epoch logs carry ``learning_rate``: always natively, as Keras in its face.

        Keras logs it where a schedule moves it (an LR callback adds it itself).
        """
        if not self.keras_face:
            return True
        return self.scheduler is not None or getattr(self.optimizer, "schedule", None) is not None

    def description(self) -> dict[str, Any]:
        """The settings as JSON, with whether ``Model.load`` can rebuild them by name."""
        optimizer = self.optimizer if isinstance(self.optimizer, str) else None
        loss = self.loss.name if self.loss.kind != "custom" else None
        metrics = [r.name for r in self.metrics if r.key is not None]
        rebuildable = (
            optimizer is not None
            and loss is not None
            and self.loss.from_logits is None
            and len(metrics) == len(self.metrics)
            and self.scheduler is None
        )
        return {
            "optimizer": optimizer,
            "loss": loss,
            "metrics": metrics,
            "learning_rate": self.learning_rate,
            "precision": self.precision,
            "compile": self.compile,
            "optimizer_impl": self.optimizer_impl,
            "step_options": self._step_options_description(),
            "rebuildable": rebuildable,
        }

    def _step_options_description(self) -> dict[str, Any] | None:
        """The step options in effect (compile's or a Keras optimizer's), as JSON; None if none.

        A checkpoint_dir's run is tied to them, and Model.load rebuilds
        compile()'s own (the first four keys) by name.
        """
        own = getattr(self.optimizer, "step_options", None)
        options = self.step_options
        if not options.any() and isinstance(own, StepOptions):
            options = own
        if not options.any():
            return None
        described: dict[str, Any] = {
            "clipnorm": options.clipnorm,
            "clipvalue": options.clipvalue,
            "global_clipnorm": options.global_clipnorm,
            "gradient_accumulation_steps": options.accumulation_steps,
        }
        if options.use_ema:
            described["use_ema"] = True
            described["ema_momentum"] = options.ema_momentum
            described["ema_overwrite_frequency"] = options.ema_overwrite_frequency
        if options.schedule is not None:
            described["schedule"] = _schedule_description(options.schedule)
        return {k: v for k, v in described.items() if v is not None}


@dataclass
class FitCall:
    """One ``fit`` call's checked arguments and data sources."""

    train: Source
    val: Source | None
    batch_size: int
    val_batch_size: int
    epochs: int
    initial_epoch: int | None
    steps_per_epoch: int | None
    validation_steps: int | None
    validation_freq: int | list[int]
    shuffle: bool
    callbacks: list[Callback]
    verbose: int
    checkpoint_dir: str | os.PathLike[str] | None
    checkpoint_steps: int | None
    keep_checkpoints: int | None
    # What the call was given, and its stamp (epochal.data._reuse): prepared
    # sources are kept for a next call given the same tensors, unchanged.
    # ``reused``: the previous call's entry, when this call's sources are its.
    inputs_key: tuple[Any, ...] | None = None
    given: tuple[Any, ...] = ()
    reused: Prepared | None = None


@dataclass
class _Snapshot:
    """The run at the start of a call, to retry the call after it failed."""

    weights: dict[str, torch.Tensor]
    engine_state: dict[str, Any]
    run: RunState


class Trainer:
    """Owns one training run of ``module`` (see the module docstring)."""

    def __init__(self, module: nn.Module, device: torch.device, settings: Settings) -> None:
        self.module = module
        self.device = device
        self.settings = settings
        self.engine: loop.Engine | None = None
        self.run = RunState(seed=settings.seed, history=History())
        self.input_shape: tuple[int, ...] | None = None
        # input shapes/dtypes -> output shape/dtype, learned by _sample_output
        # (a tree of empty tensors shaped like the outputs, for tuple/dict outputs too)
        self._output_shapes: dict[Any, Any] = {}
        self._parameter_count = 0  # the module's, as of the last fit call's start
        # The last fit and evaluate calls' prepared sources (epochal.data._reuse).
        self._prepared: dict[str, Prepared] = {}
        # A checkpoint found in a checkpoint_dir, applied when the script reaches
        # the call it does not fully cover (see epochal._resume).
        self._pending: Checkpoint | None = None
        # Optimizer state of a loaded run, waiting for the engine to be built.
        self._pending_engine_state: dict[str, Any] | None = None
        # A loaded step checkpoint's partial epoch, continued by the next fit.
        self._loaded_partial: Partial | None = None
        # A fit(checkpoint_dir=...) call failed: the next one starts from the
        # newest checkpoint, or from this snapshot of the failed call's start.
        self._dirty = False
        self._snapshot: _Snapshot | None = None
        # Saves asked for inside fit, written when the hooks running now have run.
        self._saves: list[tuple[str, Path]] | None = None
        # A steps_per_epoch walk over an iterable: (the user's data, its iterator),
        # so that the next call given the same data reads on, as Keras does.
        self._stream: tuple[Any, Any] | None = None
        # The loss spec the targets are checked against, set when the engine is bound.
        self.targets_spec: losses_mod.LossSpec | BoundOutputs | None = None

    # -- binding --------------------------------------------------------------
    def bind(self, sample: Batch, name: str = "x") -> loop.Engine:
        """Build lazy layers, decide the loss form, build optimizer and metrics."""
        settings = self.settings
        x2 = tree_map(lambda t: t[:2], sample.x)
        was_training = self.module.training
        self.module.eval()
        try:
            with (
                input_errors(name, x2, self.module),
                seeded_rng(derive_seed(settings.seed, "build")),
                torch.enable_grad(),
                engine_calls(),
            ):
                out = call_module(self.module, x2)
        finally:
            self.module.train(was_training)
        self.input_shape = tuple(first_leaf(x2).shape[1:])

        forms: list[LossForm] = []

        def single_form(spec: losses_mod.LossSpec) -> tuple[bool, Any]:
            forms.append(loss_form(self.module, out, spec))  # may split off a final activation
            return forms[-1].logits, forms[-1].metric_input

        spec = self._targets_spec(out, single_form)
        if isinstance(spec, BoundOutputs):
            # Each loss in its output's form; one output may skip a final activation layer.
            whole = LossForm(Forward([self.module], spread=True), False, None)
            form = forms[-1] if forms else whole
            loss_fn: losses_mod.LossFn = spec.loss
            train_metrics: list[metrics_mod.CompiledMetric] = list(spec.metrics())
        else:
            form = loss_form(self.module, out, spec)
            loss_fn = losses_mod.build_loss(spec, logits=form.logits)
            train_metrics = [metrics_mod.build(r, out, self.device) for r in settings.metrics]
            if form.metric_input is not None:
                for metric in train_metrics:
                    metric.accept_logits()
        freeze_marked(self.module)  # layers built by the probe above included
        optimizer = self._build_optimizer()
        install(optimizer, settings.step_options)
        scheduler, _ = optimizers_mod.build_scheduler(settings.scheduler, optimizer)
        engine = loop.Engine(
            module=self.module,
            device=self.device,
            # Compiled: one fixed path for torch.compile to trace (direct calls
            # switch functions between calls, which would recompile).
            forward=form.forward.slow if settings.compile else form.forward,
            loss_fn=loss_fn,
            metric_input=form.metric_input,
            optimizer=optimizer,
            train_metrics=train_metrics,
            eval_metrics=[m.clone() for m in train_metrics],
            scheduler=scheduler,
            scheduler_per_step=settings.scheduler_interval == "step",
            scaler=make_scaler(settings.precision, self.device),
            outputs=spec if isinstance(spec, BoundOutputs) else None,
            own_loss_and_metrics=_own_loss_and_metrics(spec, settings.metrics),
        )
        conforming = replace(
            engine,
            prepare_targets=lambda y, out: losses_mod.prepare_targets(
                spec, y, out, check_values=False
            ),
        )
        options = {"precision": settings.precision, "compile": settings.compile}
        engine.forward_loss = _engine_step(build_forward_loss(engine, **options))  # type: ignore[arg-type]
        engine.forward_loss_conforming = _engine_step(build_forward_loss(conforming, **options))  # type: ignore[arg-type]
        engine.train_step = _engine_step(build_train_step(engine, **options))  # type: ignore[arg-type]
        engine.train_step_conforming = _engine_step(build_train_step(conforming, **options))  # type: ignore[arg-type]
        engine.prepare_targets = conforming.prepare_targets
        self.targets_spec = spec
        if dist_mod.world().distributed:
            self._distribute(engine)
        return engine

    def _distribute(self, engine: loop.Engine) -> None:
        """Train through DDP with each rank's loss scaled to its share (epochal._dist_run).

        The step runs eagerly: DDP's gradient hooks do not run inside the one
        compiled graph of ``compile=True`` (forward, loss and backward through
        ``torch.func``), so on several processes ``compile`` is not applied.
        """
        settings = self.settings
        if needs_closure(engine.optimizer):
            raise ArgumentError(
                f"{type(engine.optimizer).__name__} (an optimizer whose step takes a closure) "
                "cannot train on several processes: each rank would evaluate its own loss in "
                "the closure and the ranks would disagree. Use a first-order optimizer"
            )
        if settings.compile:
            warnings.warn(
                "compile=True is not applied on several processes: the training step runs "
                "eagerly through DistributedDataParallel",
                RuntimeWarning,
                stacklevel=4,
            )
        train_engine, state = _dist_run.distributed_engine(engine, dist_mod.world())
        options: dict[str, Any] = {"precision": settings.precision, "compile": False}
        engine.train_step = _engine_step(build_train_step(train_engine, **options))
        engine.train_step_conforming = _engine_step(
            build_train_step(
                replace(train_engine, prepare_targets=engine.prepare_targets), **options
            )
        )
        engine.dist = state

    def _targets_spec(self, out: Any, single_form: Any) -> losses_mod.LossSpec | BoundOutputs:
        """The loss spec targets are checked against: per output when the settings ask for it.

        A named loss alone on a model returning a tuple or dict applies to every
        output, as in Keras; a callable alone receives the whole output, except
        on a module declaring ``output_names`` (functional Keras models), where
        it too applies to every output, as in Keras.
        """
        loss = self.settings.loss
        names = output_names_of(self.module)
        if isinstance(loss, losses_mod.LossSpec):
            if isinstance(out, torch.Tensor) or (loss.kind == "custom" and names is None):
                return loss
            loss = OutputsLoss(loss, None, list(self.settings.metrics), [])
        form = single_form if isinstance(out, torch.Tensor) else None
        return loss.bind(out, names, self.device, form)

    def _build_optimizer(self) -> torch.optim.Optimizer:
        """The compiled optimizer over the trainable parameters.

        In the Keras face a fully frozen model fits with no update, as in
        Keras: the optimizer then holds the frozen parameters (they get no
        gradient, so it changes nothing until they are unfrozen).
        """
        settings = self.settings
        params = list(self.module.parameters())
        frozen = settings.keras_face and bool(params) and not any(p.requires_grad for p in params)
        if frozen:
            for p in params:
                p.requires_grad_(True)
        try:
            return optimizers_mod.build(
                settings.optimizer, self.module, settings.learning_rate, settings.optimizer_impl
            )
        finally:
            if frozen:
                for p in params:
                    p.requires_grad_(False)

    def _sample_output(self, sample: Batch, name: str = "x") -> Any:
        """The module's output for two samples, to check targets against.

        The target checks only read the output's shape and dtype, so for inputs
        shaped like ones seen before an empty tensor of the remembered shape
        stands in, sparing a forward pass in every call of a fit(epochs=1) loop.
        """
        signature = input_signature(sample.x)
        known = self._output_shapes.get(signature)
        if known is not None:
            return known
        x2 = tree_map(lambda t: t[:2], sample.x)
        was_training = self.module.training
        self.module.eval()
        try:
            with (
                input_errors(name, x2, self.module, self.input_shape),
                torch.no_grad(),
                engine_calls(),
            ):
                out = call_module(self.module, x2)
        finally:
            self.module.train(was_training)
        if out is not None and all(isinstance(t, torch.Tensor) for t in leaves(out)):
            self._output_shapes[signature] = tree_map(
                lambda t: torch.empty((0, *t.shape[1:]), dtype=t.dtype), out
            )
        return out

    def prepare(self, sources: Sequence[Source], what: str) -> tuple[loop.Engine, bool]:
        """Check targets against the loss for every source; bind on first use.

        In-memory targets are conformed once here (dtype, shape), so the
        training step does no per-batch work for them; iterable sources check
        and conform each batch as it is drawn (`epochal.data._checks`).
        Returns the engine and whether batch targets must be conformed step
        by step. A failure leaves lazy layers unbuilt.
        """
        with unbuilt_on_failure(self.module):
            return self._prepare(sources, what)

    def _prepare(self, sources: Sequence[Source], what: str) -> tuple[loop.Engine, bool]:
        names = [source.name for source in sources]
        samples = []
        for source in sources:
            sample: Batch | None
            if isinstance(source, ArraySource):  # slicing in-memory arrays draws nothing
                sample = source.head(2)
            else:
                with preserved_rng():  # a probe never draws from anyone's random state
                    sample = source.head(2)
            if sample is None:
                raise ArgumentError(
                    f"Expected `{'x' if source is sources[0] else 'validation_data'}` "
                    "to provide at least one batch. Received an empty iterable"
                )
            if sample.y is None:
                raise ArgumentError(
                    f"model.{what}() needs targets: pass y, or batches of (x, y[, sample_weight])"
                )
            samples.append(sample)
        engine = self.engine if self.engine is not None else self.bind(samples[0], names[0])
        # Check every source before changing any: in-memory targets are checked
        # (values too) and conformed whole, other sources by their first batch.
        spec = self.targets_spec
        assert spec is not None
        conformed = []
        outputs = []
        for source, sample, name in zip(sources, samples, names, strict=True):
            out = self._sample_output(sample, name)
            outputs.append(out)
            where = target_name(name)
            if isinstance(source, ArraySource):
                conformed.append(losses_mod.prepare_targets(spec, source.y, out, where=where))
            else:
                losses_mod.prepare_targets(spec, sample.y, out, where=where)
                conformed.append(None)
        conform = False
        for source, y, out, name in zip(sources, conformed, outputs, names, strict=True):
            if isinstance(source, ArraySource):
                source.y = y
            else:  # each batch checked and conformed as it is drawn, before its step
                install_batch_checks(source, spec, out, name)
        if self.engine is None:
            self.engine = engine
            pending, self._pending_engine_state = self._pending_engine_state, None
            if pending is not None:
                load_engine_state(engine, pending)
        return engine, conform

    def reusable_inputs(self, what: str, key: tuple[Any, ...] | None) -> Prepared | None:
        """The last ``what`` call's prepared sources if ``key`` (`epochal.data._reuse`) is theirs."""
        return reusable(self._prepared.get(what), key)

    def keep_inputs(
        self,
        what: str,
        key: tuple[Any, ...] | None,
        sources: tuple[Source, Source | None],
        given: tuple[Any, ...],
        conform: bool,
    ) -> None:
        """Keep a ``what`` call's prepared sources (and validation) for a next call."""
        entry = keep(key, sources[0], sources[1], given, conform)
        if entry is None:
            self._prepared.pop(what, None)
        else:
            self._prepared[what] = entry

    def _adopt_new_parameters(self, engine: loop.Engine) -> None:
        """Parameters that now require grad and are not optimized yet join the optimizer.

        They form a new parameter group with the compiled optimizer settings
        (unfreezing layers for fine-tuning), and their state is part of the run.
        """
        freeze_marked(self.module)
        optimizer = engine.optimizer
        known = {id(p) for group in optimizer.param_groups for p in group["params"]}
        params = list(self.module.parameters())
        new = [p for p in params if p.requires_grad and id(p) not in known]
        if new:
            optimizer.add_param_group({"params": new})
        # read by the callbacks' params, without a second walk over the module
        self._parameter_count = sum(p.numel() for p in params)

    # -- fit ------------------------------------------------------------------
    def fit(self, call: FitCall, context: CallbackContext) -> History:
        """Run one ``fit`` call: train, replay, or finish an interrupted call.

        A ``checkpoint_dir`` is claimed for the call (locked, its run's
        settings compared; see `epochal._ckpt_dir`) before anything changes,
        and released when the call ends, however it ends.
        """
        if (
            dist_mod.world().distributed
            and not _dist_run.is_shardable(call.train)
            and not _dist_run.presharded(call.train)
        ):
            kind = type(getattr(call.train, "origin", None)).__name__
            raise ArgumentError(
                "On several processes fit needs data it can cut into each rank's share of the "
                "global batch (in-memory arrays/tensors or a map-style Dataset), or a DataLoader "
                f"whose sampler is a DistributedSampler. Received x of type {kind}: pass its "
                "Dataset instead (epochal shards it), or give the DataLoader a DistributedSampler"
            )
        if call.reused is not None and self.engine is not None:
            engine, conform = self.engine, call.reused.conform
        else:
            sources = [call.train] if call.val is None else [call.train, call.val]
            engine, conform = self.prepare(sources, "fit")
            self.keep_inputs("fit", call.inputs_key, (call.train, call.val), call.given, conform)
        ckdir = None
        if call.checkpoint_dir is not None:
            settings = run_settings(self.module, self.settings.description(), self.settings.seed)
            ckdir = CheckpointDir(
                call.checkpoint_dir, keep_last=call.keep_checkpoints, settings=settings
            )
            _claim(ckdir)
        try:
            return self._fit(call, context, engine, conform, ckdir)
        finally:
            if ckdir is not None:
                ckdir.release()

    def _fit(
        self,
        call: FitCall,
        context: CallbackContext,
        engine: loop.Engine,
        conform: bool,
        ckdir: CheckpointDir | None,
    ) -> History:
        run = self.run
        if ckdir is not None:
            self._recover_or_find(ckdir)
        run = self.run
        if call.initial_epoch is not None and call.initial_epoch < run.epoch:
            raise ArgumentError(
                f"initial_epoch={call.initial_epoch} is behind the run, which has trained "
                f"{run.epoch} epochs: epochal continues a run across fit calls instead of "
                "renumbering it. Omit initial_epoch to train on, or call compile() to start a "
                "new run"
            )
        if (
            run.baseline_loss is None
            and isinstance(self.settings.loss, losses_mod.LossSpec)
            and isinstance(self.targets_spec, losses_mod.LossSpec)
            and isinstance(call.train, ArraySource)
            and isinstance(call.train.y, torch.Tensor)
        ):
            run.baseline_loss = losses_mod.baseline_loss(self.settings.loss, call.train.y)
        self._adopt_new_parameters(engine)
        first = run.epoch if call.initial_epoch is None else call.initial_epoch
        last = first + call.epochs if call.initial_epoch is None else call.epochs
        decision = decide(
            call=len(run.calls),
            first=first,
            last=last,
            run_epoch=run.epoch,
            run_stopped=run.stopped,
            saved=_saved(self._pending) if self._pending is not None else None,
        )
        if decision.action is Action.REPLAY:
            assert ckdir is not None and decision.record is not None
            return self._replay(decision.record, ckdir)
        if decision.action is Action.APPLY_END:
            assert decision.record is not None
            self._apply_pending()
            record = run.calls[decision.record]
            return run.history.slice(record.first, record.last)
        if decision.action in (Action.STOPPED, Action.NOTHING):
            if decision.action is Action.STOPPED:
                warnings.warn(
                    f"This run was stopped after epoch {run.epoch} (early stopping or "
                    "model.stop_training); fit trains no further. "
                    "Call model.new_phase() to keep training it with fresh callback state, or "
                    "compile() to start a new run",
                    RuntimeWarning,
                    stacklevel=3,
                )
            run.calls.append(_no_op_record(first, last, run))
            return run.history.slice(first, last)
        return self._train(call, engine, conform, decision, first, ckdir, context)

    def _train(
        self,
        call: FitCall,
        engine: loop.Engine,
        conform: bool,
        decision: Decision,
        first: int,
        ckdir: CheckpointDir | None,
        context: CallbackContext,
    ) -> History:
        run = self.run
        resume: Partial | None = None
        if decision.action is Action.RESUME:
            partial = self._apply_pending()
            resume = partial if decision.resume_partial else None
        else:
            loaded, self._loaded_partial = self._loaded_partial, None
            if loaded is not None and first <= loaded.epoch == decision.start:
                resume = loaded
            if ckdir is not None:
                self._snapshot = self._take_snapshot()
        self._resume_trajectory()
        stream = _non_indexable(call)
        if stream is not None and self._stream is not None and self._stream[0] is stream.origin:
            stream.continue_stream(self._stream[1])
        start, last = decision.start, decision.last
        params = self._params(call, engine, start, last)
        # The checkpoint_dir run's id: files callbacks write are tied to the run by it.
        params["run_id"] = ckdir.run_id if ckdir is not None else None
        callbacks = self._callbacks(call, params, context)
        plan = loop.Plan(
            train=call.train,
            val=call.val,
            batch_size=call.batch_size,
            val_batch_size=call.val_batch_size,
            first_epoch=start,
            last_epoch=last,
            steps_per_epoch=call.steps_per_epoch,
            validation_steps=call.validation_steps,
            validation_freq=call.validation_freq,
            shuffle=call.shuffle,
            callbacks=callbacks,
            conform_targets=conform,
            scheduler_monitor=_plateau_monitor(engine, call.val is not None),
            flush_saves=lambda partial: self._flush_saves(callbacks, partial),
            checkpoint=(
                (lambda partial: self._checkpoint(ckdir, callbacks, partial))
                if ckdir is not None
                else None
            ),
            checkpoint_steps=call.checkpoint_steps,
            saves_pending=[],
            resume=resume,
            log_learning_rate=self.settings.logs_learning_rate,
        )
        assert plan.saves_pending is not None
        self._saves = plan.saves_pending
        run.epoch = start
        shown_before = run.shown_versions
        try:
            with owned_rng(run, self.device):
                loop.fit_loop(engine, run, plan)
                callbacks.save_states(run.callback_states)
            averaged = ema_weights(engine.optimizer, self.module)
            if averaged is not None and self.run.shown_versions is shown_before:
                # Keras ends fit with the weights' moving averages; the run goes on
                # from its own weights, as after EarlyStopping's restore. Weights a
                # callback showed at the call's end (EarlyStopping's best) win, as in
                # Keras, where on_train_end runs after the averages are written.
                self.show_weights(averaged)
        except BaseException:
            self._dirty = ckdir is not None
            raise
        finally:
            self._saves = None
            if stream is not None:
                self._stream = (stream.origin, stream.stream)
        run.calls.append(self._record(first, last, engine, ckdir))
        self._write_saves(plan.saves_pending, None, phase="end", live_rng=False)
        if ckdir is not None and dist_mod.world().is_main:
            # After on_train_end (restored best weights, stop flag): the call's final state.
            weights, state, meta = self.capture(live_rng=False, phase="end")
            ckdir.save(
                f"epoch-{run.epoch:06d}",
                weights=weights,
                state=state,
                meta=meta,
                history=run.history,
                calls=run.calls,
            )
        history = run.history.slice(first, last)
        history.params = params
        return history

    # -- single batches (train_on_batch, test_on_batch) -----------------------
    def train_on_batch(
        self, source: ArraySource, engine: loop.Engine, conform: bool
    ) -> dict[str, float]:
        """One training step of the run on all of ``source`` (one batch); returns its logs.

        A step like those of ``fit``: the engine's training step, under the
        run's random state, counted in ``run.step``; saved and resumed with the run.
        """
        self._resume_trajectory()
        self._adopt_new_parameters(engine)
        batch = next(iter(source.batches(source.n)))
        with owned_rng(self.run, self.device):
            return loop.train_batch(engine, self.run, batch, conform)

    def test_on_batch(
        self, source: ArraySource, engine: loop.Engine, conform: bool
    ) -> dict[str, float]:
        """Loss and metrics of all of ``source`` as one batch, in inference mode."""
        return loop.evaluate(
            engine,
            source,
            batch_size=source.n,
            steps=None,
            callbacks=CallbackList([]),
            conform_targets=conform,
        )

    def _callbacks(
        self, call: FitCall, params: dict[str, Any], context: CallbackContext
    ) -> CallbackList:
        cb_list = list(call.callbacks)
        if call.verbose:
            cb_list.append(ProgbarLogger(call.verbose))
        # On several processes only rank 0 prints and writes logs.
        callbacks = CallbackList(_dist_run.rank_zero_only(cb_list))
        callbacks.set_model(context)
        callbacks.set_params(params)
        callbacks.load_states(self.run.callback_states)
        return callbacks

    def _params(self, call: FitCall, engine: loop.Engine, start: int, last: int) -> dict[str, Any]:
        """The callbacks' ``params``: Keras's keys and what epochal adds."""
        settings = self.settings
        expected = ["loss", *(m.name for m in engine.train_metrics)]
        if call.val is not None:
            expected += [f"val_{k}" for k in expected]
        if settings.logs_learning_rate:
            expected.append("learning_rate")
        steps = (
            call.steps_per_epoch
            if call.steps_per_epoch is not None
            else call.train.steps(call.batch_size)
        )
        optimizer = settings.optimizer
        loss = settings.loss
        try:
            samples: int | None = len(call.train)
        except TypeError:
            samples = None
        return {
            "epochs": last,
            "steps": steps,
            "verbose": call.verbose,
            "metrics": expected,
            "batch_size": call.batch_size,
            "initial_epoch": start,
            "continuing": start > 0 or self.run.step > 0,
            "optimizer": optimizer
            if isinstance(optimizer, str)
            else type(engine.optimizer).__name__,
            "learning_rate": _lr(engine.optimizer.param_groups[0]["lr"]),
            "loss": loss.name,
            # several outputs: the bound metrics (``<output>_<metric>``), per-output losses aside
            "compiled_metrics": [r.name for r in settings.metrics]
            or [m.name for m in engine.train_metrics if getattr(m, "role", "metric") != "loss"],
            "seed": settings.seed,
            "parameter_count": self._parameter_count,
            "validation": call.val is not None,
            "samples": samples,
        }

    # -- records, replay and recovery ----------------------------------------
    def _record(
        self, first: int, last: int, engine: loop.Engine, ckdir: CheckpointDir | None
    ) -> CallRecord:
        """What the script sees at the end of this call; weights stored beside checkpoints."""
        run = self.run
        name = digest = None
        if ckdir is not None:
            name = f"call-{len(run.calls):06d}.safetensors"
            if dist_mod.world().is_main:
                digest = _write_weights(ckdir.root / CALLS_DIR / name, self.module.state_dict())
            digest = dist_mod.broadcast_object(digest)
        lrs = tuple(_lr(group["lr"]) for group in engine.optimizer.param_groups)
        return CallRecord(first, last, run.epoch, run.step, run.stopped, lrs, name, digest)

    def _replay(self, index: int, ckdir: CheckpointDir) -> History:
        """Show what the uninterrupted script saw at the end of call ``index``; train nothing."""
        assert self._pending is not None and self.engine is not None
        meta = self._pending.meta
        records = [CallRecord.from_dict(r) for r in (self._pending.calls or [])[: index + 1]]
        record = records[index]
        run = self.run
        whole = self._pending.history or History()
        run.history.load_dict(whole.slice(0, record.epoch).to_dict())
        run.history.baseline_loss = meta.get("baseline_loss")
        run.history.events = dict(meta.get("events") or {})
        run.epoch, run.step, run.stopped = record.epoch, record.step, record.stopped
        run.calls = records
        run.trajectory = run.shown_versions = None
        if record.weights is not None:
            weights = _read_weights(ckdir.root / CALLS_DIR, record.weights, record.digest)
            self.module.load_state_dict({k: v.to(self.device) for k, v in weights.items()})
        for group, lr in zip(self.engine.optimizer.param_groups, record.lrs, strict=False):
            group["lr"] = lr
        return run.history.slice(record.first, record.last)

    def _recover_or_find(self, ckdir: CheckpointDir) -> None:
        """Make the newest checkpoint pending when it is ahead of the script."""
        # Every rank reads the newest checkpoint only once rank 0 has finished writing.
        dist_mod.barrier()
        if self._dirty:
            self._dirty = False
            if self._snapshot is not None:
                self._restore_snapshot(self._snapshot)
            self._pending = None
        if self._pending is not None:
            return
        latest = ckdir.latest(check=self._check_resumable)
        if latest is not None and self._ahead(latest):
            self._pending = latest

    def _ahead(self, ckpt: Checkpoint) -> bool:
        """Whether ``ckpt`` holds more of the run than the script has reached."""
        saved = _saved(ckpt)
        done = len(self.run.calls)
        return saved.calls > done or (saved.calls == done and saved.phase != "end")

    def _check_resumable(self, ckpt: Checkpoint) -> None:
        """Refuse (so that ``latest`` skips it) a checkpoint the run cannot resume from.

        One the script is not behind is not resumed from: only its metadata
        is checked, so a fit loop does not re-read the run's history every call.
        """
        check_run_checkpoint(ckpt, self.run.seed)
        if self._ahead(ckpt):
            optimizer = self.engine.optimizer if self.engine is not None else None
            check_full_checkpoint(ckpt, self.module, optimizer)

    def _apply_pending(self) -> Partial | None:
        """Take over the pending checkpoint's run."""
        assert self._pending is not None
        ckpt, self._pending = self._pending, None
        return restore(self.module, self.engine, self.run, ckpt, self.device)

    def _take_snapshot(self) -> _Snapshot:
        assert self.engine is not None
        return _Snapshot(
            weights={k: v.detach().clone() for k, v in self.module.state_dict().items()},
            engine_state=copy.deepcopy(_engine_state(self.engine)),
            run=_copy_run(self.run),
        )

    def _restore_snapshot(self, snapshot: _Snapshot) -> None:
        assert self.engine is not None
        self.module.load_state_dict(snapshot.weights)
        load_engine_state(self.engine, copy.deepcopy(snapshot.engine_state))
        fresh = copy.deepcopy(snapshot.run)
        if fresh.trajectory is not None:
            # Loading the shown weights (EMA, EarlyStopping's best) back is no change by
            # the user: the retried call still goes on from the run's own trajectory.
            fresh.shown_versions = [t._version for t in self.module.state_dict().values()]
        history = self.run.history
        history.load_dict(fresh.history.to_dict())
        fresh.history = history  # holders of model.history keep seeing the run's
        self.run = fresh

    # -- saving ---------------------------------------------------------------
    def capture(
        self, *, live_rng: bool, partial: Partial | None = None, phase: str = "end"
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
        """(weights, state, meta) of the run, for a checkpoint."""
        return capture(
            self.module,
            self.engine,
            self.run,
            device=self.device,
            description=self.settings.description(),
            live_rng=live_rng,
            partial=partial,
            phase=phase,
        )

    def save(self, path: str | os.PathLike[str], *, weights_only: bool = False) -> Path:
        """Save the run (or the weights) at ``path``.

        Inside ``fit`` the save is written once the hooks running now have all
        run and the callbacks' states are recorded (at the end of the epoch's
        hooks, or of the step's), so that loading it continues the run exactly.
        """
        target = Path(path)
        if self._saves is not None:
            self._saves.append(("weights" if weights_only else "run", target))
            return target
        if not dist_mod.world().is_main:  # on several processes rank 0 writes
            return target
        if weights_only:
            return _save_weights_checkpoint(target, self.module)
        weights, state, meta = self.capture(live_rng=False, phase="end")
        run = self.run
        return save_checkpoint(
            target, weights=weights, state=state, meta=meta, history=run.history, calls=run.calls
        )

    def _flush_saves(self, callbacks: CallbackList, partial: Partial | None) -> None:
        saves = self._saves
        if not saves:
            return
        callbacks.save_states(self.run.callback_states)
        phase = "step" if partial is not None else "epoch"
        self._write_saves(saves, partial, phase=phase, live_rng=True)

    def _write_saves(
        self, saves: list[Any] | None, partial: Partial | None, *, phase: str, live_rng: bool
    ) -> None:
        if not saves:
            return
        todo = list(saves)
        saves.clear()
        if not dist_mod.world().is_main:  # on several processes rank 0 writes
            return
        for kind, path in todo:
            if kind == "weights":
                _save_weights_checkpoint(path, self.module)
            else:
                weights, state, meta = self.capture(live_rng=live_rng, partial=partial, phase=phase)
                run = self.run
                save_checkpoint(
                    path,
                    weights=weights,
                    state=state,
                    meta=meta,
                    history=run.history,
                    calls=run.calls,
                )

    def _checkpoint(
        self, ckdir: CheckpointDir, callbacks: CallbackList, partial: Partial | None
    ) -> None:
        run = self.run
        callbacks.save_states(run.callback_states)
        if not dist_mod.world().is_main:  # on several processes rank 0 writes
            return
        phase = "epoch" if partial is None else "step"
        weights, state, meta = self.capture(live_rng=True, partial=partial, phase=phase)
        name = f"epoch-{run.epoch:06d}"
        if partial is not None:
            name += f"-step-{run.step:09d}"
        ckdir.save(
            name, weights=weights, state=state, meta=meta, history=run.history, calls=run.calls
        )

    # -- loading --------------------------------------------------------------
    def load(self, ckpt: Checkpoint) -> None:
        """Take over the run saved in ``ckpt`` (``Model.load``); the next fit continues it.

        Raises:
            CheckpointError: the run used step options (clipping, accumulation,
                a schedule, EMA) and this model's compile settings have none.
        """
        saved = (ckpt.state or {}).get("optimizer") or {}
        own = getattr(self.settings.optimizer, "step_options", None)
        has_options = self.settings.step_options.any() or (own is not None and own.any())
        if "step_options" in saved and not has_options:
            raise CheckpointError(
                f"The run saved at {ckpt.path} was trained with step options (gradient "
                "clipping, accumulation, a learning-rate schedule or EMA), but this model was "
                "compiled without any: its accumulated gradients and averages would be lost. "
                "Pass the same options to Model.load (for example "
                "optimizer=keras.optimizers.Adam(..., clipnorm=...) or clipnorm=...)"
            )
        self._loaded_partial = restore(self.module, self.engine, self.run, ckpt, self.device)
        if self.engine is None:
            self._pending_engine_state = ckpt.state

    # -- shown weights and phases -------------------------------------------
    def show_weights(self, weights: Mapping[str, torch.Tensor]) -> None:
        """Load ``weights`` for the user to see, while the run keeps its own trajectory."""
        run = self.run
        if not run.stopped and run.trajectory is None:
            run.trajectory = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        self.module.load_state_dict(dict(weights))
        run.shown_versions = [t._version for t in self.module.state_dict().values()]

    def _resume_trajectory(self) -> None:
        run = self.run
        if run.trajectory is None:
            return
        untouched = run.shown_versions == [t._version for t in self.module.state_dict().values()]
        if untouched:
            self.module.load_state_dict(run.trajectory)
        run.trajectory = None
        run.shown_versions = None

    def new_phase(self) -> None:
        """Callbacks start over and a stopped run trains again (see ``Model.new_phase``)."""
        run = self.run
        run.callback_states.clear()
        run.stopped = False
        run.trajectory = None
        run.shown_versions = None


# -- helpers ------------------------------------------------------------------
def _claim(ckdir: CheckpointDir) -> None:
    """Claim ``ckdir`` for this call; on several processes rank 0 claims it for all.

    Rank 0 holds the lock and writes; the other ranks learn the outcome (the
    run's id, or rank 0's error, raised on every rank) without locking.
    """
    world = dist_mod.world()
    if not world.distributed:
        ckdir.claim()
        return
    error: CheckpointError | None = None
    if world.is_main:
        try:
            ckdir.claim()
        except CheckpointError as exc:
            error = exc
    message, run_id = dist_mod.broadcast_object(
        (None if error is None else str(error), ckdir.run_id)
    )
    if error is not None:
        raise error
    if message is not None:
        raise CheckpointError(message)
    ckdir._run_id = run_id  # the run rank 0 claimed


def freeze_marked(module: nn.Module) -> None:
    """Parameters of layers set ``trainable = False`` (Keras) are frozen, lazily built ones too."""
    for sub in module.modules():
        if sub.__dict__.get("_trainable") is False:
            for p in sub.parameters():
                if p.requires_grad:
                    p.requires_grad_(False)


def _engine_step(step: Any) -> Any:
    """``step`` with its model calls marked as the engine's (see `epochal._calls`).

    Models of `epochal.keras` then run as the loop set them (training mode in
    a training step), not in the inference mode of a user's ``model(x)``.
    """
    return marked(step)


def _saved(ckpt: Checkpoint) -> Saved:
    meta = ckpt.meta
    phase = meta.get("phase", "end")
    if phase not in ("step", "epoch", "end"):
        raise CheckpointError(f"{ckpt.path}: unknown checkpoint phase {phase!r}")
    count = meta.get("calls_count")
    if count is None:  # checkpoints holding the records in meta.json
        count = len(meta.get("calls") or [])
    return Saved(
        calls=int(count),
        phase=phase,
        epoch=int(meta["epoch"]),
        stopped=bool(meta.get("stopped", False)),
        partial=ckpt.state.get("partial") is not None,
    )


def _copy_run(run: RunState) -> RunState:
    """A deep copy of ``run`` whose cost does not grow with the run.

    The history and the call records only grow, and call records are frozen:
    list copies (C speed) stand in for a Python walk over every value.
    """
    memo: dict[int, Any] = {
        id(run.history): run.history.slice(0, 2**62),
        id(run.calls): list(run.calls),
    }
    return copy.deepcopy(run, memo)


def _non_indexable(call: FitCall) -> IterableSource | None:
    """The training source when it is walked with steps_per_epoch and cannot jump."""
    train = call.train
    if call.steps_per_epoch is None or not isinstance(train, IterableSource):
        return None
    return None if train.is_map_dataset else train


def _no_op_record(first: int, last: int, run: RunState) -> CallRecord:
    """A call that trained nothing: replaying it changes neither weights nor rates."""
    return CallRecord(first, last, run.epoch, run.step, run.stopped, ())


def _plateau_monitor(engine: loop.Engine, validation: bool) -> str | None:
    if isinstance(engine.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return "val_loss" if validation else "loss"
    return None


def _engine_state(engine: loop.Engine) -> dict[str, Any]:
    return {
        "optimizer": engine.optimizer.state_dict(),
        "scheduler": engine.scheduler.state_dict() if engine.scheduler is not None else None,
        "scaler": engine.scaler.state_dict() if engine.scaler is not None else None,
    }


def _schedule_description(schedule: Any) -> Any:
    """A learning-rate schedule as JSON: its class and Keras config, or its name."""
    name = getattr(schedule, "__name__", type(schedule).__name__)
    get_config = getattr(schedule, "get_config", None)
    if get_config is None:
        return name
    try:
        config = get_config()
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError):
        return name
    return {"class_name": type(schedule).__name__, "config": config}


def _lr(value: Any) -> float:
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def _save_weights_checkpoint(path: Path, module: nn.Module) -> Path:
    meta = {"kind": "epochal-weights"}
    return save_checkpoint(path, weights=module.state_dict(), state={}, meta=meta)


def _write_weights(path: Path, weights: Mapping[str, torch.Tensor]) -> str:
    """Write ``weights`` as safetensors atomically; returns the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in weights.items()}
    save_file(tensors, str(tmp))
    with open(tmp, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return digest


def _read_weights(folder: Path, name: str, digest: str | None) -> dict[str, torch.Tensor]:
    path = folder / name
    try:  # a regular file inside the folder only (never a link, FIFO or device), bounded
        data = read_bytes(folder, name, max_bytes=MAX_CALL_WEIGHTS_BYTES)
    except CheckpointError as exc:
        raise CheckpointError(
            f"The end-of-call weights {path} cannot be read ({exc}); the resumed script cannot "
            "replay that call"
        ) from exc
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise CheckpointError(f"The end-of-call weights {path} are damaged (checksum mismatch)")
    try:
        return load(data)
    except Exception as exc:
        raise CheckpointError(f"The end-of-call weights {path} are damaged ({exc})") from exc


def _own_loss_and_metrics(spec: Any, requests: Sequence[metrics_mod.MetricRequest]) -> bool:
    """Whether the loss and the metrics are epochal's own, by name: no user code runs in them.

    A user's loss, metric callable or torchmetrics object may keep a tensor it
    makes (a running normalizer, a cache); made under inference mode it would
    fail the next training step that uses it, so evaluation stays in no-grad.
    """
    if not isinstance(spec, losses_mod.LossSpec) or spec.kind == "custom":
        return False
    return all(
        r.key is not None and r.instance is None and r.fn is None and r.factory is None
        for r in requests
    )
