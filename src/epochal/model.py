"""`Model`: compile, fit, evaluate and predict for any ``torch.nn.Module``.

``fit`` validates its arguments and data, binds the loss and metrics to the
model's outputs (once per compile), then hands a `Plan` to
`epochal.loop.fit_loop`. Every failure of argument or data checking happens
before training starts and leaves the model and its run as they were.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from epochal import loop
from epochal import losses as losses_mod
from epochal import metrics as metrics_mod
from epochal import optimizers as optimizers_mod
from epochal._args import check_callbacks, check_fit_arguments, check_positive_int, check_verbose
from epochal._ckpt_run import check_run_checkpoint, check_run_meta, check_weights, run_settings
from epochal._heads import loss_form
from epochal._runio import Partial, capture, load_engine_state, read_checkpoint, restore
from epochal._step import Precision, build_forward_loss, check_precision, make_scaler
from epochal._tree import (
    all_tensors,
    call_module,
    concat_batches,
    first_leaf,
    leaf_device,
    leaves,
    tree_map,
)
from epochal.callbacks.base import Callback, CallbackList
from epochal.callbacks.history import History
from epochal.callbacks.progress import ProgbarLogger
from epochal.checkpoint import Checkpoint, CheckpointDir, save_checkpoint
from epochal.data import ArraySource, Batch, Source, fit_sources, make_source
from epochal.errors import ArgumentError, ArgumentTypeError, NotCompiledError
from epochal.run import RunState, derive_seed, owned_rng, seeded_rng

__all__ = ["Model"]

Verbose = Literal[0, 1, 2, "auto"]


@dataclass
class _Compiled:
    optimizer: Any
    learning_rate: float | None
    loss: losses_mod.LossSpec
    metrics: list[metrics_mod.MetricRequest]
    seed: int
    scheduler: Any = None
    scheduler_interval: Literal["epoch", "step"] = "epoch"
    compile: bool = False
    precision: Precision = "32"


def _release(ckdir: CheckpointDir | None) -> None:
    if ckdir is not None:
        ckdir.release()


def _default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


class Model:
    """Wraps a ``torch.nn.Module`` with Keras's ``compile``/``fit``/``evaluate``/``predict``.

    The model owns one training run (see `epochal.run.RunState`): repeated
    ``fit`` calls continue it, numbering epochs on, and ``model.history``
    holds all of it. ``compile`` starts a new run (weights are kept).

    Args:
        module: any ``torch.nn.Module``. Multi-input data given as a tuple is
            passed positionally, a dict as keyword arguments.
        device: where to train; defaults to CUDA when available, else CPU.

    Example:
        >>> model = Model(nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 1)))
        >>> model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
        >>> history = model.fit(x, y, epochs=10, validation_split=0.2)
    """

    def __init__(self, module: nn.Module, *, device: str | torch.device | None = None) -> None:
        if not isinstance(module, nn.Module):
            raise ArgumentTypeError(
                f"Expected `module` to be a torch.nn.Module. Received: {type(module).__name__}"
            )
        self.device = torch.device(device) if device is not None else _default_device()
        self._module = module.to(self.device)
        self._compiled: _Compiled | None = None
        self._engine: loop.Engine | None = None
        self._run: RunState | None = None
        self._input_shape: tuple[int, ...] | None = None
        # The epoch the script's fit calls have reached; runs ahead of the
        # run only while a resumed process replays calls a checkpoint covers.
        self._script_epoch = 0
        self._pending_partial: Partial | None = None
        self._pending_end = False
        self._pending_engine_state: dict[str, Any] | None = None
        self._in_fit = False
        # input shapes/dtypes -> output shape/dtype, learned by _sample_output
        self._output_shapes: dict[Any, tuple[tuple[int, ...], torch.dtype]] = {}

    # -- properties -----------------------------------------------------------
    @property
    def module(self) -> nn.Module:
        """The wrapped ``torch.nn.Module``."""
        return self._module

    @property
    def run(self) -> RunState:
        """The current training run (created by ``compile``)."""
        if self._run is None:
            raise NotCompiledError("The model has no run yet: call model.compile(...) first")
        return self._run

    @property
    def history(self) -> History:
        """The whole run's `History`, across every ``fit`` call."""
        return self.run.history

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The optimizer, once built (at the first ``fit`` or ``evaluate`` after compile)."""
        return self._engine.optimizer if self._engine is not None else None

    @property
    def stop_training(self) -> bool:
        """Whether the run has been stopped. Set it to True in a callback to stop, as in Keras.

        A stopped run stays stopped across ``fit`` calls (so a loop of short
        fits stops where one long fit would); set it back to False, or call
        `new_phase`, to train on.
        """
        return self._run is not None and self._run.stopped

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self.run.stopped = bool(value)

    @property
    def metrics_names(self) -> list[str]:
        """The log keys of ``evaluate``: ``loss`` and the compiled metrics."""
        if self._compiled is None:
            return []
        return ["loss", *(m.name for m in self._compiled.metrics)]

    def metric_direction(self, name: str) -> Literal["min", "max"] | None:
        """Whether the metric logged as ``name`` improves downward or upward (None if unknown)."""
        if name == "loss" or name.endswith("loss"):
            return "min"
        if self._compiled is not None:
            for req in self._compiled.metrics:
                if req.name == name:
                    return req.direction
        return None

    # -- compile --------------------------------------------------------------
    def compile(
        self,
        optimizer: optimizers_mod.OptimizerLike = "rmsprop",
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        *,
        learning_rate: float | None = None,
        seed: int | None = None,
        scheduler: Any = None,
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        compile: bool = False,
        precision: Literal["32", "bf16-mixed", "16-mixed"] | None = None,
    ) -> None:
        """Configure training and start a new run.

        Args:
            optimizer: a name (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``,
                ``"adagrad"``, ...; Keras's defaults), a ``torch.optim.Optimizer``
                over this module's parameters, or a factory ``params -> Optimizer``.
            loss: a name (Keras's and short spellings: ``"binary_crossentropy"``/
                ``"bce"``, ``"categorical_crossentropy"``,
                ``"sparse_categorical_crossentropy"``, ``"mse"``, ``"mae"``,
                ``"huber"``, ...), a callable ``loss(y_pred, y_true)``, or an ``nn.Module``.
            metrics: names (``"accuracy"``, ``"precision"``, ``"recall"``, ``"auc"``,
                ``"f1"``, ``"mse"``, ``"mae"``, ...), callables ``metric(y_pred, y_true)``
                or ``torchmetrics.Metric`` instances.
            learning_rate: overrides the optimizer's learning rate.
            seed: the run's seed (shuffling order, dropout). ``None`` draws one
                from torch's global RNG, so ``torch.manual_seed`` makes runs repeatable.
            scheduler: a ``torch.optim.lr_scheduler`` factory ``optimizer -> scheduler``
                (for example ``lambda opt: StepLR(opt, step_size=10)``), or a
                scheduler instance built on an optimizer instance passed as
                ``optimizer``. Its state is part of the run. A ``ReduceLROnPlateau``
                scheduler is stepped with ``val_loss`` (``loss`` without validation).
            scheduler_interval: step the scheduler after every ``"epoch"`` (after
                validation) or every optimizer ``"step"``.
            compile: compile the forward pass and loss with ``torch.compile``
                (falls back to eager execution, with a warning, where it fails).
            precision: ``"32"`` (default), ``"bf16-mixed"`` (autocast to bfloat16,
                CPU or CUDA) or ``"16-mixed"`` (float16 with a gradient scaler, CUDA).

        Raises:
            ArgumentError: unknown names (the message lists the valid ones).
            ArgumentTypeError: arguments of the wrong type.
        """
        optimizers_mod.check(optimizer, learning_rate)
        if loss is None:
            raise ArgumentError(
                "Expected `loss`: a name such as 'binary_crossentropy' or 'mse', a callable "
                "loss(y_pred, y_true), or an nn.Module. Received: loss=None"
            )
        loss_spec = losses_mod.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, dict)) or not isinstance(metrics, (list, tuple)):
            raise ArgumentTypeError(
                f"Expected `metrics` to be a list. Received: metrics={metrics!r}"
            )
        requests = [metrics_mod.request(m) for m in metrics]
        names = [r.name for r in requests]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ArgumentError(f"Metric names must be unique. Received duplicates: {duplicates}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ArgumentTypeError(
                f"Expected `seed` to be an int or None. Received: seed={seed!r}"
            )
        if scheduler is not None and not callable(scheduler) and not hasattr(scheduler, "step"):
            raise ArgumentTypeError(
                "Expected `scheduler` to be a factory optimizer -> LR scheduler or a scheduler "
                f"instance. Received: scheduler of type {type(scheduler).__name__}"
            )
        if scheduler_interval not in ("epoch", "step"):
            raise ArgumentError(
                "Expected `scheduler_interval` to be 'epoch' or 'step'. "
                f"Received: scheduler_interval={scheduler_interval!r}"
            )
        if not isinstance(compile, bool):
            raise ArgumentTypeError(
                f"Expected `compile` to be a bool. Received: compile={compile!r}"
            )
        checked_precision = check_precision(precision, self.device)
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self._compiled = _Compiled(
            optimizer,
            learning_rate,
            loss_spec,
            requests,
            seed,
            scheduler,
            scheduler_interval,
            compile,
            checked_precision,
        )
        self._script_epoch = 0
        self._engine = None
        self._output_shapes = {}
        self._run = RunState(seed=seed, history=History())

    def _require_compiled(self, what: str) -> _Compiled:
        if self._compiled is None:
            raise NotCompiledError(
                f"You must call model.compile(optimizer=..., loss=...) before model.{what}()"
            )
        return self._compiled

    # -- binding the loss and metrics to the model's outputs ------------------
    def _bind(self, sample: Batch) -> loop.Engine:
        """Build lazy layers, decide the loss form, build optimizer and metrics (once per compile)."""
        compiled = self._require_compiled("fit")
        spec = compiled.loss
        x2 = tree_map(lambda t: t[:2], sample.x)
        was_training = self._module.training
        self._module.eval()
        try:
            with seeded_rng(derive_seed(compiled.seed, "build")), torch.enable_grad():
                out = call_module(self._module, x2)
        finally:
            self._module.train(was_training)
        self._input_shape = tuple(first_leaf(x2).shape[1:])

        form = loss_form(self._module, out, spec)
        loss_fn = losses_mod.build_loss(spec, logits=form.logits)
        optimizer = optimizers_mod.build(compiled.optimizer, self._module, compiled.learning_rate)
        train_metrics = [metrics_mod.build(r, out, self.device) for r in compiled.metrics]
        if form.metric_input is not None:
            for metric in train_metrics:
                metric.accept_logits()
        scheduler, monitor = optimizers_mod.build_scheduler(compiled.scheduler, optimizer)
        engine = loop.Engine(
            module=self._module,
            device=self.device,
            forward=form.forward,
            loss_fn=loss_fn,
            metric_input=form.metric_input,
            optimizer=optimizer,
            train_metrics=train_metrics,
            eval_metrics=[m.clone() for m in train_metrics],
            scheduler=scheduler,
            scheduler_per_step=compiled.scheduler_interval == "step",
            scheduler_monitor=monitor,
            scaler=make_scaler(compiled.precision, self.device),
        )
        engine.forward_loss = build_forward_loss(
            engine, precision=compiled.precision, compile=compiled.compile
        )
        return engine

    def _sample_output(self, sample: Batch) -> Any:
        """The module's output for two samples, to check targets against.

        The target checks only read the output's shape and dtype, so for inputs
        shaped like ones seen before an empty tensor of the remembered shape
        stands in, sparing a forward pass in every call of a fit(epochs=1) loop.
        """
        signature = tuple((tuple(t.shape[1:]), t.dtype) for t in leaves(sample.x))
        known = self._output_shapes.get(signature)
        if known is not None:
            shape, dtype = known
            return torch.empty((0, *shape), dtype=dtype)
        x2 = tree_map(lambda t: t[:2], sample.x)
        was_training = self._module.training
        self._module.eval()
        try:
            with torch.no_grad():
                out = call_module(self._module, x2)
        finally:
            self._module.train(was_training)
        if isinstance(out, torch.Tensor):
            self._output_shapes[signature] = (tuple(out.shape[1:]), out.dtype)
        return out

    def _prepare(self, sources: Sequence[Source], what: str) -> loop.Engine:
        """Check targets against the loss for every source; bind on first use.

        In-memory targets are conformed once here (dtype, shape), so the
        training step does no per-batch work for them.
        """
        compiled = self._require_compiled(what)
        samples = []
        for source in sources:
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
        engine = self._engine if self._engine is not None else self._bind(samples[0])
        # Check every source before changing any: in-memory targets are checked
        # (values too) and conformed whole, other sources by their first batch.
        conformed = []
        for source, sample in zip(sources, samples, strict=True):
            out = self._sample_output(sample)
            if isinstance(source, ArraySource):
                conformed.append(losses_mod.prepare_targets(compiled.loss, source.y, out))
            else:
                losses_mod.prepare_targets(compiled.loss, sample.y, out)
                conformed.append(None)
        spec = compiled.loss
        engine.prepare_targets = None
        for source, y in zip(sources, conformed, strict=True):
            if isinstance(source, ArraySource):
                source.y = y
            else:  # conform batch by batch, without the syncing value checks
                engine.prepare_targets = lambda y, out: losses_mod.prepare_targets(
                    spec, y, out, check_values=False
                )
        if self._engine is None:
            self._engine = engine
            pending, self._pending_engine_state = self._pending_engine_state, None
            if pending is not None:
                load_engine_state(engine, pending)
            train = sources[0]
            if (
                self.run.baseline_loss is None
                and isinstance(train, ArraySource)
                and isinstance(train.y, torch.Tensor)
            ):
                self.run.baseline_loss = losses_mod.baseline_loss(compiled.loss, train.y)
                self.run.history.baseline_loss = self.run.baseline_loss
        return engine

    # -- fit ------------------------------------------------------------------
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Verbose = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: Mapping[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int | None = None,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int | Sequence[int] = 1,
        *,
        check_finite: bool = True,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_steps: int | None = None,
        keep_checkpoints: int | None = 3,
    ) -> History:
        """Train for ``epochs`` more epochs of the run (Keras 3 arguments and meanings).

        Args:
            x, y: inputs and targets: numpy arrays, tensors, pandas objects, a
                tuple/dict of arrays (multi-input), or (``y`` omitted) a
                ``Dataset``, ``DataLoader`` or iterable of ``(x, y[, sample_weight])``.
            batch_size: samples per step for in-memory data and Datasets (default 32).
            epochs: how many epochs this call trains. With an explicit
                ``initial_epoch`` it is the final epoch index instead, as in Keras.
            verbose: 0 silent, 1 progress bar, 2 one line per epoch, "auto" = 1.
            callbacks: `Callback` instances; their state belongs to the run.
            validation_split: fraction of in-memory data held out for validation:
                the last samples, taken before shuffling.
            validation_data: ``(x_val, y_val)``, ``(x_val, y_val, sample_weight)``,
                or a Dataset/DataLoader/iterable; takes precedence over validation_split.
            shuffle: shuffle in-memory data and Datasets every epoch (order = f(seed, epoch)).
            class_weight: ``{class: weight}`` applied as per-sample weights.
            sample_weight: one weight per training sample.
            initial_epoch: Keras's epoch to start numbering from; ``None`` continues the run.
            steps_per_epoch, validation_steps: limit the batches of an epoch / a validation.
            validation_batch_size: batch size for validation (default ``batch_size``).
            validation_freq: validate every N epochs, or at the listed (1-based) epochs.
            check_finite: raise when in-memory inputs hold NaN/Inf (default True).
            checkpoint_dir: checkpoint the run there after every epoch (and
                every ``checkpoint_steps`` optimizer steps); when the same script
                runs again, ``fit`` resumes from the newest intact checkpoint and
                the run ends with the same bits as one never interrupted.
            checkpoint_steps: also checkpoint every N steps, inside epochs
                (in-memory data and map-style Datasets only).
            keep_checkpoints: how many checkpoints to keep (None keeps all).

        Returns:
            A `History` of this call's epochs (``model.history`` has the whole run).

        Raises:
            NotCompiledError: ``compile`` was not called.
            ArgumentError, ArgumentTypeError, DataError: bad arguments or data, raised
                before any training, leaving the model and its run as they were.
        """
        self._require_compiled("fit")
        args = check_fit_arguments(
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            shuffle=shuffle,
            class_weight=class_weight,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            validation_batch_size=validation_batch_size,
            validation_freq=validation_freq,
            checkpoint_dir=checkpoint_dir,
            checkpoint_steps=checkpoint_steps,
            keep_checkpoints=keep_checkpoints,
        )
        verbose_level, user_callbacks, freq = args.verbose, args.callbacks, args.validation_freq
        bs = batch_size or 32
        train, val = fit_sources(
            x,
            y,
            sample_weight,
            device=self.device,
            batch_size=bs,
            batch_size_given=batch_size is not None,
            validation_data=validation_data,
            validation_split=validation_split,
            validation_batch_size=validation_batch_size or bs,
            class_weight=class_weight,
            check_finite=check_finite,
            step_checkpoints=checkpoint_steps is not None,
        )
        engine = self._prepare([train] if val is None else [train, val], "fit")
        ckdir = None
        if checkpoint_dir is not None:
            # The directory belongs to one run: locked for this call, settings compared.
            settings = run_settings(self.module, self._compile_description(), self.run.seed)
            ckdir = CheckpointDir(checkpoint_dir, keep_last=keep_checkpoints, settings=settings)
            ckdir.claim()
        if engine.scheduler is not None and isinstance(
            engine.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau
        ):
            engine.scheduler_monitor = "val_loss" if val is not None else "loss"

        run = self.run
        if initial_epoch is not None and initial_epoch < run.epoch and ckdir is None:
            raise ArgumentError(
                f"initial_epoch={initial_epoch} is behind the run, which has trained {run.epoch} "
                "epochs: epochal continues a run across fit calls instead of renumbering it. Omit "
                "initial_epoch to train on, or call compile() to start a new run"
            )
        # Where this call starts as the script sees it: the run's epoch, except
        # while a resumed process replays calls that a restored checkpoint covers.
        first = min(self._script_epoch, run.epoch) if initial_epoch is None else initial_epoch
        last = first + epochs if initial_epoch is None else epochs
        if ckdir is not None:
            latest = ckdir.latest(check=self._check_resumable)
            if latest is not None and int(latest.meta["step"]) > run.step:
                self._restore(latest)  # the same script, run again: resume
        # After a resume, the call that was under way when the process died
        # finishes it: the partial epoch, or the on_train_end it still owed.
        resume = self._pending_partial
        if resume is not None:
            covering = first <= resume.epoch < last
        else:
            covering = self._pending_end and first < run.epoch <= last
        if covering:
            self._pending_partial, self._pending_end = None, False
        else:
            resume = None
        if run.stopped and not covering:
            self._script_epoch = run.epoch
            if first < run.epoch:  # a resumed process replaying the call that stopped
                _release(ckdir)
                return run.history.slice(first, last)
            warnings.warn(
                f"This run was stopped after epoch {run.epoch} (early stopping or "
                "model.stop_training); fit trains no further. "
                "Call model.new_phase() to keep training it with fresh callback state, or "
                "compile() to start a new run",
                RuntimeWarning,
                stacklevel=2,
            )
            _release(ckdir)
            return run.history.slice(first, last)
        start = max(first, run.epoch)
        if start >= last and not covering:
            self._script_epoch = last
            _release(ckdir)
            return run.history.slice(first, last)  # a call a restored checkpoint covers
        self._resume_trajectory()

        steps = steps_per_epoch if steps_per_epoch is not None else train.steps(bs)
        cb_list = list(user_callbacks)
        if verbose_level:
            cb_list.append(ProgbarLogger(verbose_level))
        callback_list = CallbackList(cb_list)
        expected = ["loss", *(m.name for m in engine.train_metrics)]
        if val is not None:
            expected += [f"val_{k}" for k in expected]
        expected.append("learning_rate")
        params: dict[str, Any] = {
            "epochs": last,
            "steps": steps,
            "verbose": verbose_level,
            "metrics": expected,
        }
        # The checkpoint_dir run's id: files a callback writes are tied to the run by it.
        params["run_id"] = ckdir.run_id if ckdir is not None else None
        callback_list.set_model(self)
        callback_list.set_params(params)
        self._load_callback_states(callback_list)

        def save_checkpoint(partial: Partial | None) -> None:
            assert ckdir is not None
            self._save_callback_states(callback_list)
            phase = "epoch" if partial is None else "step"
            weights, state, meta = capture(self, live_rng=True, partial=partial, phase=phase)
            name = f"epoch-{run.epoch:06d}"
            if partial is not None:
                name += f"-step-{run.step:09d}"
            ckdir.save(name, weights=weights, state=state, meta=meta, history=run.history)

        plan = loop.Plan(
            train=train,
            val=val,
            batch_size=bs,
            val_batch_size=validation_batch_size or bs,
            first_epoch=start,
            last_epoch=last,
            steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps,
            validation_freq=freq,
            shuffle=shuffle,
            callbacks=callback_list,
            checkpoint=save_checkpoint if ckdir is not None else None,
            checkpoint_steps=checkpoint_steps,
            resume=resume,
        )
        run.epoch = start
        self._in_fit = True
        try:
            with owned_rng(run, self.device):
                loop.fit_loop(self, engine, run, plan)
            self._save_callback_states(callback_list)
            self._script_epoch = run.epoch if run.stopped else last
            run.history.events = dict(run.events)
            if ckdir is not None:
                # After on_train_end (restored best weights, stop flag): the call's final state.
                weights, state, meta = capture(self, live_rng=False, phase="end")
                ckdir.save(
                    f"epoch-{run.epoch:06d}",
                    weights=weights,
                    state=state,
                    meta=meta,
                    history=run.history,
                )
        finally:
            self._in_fit = False
            _release(ckdir)
        history = run.history.slice(first, last)
        history.params = params
        if verbose_level and (run.epoch - start > 1 or run.stopped):
            # One line reading the whole run's curves (see epochal.diagnose); not after
            # every call of a fit(epochs=1) loop, where it would repeat itself.
            print(run.history.diagnose().summary)
        return history

    # -- saving and loading -----------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the model and its whole run to the checkpoint directory ``path``.

        Weights as safetensors; optimizer, scheduler, RNG and callback states
        loadable with ``torch.load(weights_only=True)``; run metadata as JSON;
        written atomically with a manifest of checksums (see `epochal.checkpoint`).
        """
        self._require_compiled("save")
        # Inside fit (a callback saving) the global RNG is the run's, live.
        phase = "epoch" if self._in_fit else "end"
        weights, state, meta = capture(self, live_rng=self._in_fit, phase=phase)
        return save_checkpoint(
            path, weights=weights, state=state, meta=meta, history=self.run.history
        )

    def save_weights(self, path: str | os.PathLike[str]) -> Path:
        """Save only the module's weights, as a checkpoint directory (see `save`)."""
        meta = {"kind": "epochal-weights"}
        return save_checkpoint(path, weights=self._module.state_dict(), state={}, meta=meta)

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Load weights saved by `save_weights` or `save` (checksums verified first).

        Raises:
            CheckpointError: no intact checkpoint at ``path``, or its tensor
                names or shapes do not match the module (nothing is changed).
        """
        ckpt = read_checkpoint(path)
        check_weights(ckpt, self._module)
        self._module.load_state_dict({k: v.to(self.device) for k, v in ckpt.weights.items()})

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        module: nn.Module,
        device: str | torch.device | None = None,
        **compile_kwargs: Any,
    ) -> Model:
        """A model with the weights and run saved at ``path`` (by `save`, or a ``checkpoint_dir``).

        The module gives the architecture. Compile settings made of names
        (optimizer, loss, metrics) are restored from the checkpoint; pass
        ``compile`` arguments (``optimizer=``, ``loss=``, ...) when they were
        callables or instances. ``fit`` then continues the run where it was
        saved. Loading verifies checksums and never unpickles arbitrary objects.

        Raises:
            CheckpointError: no intact run checkpoint at ``path`` (a `save_weights`
                directory is refused: use `load_weights`), or it does not fit
                ``module``; ``module`` is left unchanged.
        """
        ckpt = read_checkpoint(path)
        check_run_meta(ckpt)
        check_weights(ckpt, module)
        model = cls(module, device=device)
        description = ckpt.meta.get("compile") or {}
        if compile_kwargs:
            compile_kwargs.setdefault("seed", int(ckpt.meta["seed"]))
            model.compile(**compile_kwargs)
        elif description.get("rebuildable"):
            model.compile(
                optimizer=description["optimizer"],
                loss=description["loss"],
                metrics=description["metrics"],
                learning_rate=description["learning_rate"],
                seed=int(ckpt.meta["seed"]),
                precision=description.get("precision", "32"),
                compile=bool(description.get("compile", False)),
            )
        else:
            model.module.load_state_dict({k: v.to(model.device) for k, v in ckpt.weights.items()})
            warnings.warn(
                f"{ckpt.path} was compiled with callables or instances that cannot be restored by "
                "name: the weights are loaded, the run is not. Pass the compile arguments to "
                "Model.load(...) to restore the run too",
                RuntimeWarning,
                stacklevel=2,
            )
            return model
        model._restore(ckpt)
        model._script_epoch = model.run.epoch
        return model

    def _restore(self, ckpt: Checkpoint) -> None:
        """Take over the run in ``ckpt``; engine state waits until the engine is built."""
        self._pending_partial = restore(self, ckpt)
        self._pending_end = ckpt.meta.get("phase", "end") != "end"
        if self._engine is None:
            self._pending_engine_state = ckpt.state

    def _check_resumable(self, ckpt: Checkpoint) -> None:
        """Refuse (so that ``latest`` skips) a checkpoint this model's run cannot resume from.

        One no further than the run is not resumed from: only its metadata is
        checked, so a fit loop does not re-read the whole history every call.
        """
        check_run_meta(ckpt)
        if int(ckpt.meta["step"]) <= self.run.step:
            return
        engine = self._engine
        check_run_checkpoint(ckpt, self._module, engine.optimizer if engine is not None else None)

    def _compile_description(self) -> dict[str, Any]:
        compiled = self._require_compiled("save")
        optimizer = compiled.optimizer if isinstance(compiled.optimizer, str) else None
        loss = compiled.loss.name if compiled.loss.kind != "custom" else None
        metrics = [r.name for r in compiled.metrics if r.key is not None]
        rebuildable = (
            optimizer is not None
            and loss is not None
            and compiled.loss.from_logits is None
            and len(metrics) == len(compiled.metrics)
            and compiled.scheduler is None
        )
        return {
            "optimizer": optimizer,
            "loss": loss,
            "metrics": metrics,
            "learning_rate": compiled.learning_rate,
            "precision": compiled.precision,
            "compile": compiled.compile,
            "rebuildable": rebuildable,
        }

    # -- callback state and shown weights -------------------------------------
    def _load_callback_states(self, callbacks: CallbackList) -> None:
        run = self.run
        for key, cb in zip(callbacks.state_keys(), callbacks, strict=True):
            if key in run.callback_states:
                cb.load_state_dict(run.callback_states[key])
            else:
                cb.reset_state()

    def _save_callback_states(self, callbacks: CallbackList) -> None:
        run = self.run
        for key, cb in zip(callbacks.state_keys(), callbacks, strict=True):
            state = cb.state_dict()
            if state:
                run.callback_states[key] = state

    def show_weights(self, weights: Mapping[str, torch.Tensor]) -> None:
        """Load ``weights`` for the user to see, while the run keeps its own trajectory.

        Used by EarlyStopping to restore the best epoch's weights at the end of
        a ``fit`` call. If the run goes on, the next ``fit`` call continues from
        the weights the run had, unless the weights were changed in between
        (then it continues from those). A stopped run ends with these weights.
        """
        run = self.run
        if not run.stopped and run.trajectory is None:
            run.trajectory = {k: v.detach().clone() for k, v in self._module.state_dict().items()}
        self._module.load_state_dict(dict(weights))
        run.shown_versions = [t._version for t in self._module.state_dict().values()]

    def _resume_trajectory(self) -> None:
        run = self.run
        if run.trajectory is None:
            return
        untouched = run.shown_versions == [t._version for t in self._module.state_dict().values()]
        if untouched:
            self._module.load_state_dict(run.trajectory)
        run.trajectory = None
        run.shown_versions = None

    def new_phase(self) -> None:
        """Start a fresh phase of the run: callbacks start over, a stopped run trains again.

        Weights, optimizer state, epoch numbering and history carry on. Use
        it, for example, for a new early-stopping phase after fine-tuning.
        Training continues from the weights the model shows now.
        """
        run = self.run
        run.callback_states.clear()
        run.stopped = False
        run.trajectory = None
        run.shown_versions = None

    # -- evaluate -------------------------------------------------------------
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Verbose = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: Sequence[Callback] | None = None,
        return_dict: bool = True,
    ) -> dict[str, float] | list[float] | float:
        """Loss and metrics over the whole of ``x``/``y``.

        Returns:
            ``{"loss": ..., metric: ...}``; with ``return_dict=False`` Keras's
            form: the loss alone without metrics, else ``[loss, *metrics]``.
        """
        self._require_compiled("evaluate")
        check_positive_int("batch_size", batch_size)
        check_positive_int("steps", steps)
        verbose_level = check_verbose(verbose)
        user_callbacks = check_callbacks(callbacks)
        bs = batch_size or 32
        source = make_source(x, y, sample_weight, device=self.device, batch_size=bs)
        engine = self._prepare([source], "evaluate")
        cb_list: list[Callback] = list(user_callbacks)
        if verbose_level:
            cb_list.append(ProgbarLogger(verbose_level))
        callback_list = CallbackList(cb_list)
        callback_list.set_model(self)
        n_steps = steps if steps is not None else source.steps(bs)
        callback_list.set_params({"steps": n_steps, "verbose": verbose_level, "mode": "evaluate"})
        callback_list.on_test_begin()
        logs = loop.evaluate(engine, source, batch_size=bs, steps=steps, callbacks=callback_list)
        callback_list.on_test_end(logs)
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names if k in logs]
        return values[0] if len(values) == 1 else values

    # -- predict --------------------------------------------------------------
    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: Verbose = "auto",
        steps: int | None = None,
        callbacks: Sequence[Callback] | None = None,
    ) -> Any:
        """The module's outputs for ``x``: numpy in, numpy out; tensor in, tensor out.

        Outputs are what the module returns (probabilities for a model ending
        in sigmoid/softmax, logits otherwise), batch by batch in eval mode.
        """
        check_positive_int("batch_size", batch_size)
        check_positive_int("steps", steps)
        verbose_level = check_verbose(verbose)
        user_callbacks = check_callbacks(callbacks)
        bs = batch_size or 32
        source = make_source(x, None, None, device=self.device, batch_size=bs, require_y=False)
        cb_list: list[Callback] = list(user_callbacks)
        if verbose_level:
            cb_list.append(ProgbarLogger(verbose_level))
        callback_list = CallbackList(cb_list)
        callback_list.set_model(self)
        n_steps = steps if steps is not None else source.steps(bs)
        callback_list.set_params({"steps": n_steps, "verbose": verbose_level, "mode": "predict"})
        callback_list.on_predict_begin()
        outputs = loop.predict(
            self._module, source, batch_size=bs, steps=steps, callbacks=callback_list
        )
        callback_list.on_predict_end()
        if not outputs:
            raise ArgumentError("predict received no data: `x` produced no batches")
        result = concat_batches(outputs)
        if all_tensors(x):
            target = leaf_device(x)
            return tree_map(lambda t: t.to(target) if isinstance(t, torch.Tensor) else t, result)
        return tree_map(lambda t: t.cpu().numpy() if isinstance(t, torch.Tensor) else t, result)

    def add(self, layer: nn.Module) -> None:
        """Append a layer to a `Sequential` model (Keras's ``model.add``)."""
        add = getattr(self._module, "add", None)
        if not callable(add) or not hasattr(self._module, "sequential_layers"):
            raise ArgumentTypeError(
                "model.add() works on models built with epochal.Sequential. Received a model "
                f"wrapping {type(self._module).__name__}"
            )
        if self._engine is not None:
            raise ArgumentError(
                "Cannot add layers after training started: the optimizer already holds the "
                "parameters. Add layers before the first fit, or compile again after adding"
            )
        add(layer)
        self._module.to(self.device)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the module directly (no batching, no mode change)."""
        return self._module(*args, **kwargs)

    # -- weights --------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Every parameter and buffer as numpy arrays (Keras's ``get_weights``)."""
        return [t.detach().cpu().numpy().copy() for t in self._module.state_dict().values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set the values of ``get_weights``'s arrays, in the same order and shapes."""
        state = self._module.state_dict()
        if len(weights) != len(state):
            raise ArgumentError(
                f"Expected {len(state)} weight arrays (one per entry of module.state_dict()). "
                f"Received {len(weights)}"
            )
        new = {}
        for (key, old), value in zip(state.items(), weights, strict=True):
            tensor = torch.as_tensor(
                np.asarray(value) if not isinstance(value, torch.Tensor) else value
            )
            if tuple(tensor.shape) != tuple(old.shape):
                raise ArgumentError(
                    f"Weight {key!r}: expected shape {tuple(old.shape)}. Received {tuple(tensor.shape)}"
                )
            new[key] = tensor.to(old.dtype)
        self._module.load_state_dict(new)

    def count_params(self) -> int:
        """The number of parameters (trainable and not)."""
        return sum(p.numel() for p in self._module.parameters())

    def summary(self, *, print_fn: Callable[[str], Any] | None = None) -> str:
        """Print (and return) a table of the layers, their output shapes and parameter counts."""
        from epochal.summary import summarize

        text = summarize(self._module, self._input_shape)
        (print_fn or print)(text)
        return text
