"""`Model`: compile, fit, evaluate and predict for any ``torch.nn.Module``.

`Model` is the face: it checks arguments, builds the data sources and
delegates to the run's owner, `epochal._trainer.Trainer` (made by
``compile``), which binds the loss and metrics once, decides what each ``fit``
call does and hands a `Plan` to `epochal.loop.fit_loop`. Every failure of
argument or data checking happens before training starts and leaves the
model and its run as they were.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from epochal import _config, distributed, loop
from epochal import _outputs as outputs_mod
from epochal import optimizers as optimizers_mod
from epochal._args import (
    check_callbacks,
    check_fit_arguments,
    check_keras_compile_options,
    check_positive_int,
    check_verbose,
)
from epochal._ckpt_run import check_run_meta, check_weights
from epochal._dist_run import predict_shared, rank_zero_only, sync_batchnorm_module
from epochal._optim_hooks import check_step_options
from epochal._runio import read_checkpoint
from epochal._step import check_precision
from epochal._trainer import FitCall, Settings, Trainer
from epochal._tree import all_tensors, concat_batches, leaf_device, tree_map
from epochal.callbacks.backup_and_restore import backup_plan
from epochal.callbacks.base import Callback, CallbackList
from epochal.callbacks.history import History
from epochal.callbacks.progress import ProgbarLogger
from epochal.checkpoint import save_checkpoint
from epochal.data import ArraySource, Source, fit_sources, make_source
from epochal.data._checks import check_predict_input, prepare_inputs, warn_if_short
from epochal.data._features import input_signature
from epochal.data._reuse import Prepared, inputs_key, keep, reusable
from epochal.errors import ArgumentError, ArgumentTypeError, NotCompiledError
from epochal.layers._dryrun import reference_float
from epochal.run import RunState

__all__ = ["Model"]

Verbose = Literal[0, 1, 2, "auto"]


def _device(device: str | torch.device | None) -> torch.device:
    """The training device; under torchrun a bare ``"cuda"`` is the process's ``LOCAL_RANK`` GPU."""
    world = distributed.setup()  # join torchrun's group whatever the device
    if device is None:
        return distributed.default_device(world)
    chosen = torch.device(device)
    if chosen.type == "cuda" and chosen.index is None and world.distributed:
        return torch.device("cuda", world.local_rank)
    return chosen


class Model:
    """Wraps a ``torch.nn.Module`` with Keras's ``compile``/``fit``/``evaluate``/``predict``.

    The model owns one training run (see `epochal.run.RunState`): repeated
    ``fit`` calls continue it, numbering epochs on, and ``model.history``
    holds all of it. ``compile`` starts a new run (weights are kept).

    Args:
        module: any ``torch.nn.Module``. Multi-input data given as a tuple is
            passed positionally, a dict as keyword arguments.
        device: where to train; defaults to CUDA when available, else CPU
            (under torchrun: the CUDA device of the process's ``LOCAL_RANK``).
        sync_batchnorm: convert every ``BatchNorm*d`` layer to
            ``torch.nn.SyncBatchNorm``, so batch statistics are computed over
            the global batch on several processes (CUDA only; see docs/distributed.md).

    Example:
        >>> model = Model(nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 1)))
        >>> model.compile(optimizer="adam", loss="bce", metrics=["accuracy"], seed=0)
        >>> history = model.fit(x, y, epochs=10, validation_split=0.2)
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        device: str | torch.device | None = None,
        sync_batchnorm: bool = False,
    ) -> None:
        if not isinstance(module, nn.Module):
            raise ArgumentTypeError(
                f"Expected `module` to be a torch.nn.Module. Received: {type(module).__name__}"
            )
        if not isinstance(sync_batchnorm, bool):
            raise ArgumentTypeError(
                "Expected `sync_batchnorm` to be a bool. "
                f"Received: sync_batchnorm={sync_batchnorm!r}"
            )
        self.device = _device(device)
        if sync_batchnorm:
            module = sync_batchnorm_module(module, self.device)
        self._module = module.to(self.device)
        self._trainer: Trainer | None = None
        # Input signatures (structure, shapes, dtypes) the module ran on in predict.
        self._fitting_inputs: set[Any] = set()
        # The last predict call's prepared source (epochal.data._reuse).
        self._prepared_predict: Prepared | None = None
        #: Keras's flags: a callback sets one to stop ``evaluate`` / ``predict``.
        self.stop_evaluating = False
        self.stop_predicting = False
        # Set by epochal.keras for the models it builds: Keras's conventions
        # (see docs/coming_from_keras.md), and the Keras model as callbacks' `model`.
        self._keras_face = False
        self._callback_model: Any = None

    def _context(self) -> Any:
        """What callbacks see as ``self.model``: this model, or the Keras model it trains."""
        return self._callback_model if self._callback_model is not None else self

    # -- properties -----------------------------------------------------------
    @property
    def module(self) -> nn.Module:
        """The wrapped ``torch.nn.Module``."""
        return self._module

    @property
    def run(self) -> RunState:
        """The current training run (created by ``compile``)."""
        if self._trainer is None:
            raise NotCompiledError("The model has no run yet: call model.compile(...) first")
        return self._trainer.run

    @property
    def history(self) -> History:
        """The whole run's `History`, across every ``fit`` call."""
        return self.run.history

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The optimizer, once built (at the first ``fit`` or ``evaluate`` after compile)."""
        engine = self._trainer.engine if self._trainer is not None else None
        return engine.optimizer if engine is not None else None

    @property
    def stop_training(self) -> bool:
        """Whether the run has been stopped. Set it to True in a callback to stop, as in Keras.

        A stopped run stays stopped across ``fit`` calls (so a loop of short
        fits stops where one long fit would); set it back to False, or call
        `new_phase`, to train on.
        """
        return self._trainer is not None and self._trainer.run.stopped

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self.run.stopped = bool(value)

    @property
    def metrics_names(self) -> list[str]:
        """The log keys of ``evaluate``: ``loss`` and the compiled metrics."""
        if self._trainer is None:
            return []
        engine = self._trainer.engine
        if engine is not None:  # bound: per-output losses and metrics are known
            return ["loss", *(m.name for m in engine.train_metrics)]
        return ["loss", *(m.name for m in self._trainer.settings.metrics)]

    def metric_direction(self, name: str) -> Literal["min", "max"] | None:
        """Whether the metric logged as ``name`` improves downward or upward (None if unknown)."""
        if name == "loss" or name.endswith("loss"):
            return "min"
        if self._trainer is not None:
            for req in self._trainer.settings.metrics:
                if req.name == name:
                    return req.direction
            engine = self._trainer.engine
            for metric in engine.train_metrics if engine is not None else []:
                if metric.name == name:
                    return metric.direction
        return None

    # -- compile --------------------------------------------------------------
    def compile(
        self,
        optimizer: optimizers_mod.OptimizerLike = "rmsprop",
        loss: Any = None,
        metrics: Sequence[Any] | Mapping[str, Any] | None = None,
        *,
        loss_weights: Any = None,
        weighted_metrics: Sequence[Any] | Mapping[str, Any] | None = None,
        learning_rate: float | None = None,
        seed: int | None = None,
        scheduler: Any = None,
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        compile: bool = False,
        precision: Literal["32", "bf16-mixed", "16-mixed"] | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        gradient_accumulation_steps: int | None = None,
        steps_per_execution: int = 1,
        jit_compile: bool | Literal["auto"] = "auto",
        run_eagerly: bool = False,
        optimizer_impl: Literal["auto", "fused", "foreach", "for-loop"] = "auto",
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
                For a module returning a tuple/list or dict of tensors: a list (by
                position) or dict (by output name) of losses, or one named loss
                applied to every output (see docs/multi_output.md).
            metrics: names (``"accuracy"``, ``"precision"``, ``"recall"``, ``"auc"``,
                ``"f1"``, ``"mse"``, ``"mae"``, ...), callables ``metric(y_pred, y_true)``
                or ``torchmetrics.Metric`` instances. For several outputs: a list
                with one entry (a metric or a list) per output, or a dict by output
                name; logged as ``<output>_<metric>``.
            loss_weights: a float, or a list/dict (per output) of floats: the
                total loss is the weighted sum of the per-output losses.
            weighted_metrics: metrics weighted by ``sample_weight``/``class_weight``
                (accuracy, mse, mae, mape, callables with one value per sample), as
                ``metrics``.
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
            compile: compile the training step with ``torch.compile``: forward,
                loss and backward as one graph (falls back to eager execution,
                with a warning, where it fails).
            precision: ``"32"`` (default), ``"bf16-mixed"`` (autocast to bfloat16,
                CPU or CUDA) or ``"16-mixed"`` (float16 with a gradient scaler, CUDA).
            clipnorm, clipvalue, global_clipnorm: clip each parameter's gradient
                norm, each gradient entry, or the norm of all gradients together,
                before every update (Keras's optimizer options, for any optimizer).
            gradient_accumulation_steps: apply the mean gradient of every N
                batches (one update per N steps; the other steps update nothing).
            steps_per_execution: accepted for Keras compatibility; epochal runs
                one step per call and calls batch hooks at every step.
            jit_compile: Keras's name for ``compile``: True compiles the step,
                ``"auto"`` and False leave ``compile`` as given.
            run_eagerly: True runs without compilation (``compile`` must be False).
            optimizer_impl: the optimizer's kernel: ``"auto"`` (default: torch's
                fused kernel where it has one for the optimizer and device),
                ``"fused"``, ``"foreach"`` or ``"for-loop"``; same algorithm and
                hyperparameters. Applies to names and factories; an optimizer
                instance is used as built.

        Raises:
            ArgumentError: unknown names (the message lists the valid ones).
            ArgumentTypeError: arguments of the wrong type.
        """
        optimizers_mod.check(optimizer, learning_rate)
        optimizer_impl = optimizers_mod.check_impl(optimizer, optimizer_impl)
        if loss is None:
            raise ArgumentError(
                "Expected `loss`: a name such as 'binary_crossentropy' or 'mse', a callable "
                "loss(y_pred, y_true), or an nn.Module. Received: loss=None"
            )
        if metrics is not None and (
            isinstance(metrics, str) or not isinstance(metrics, (list, tuple, Mapping))
        ):
            raise ArgumentTypeError(
                f"Expected `metrics` to be a list (or, for several outputs, a list of lists or "
                f"a dict by output name). Received: metrics={metrics!r}"
            )
        loss_spec, requests = outputs_mod.check(loss, metrics, loss_weights, weighted_metrics)
        # Declared output names (functional models): bad specs fail here, not at fit.
        outputs_mod.check_names(loss_spec, requests, outputs_mod.output_names_of(self._module))
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
        checked_precision = check_precision(precision, self.device)
        compile = check_keras_compile_options(
            compile=compile,
            jit_compile=jit_compile,
            run_eagerly=run_eagerly,
            steps_per_execution=steps_per_execution,
        )
        step_options = check_step_options(
            "compile",
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            gradient_accumulation_steps=gradient_accumulation_steps,
        )
        own = getattr(optimizer, "step_options", None)
        if step_options.any() and own is not None and own.any():
            raise ArgumentError(
                "Gradient clipping and accumulation were given both to the optimizer and to "
                "compile(): set them in one place"
            )
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        settings = Settings(
            optimizer,
            learning_rate,
            loss_spec,
            requests,
            seed,
            scheduler,
            scheduler_interval,
            compile,
            checked_precision,
            step_options,
            optimizer_impl,
            keras_face=self._keras_face,
        )
        self._trainer = Trainer(self._module, self.device, settings)

    def _require_compiled(self, what: str) -> Trainer:
        if self._trainer is None:
            raise NotCompiledError(
                f"You must call model.compile(optimizer=..., loss=...) before model.{what}()"
            )
        return self._trainer

    @property
    def _compiled(self) -> Settings | None:
        """The compile settings (None before ``compile``)."""
        return self._trainer.settings if self._trainer is not None else None

    @property
    def _engine(self) -> loop.Engine | None:
        """The bound engine (None before the first ``fit``/``evaluate`` after compile)."""
        return self._trainer.engine if self._trainer is not None else None

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
        trainer = self._require_compiled("fit")
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
        for callback in args.callbacks:
            callback.check_state()
        backup = backup_plan(args.callbacks, checkpoint_dir, checkpoint_steps)
        bs = batch_size or 32
        given = (x, y, sample_weight, validation_data)
        key = None
        if class_weight is None:
            settings = (bs, batch_size is not None, validation_split, validation_batch_size)
            key = inputs_key(given, (*settings, check_finite, reference_float(self._module)))
        reused = trainer.reusable_inputs("fit", key)
        train: Source
        val: Source | None
        val_name = "validation_data" if validation_data is not None else "x (validation_split)"
        if reused is not None:  # the very tensors of the last call, unchanged: prepared already
            train, val = reused.source, reused.val
        else:
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
                step_checkpoints=backup.checkpoint_steps is not None,
            )
            prepare_inputs(
                self._module, [(train, "x")] + ([] if val is None else [(val, val_name)])
            )
        warn_if_short(train, steps_per_epoch, bs, "x", "steps_per_epoch")
        if val is not None:
            val_bs = validation_batch_size or bs
            warn_if_short(val, validation_steps, val_bs, val_name, "validation_steps")
        call = FitCall(
            train=train,
            val=val,
            batch_size=bs,
            val_batch_size=validation_batch_size or bs,
            epochs=_config.capped_epochs(epochs, initial_epoch),
            initial_epoch=initial_epoch,
            steps_per_epoch=_config.capped_steps(steps_per_epoch, train.steps(bs)),
            validation_steps=validation_steps,
            validation_freq=args.validation_freq,
            shuffle=shuffle,
            callbacks=args.callbacks,
            verbose=args.verbose,
            checkpoint_dir=backup.checkpoint_dir,
            checkpoint_steps=backup.checkpoint_steps,
            keep_checkpoints=keep_checkpoints,
            inputs_key=key,
            given=given,
            reused=reused,
        )
        start = self.run.epoch
        history = trainer.fit(call, self._context())
        if distributed.world().is_main:  # rank 0 wrote the backups; it alone deletes them
            backup.finish()
        if (
            args.verbose
            and (self.run.epoch - start > 1 or self.run.stopped)
            and distributed.world().is_main
        ):
            self._print_verdict()
        return history

    def _print_verdict(self) -> None:
        """One line reading the whole run's curves (see epochal.diagnose).

        Not after every call of a fit(epochs=1) loop, where it would repeat
        itself; and never at the cost of the finished call's result.
        """
        try:
            summary = self.run.history.diagnose().summary
        except Exception as exc:  # the History is the call's result: keep it
            summary = f"(no verdict on the learning curves: {type(exc).__name__}: {exc})"
        print(summary)

    # -- saving and loading -----------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the model and its whole run to the checkpoint directory ``path``.

        Weights as safetensors; optimizer, scheduler, RNG and callback states
        loadable with ``torch.load(weights_only=True)``; run metadata as JSON;
        written atomically with a manifest of checksums (see `epochal.checkpoint`).
        Inside ``fit`` (a callback saving), the checkpoint is written once the
        hooks running have all run and the callbacks' states are recorded: it
        holds the run as it stands after that epoch's (or step's) callbacks,
        so ``Model.load`` + ``fit`` continues it bit for bit.
        """
        return self._require_compiled("save").save(path)

    def save_weights(self, path: str | os.PathLike[str]) -> Path:
        """Save only the module's weights, as a checkpoint directory (see `save`)."""
        if self._trainer is not None:
            return self._trainer.save(path, weights_only=True)
        if not distributed.world().is_main:  # on several processes rank 0 writes
            return Path(path)
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
                optimizer_impl=description.get("optimizer_impl", "auto"),
                **_native_step_options(description.get("step_options")),
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
        assert model._trainer is not None
        model._trainer.load(ckpt)
        return model

    def show_weights(self, weights: Mapping[str, torch.Tensor]) -> None:
        """Load ``weights`` for the user to see, while the run keeps its own trajectory.

        Used by EarlyStopping to restore the best epoch's weights at the end of
        a ``fit`` call. If the run goes on, the next ``fit`` call continues from
        the weights the run had, unless the weights were changed in between
        (then it continues from those). A stopped run ends with these weights.
        """
        self._require_compiled("show_weights").show_weights(weights)

    def new_phase(self) -> None:
        """Start a fresh phase of the run: callbacks start over, a stopped run trains again.

        Weights, optimizer state, epoch numbering and history carry on. Use
        it, for example, for a new early-stopping phase after fine-tuning.
        Training continues from the weights the model shows now.
        """
        self._require_compiled("new_phase").new_phase()

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
        trainer = self._require_compiled("evaluate")
        check_positive_int("batch_size", batch_size)
        check_positive_int("steps", steps)
        verbose_level = check_verbose(verbose)
        user_callbacks = check_callbacks(callbacks)
        bs = batch_size or 32
        given = (x, y, sample_weight)
        check = not self._keras_face
        key = inputs_key(given, (bs, check, reference_float(self._module)))
        reused = trainer.reusable_inputs("evaluate", key)
        source: Source
        if reused is not None and trainer.engine is not None:  # the same tensors, unchanged
            source, engine, conform = reused.source, trainer.engine, reused.conform
        else:
            source = make_source(
                x, y, sample_weight, device=self.device, batch_size=bs, check_finite_values=check
            )
            prepare_inputs(self._module, [(source, "x")])
            engine, conform = trainer.prepare([source], "evaluate")
            trainer.keep_inputs("evaluate", key, (source, None), given, conform)
        warn_if_short(source, steps, bs, "x", "steps")
        cb_list: list[Callback] = list(user_callbacks)
        if verbose_level:
            cb_list.append(ProgbarLogger(verbose_level))
        callback_list = CallbackList(rank_zero_only(cb_list))
        callback_list.set_model(self._context())
        n_steps = steps if steps is not None else source.steps(bs)
        callback_list.set_params({"steps": n_steps, "verbose": verbose_level, "mode": "evaluate"})
        callback_list.on_test_begin()
        logs = loop.evaluate(
            engine,
            source,
            batch_size=bs,
            steps=steps,
            callbacks=callback_list,
            conform_targets=conform,
        )
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
        key = inputs_key((x,), (bs, reference_float(self._module)))
        reused = reusable(self._prepared_predict, key)
        source: Source
        if reused is not None:  # the same tensors as the last call, unchanged: prepared already
            source = reused.source
        else:
            source = make_source(x, None, None, device=self.device, batch_size=bs, require_y=False)
            prepare_inputs(self._module, [(source, "x")])
            self._probe_predict_input(source)
            self._prepared_predict = keep(key, source, None, (x,))
        cb_list: list[Callback] = list(user_callbacks)
        if verbose_level:
            cb_list.append(ProgbarLogger(verbose_level))
        callback_list = CallbackList(rank_zero_only(cb_list))
        callback_list.set_model(self._context())
        n_steps = steps if steps is not None else source.steps(bs)
        callback_list.set_params({"steps": n_steps, "verbose": verbose_level, "mode": "predict"})
        callback_list.on_predict_begin()
        if distributed.world().distributed and isinstance(source, ArraySource):
            # Each rank predicts its contiguous share; every rank gets all rows in order.
            result = predict_shared(
                self._module, source, batch_size=bs, steps=steps, callbacks=callback_list
            )
        else:
            outputs = loop.predict(
                self._module, source, batch_size=bs, steps=steps, callbacks=callback_list
            )
            if not outputs:
                raise ArgumentError("predict received no data: `x` produced no batches")
            result = concat_batches(outputs)
        callback_list.on_predict_end()
        if isinstance(x, torch.Tensor) and isinstance(result, torch.Tensor):  # the common case
            return result.to(x.device)  # itself when already there
        if all_tensors(x):
            target = leaf_device(x)
            return tree_map(lambda t: t.to(target) if isinstance(t, torch.Tensor) else t, result)
        return tree_map(lambda t: t.cpu().numpy() if isinstance(t, torch.Tensor) else t, result)

    def _probe_predict_input(self, source: Source) -> None:
        """A shape that does not fit fails before any batch (`check_predict_input`).

        The probe runs once per kind of input: a loop of predict calls on
        arrays shaped like ones that fitted before pays for no extra forward.
        """
        signature = input_signature(source.x) if isinstance(source, ArraySource) else None
        if signature is None or signature not in self._fitting_inputs:
            seen = self._trainer.input_shape if self._trainer is not None else None
            check_predict_input(self._module, source, seen)
            if signature is not None:
                self._fitting_inputs.add(signature)

    # -- single batches -------------------------------------------------------
    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: Mapping[int, float] | None = None,
        return_dict: bool = True,
    ) -> dict[str, float] | list[float] | float:
        """One training step on ``x``/``y`` as one batch: a step of the run (counted, saved, resumed).

        Returns:
            This batch's ``{"loss": ..., metric: ...}``; ``return_dict=False``
            gives Keras's form (the loss alone, or ``[loss, *metrics]``).

        Raises:
            ArgumentError: ``x`` is not one batch of arrays, or both weights given.
            NotCompiledError: before ``compile``.
        """
        from epochal import _on_batch

        logs = _on_batch.train_on_batch(self, x, y, sample_weight, class_weight)
        return logs if return_dict else self._flat(logs)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = True
    ) -> dict[str, float] | list[float] | float:
        """Loss and metrics of ``x``/``y`` as one batch, in eval mode (as `train_on_batch` returns them)."""
        from epochal import _on_batch

        logs = _on_batch.test_on_batch(self, x, y, sample_weight)
        return logs if return_dict else self._flat(logs)

    def predict_on_batch(self, x: Any) -> Any:
        """The outputs for ``x`` as one batch, in eval mode (numpy in, numpy out)."""
        from epochal import _on_batch

        return _on_batch.predict_on_batch(self, x)

    def _flat(self, logs: Mapping[str, float]) -> list[float] | float:
        values = [logs[k] for k in self.metrics_names if k in logs]
        return values[0] if len(values) == 1 else values

    def add(self, layer: nn.Module) -> None:
        """Append a layer to a `Sequential` model (Keras's ``model.add``)."""
        add = getattr(self._module, "add", None)
        if not callable(add) or not hasattr(self._module, "sequential_layers"):
            raise ArgumentTypeError(
                "model.add() works on models built with epochal.Sequential. Received a model "
                f"wrapping {type(self._module).__name__}"
            )
        if self._trainer is not None and self._trainer.engine is not None:
            raise ArgumentError(
                "Cannot add layers after training started: the optimizer already holds the "
                "parameters. Add layers before the first fit, or compile again after adding"
            )
        add(layer)
        self._module.to(self.device)
        self._fitting_inputs.clear()
        self._prepared_predict = None

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

        input_shape = self._trainer.input_shape if self._trainer is not None else None
        text = summarize(self._module, input_shape)
        (print_fn or print)(text)
        return text


def _native_step_options(described: Any) -> dict[str, Any]:
    """compile()'s own step options recorded in a checkpoint's compile description."""
    if not isinstance(described, dict):
        return {}
    keys = ("clipnorm", "clipvalue", "global_clipnorm", "gradient_accumulation_steps")
    return {k: described[k] for k in keys if k in described}
