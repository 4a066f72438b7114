"""`Model` and `Sequential`: Keras's model classes, as ``torch.nn.Module``s with a training face.

Everything ``epochal.keras`` builds is a `Model`:

- ``keras.Sequential([...])``: layers one after the other;
- ``keras.Model(inputs, outputs)``: a functional model (see `epochal.keras.functional`);
- a subclass of ``keras.Model`` with layers made in ``__init__`` and a
  ``call(self, inputs, training=None)``.

A `Model` is a ``torch.nn.Module`` (so it is a layer of another model, or of
any torch code) and has Keras's training face -- ``compile``, ``fit``,
``evaluate``, ``predict``, ``save``, ``summary``, ``get_weights``, ... --
delegated to an `epochal.Model` that trains it and owns its run.

Example:
    >>> from epochal import keras
    >>> from epochal.keras import layers
    >>> model = keras.Sequential([layers.Dense(64, activation="relu", input_shape=(10,)),
    ...                           layers.Dense(1, activation="sigmoid")], name="classifier")
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.fx._symbolic_trace import is_fx_symbolic_tracing

from epochal import model as native_model
from epochal._calls import call_marked, in_engine
from epochal._tree import leaves, tree_map
from epochal.callbacks.history import History
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import _face
from epochal.keras._symbolic import Input, KerasTensor, is_symbolic, symbolic_call
from epochal.layers import _checks as checks
from epochal.layers._base import SymbolicAttribute, snake_case
from epochal.layers._config import init_args, record_init_args
from epochal.layers._dryrun import eval_forward, is_built
from epochal.layers._sequential import SequentialModule
from epochal.run import RunState

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]


class Model(nn.Module):
    """Keras's ``Model``: a ``torch.nn.Module`` with ``compile``/``fit``/``evaluate``/``predict``.

    ``keras.Model(inputs, outputs, name=...)`` builds a functional model from
    ``keras.Input`` tensors; subclass it, make layers in ``__init__`` and
    write ``call(self, inputs, training=None)`` for a model of your own.
    Layers without an input shape build on the first call (or on the first
    batch of ``fit``).

    Args:
        name: the model's name (shown by ``summary``); default: the class name in snake case.
        device: where to train; defaults to CUDA when available, else CPU.

    Example:
        >>> class TwoLayers(keras.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = layers.Dense(32, activation="relu")
        ...         self.out = layers.Dense(1)
        ...     def call(self, inputs, training=None):
        ...         return self.out(self.hidden(inputs))
    """

    _call_takes_training: bool = False
    _native: native_model.Model | None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            # keras.Model(inputs, outputs) is a functional model, as in Keras.
            from epochal.keras.functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        record_init_args(cls)
        call = cls.__dict__.get("call")
        if call is not None:
            cls._call_takes_training = "training" in inspect.signature(call).parameters

    def __init__(
        self,
        *args: Any,
        name: str | None = None,
        device: str | torch.device | None = None,
        **kwargs: Any,
    ) -> None:
        if args or kwargs:
            raise ArgumentError(
                f"{type(self).__name__}: keras.Model subclasses take `name` (and `device`); "
                "a functional model is built by keras.Model(inputs, outputs). "
                f"Received: {len(args)} positional argument(s) and {sorted(kwargs)}"
            )
        super().__init__()
        self.name: str = checks.layer_name("Model", name) or snake_case(type(self).__name__)
        self._auto_name = name is None
        self._device = torch.device(device) if device is not None else None
        self._native: native_model.Model | None = None

    # -- the module -------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if (not args or type(args[0]) is not Tensor) and is_symbolic(args, kwargs):
            return symbolic_call(self, args, kwargs)
        if in_engine() or torch.compiler.is_compiling() or is_fx_symbolic_tracing():
            # A training step, a call inside another model's call, or a trace: as the caller
            # set it. (Looked up at each call: torch.fx patches nn.Module.__call__ while tracing.)
            return nn.Module.__call__(self, *args, **kwargs)
        return self._user_call(args, kwargs)

    def _user_call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``model(x)`` by the user (or a torch loop): Keras's inference mode by default.

        A Keras model starts in inference (eval) mode: dropout off, batch-norm
        statistics used. ``training=True`` runs one call in training mode,
        ``training=False`` in inference mode; ``model.train()`` (torch's way)
        switches later calls to training mode, as ``fit`` leaves it as found.
        Autograd records as torch's grad mode says (a torch loop trains the
        model as any module), except for calls on numpy data with no
        ``training``: those are pure inference, without autograd. numpy and
        float64 inputs become tensors of the model's float dtype on its device.
        """
        self._ensure_mode()
        if len(args) == 1 and not kwargs:
            x = args[0]
            if type(x) is Tensor and x.dtype is not torch.float64:
                return call_marked(nn.Module.__call__, self, x)  # a torch loop's call: fast
        training = kwargs.pop("training", None)
        tensors_given = any(isinstance(t, Tensor) for t in leaves((args, kwargs)))
        param = next(self.parameters(), None)
        device = param.device if param is not None else None
        floating = param.dtype if param is not None and param.is_floating_point() else None
        args = _face.as_tensors(args, device, floating)
        kwargs = _face.as_tensors(kwargs, device, floating)
        if training is not None:
            grad = torch.enable_grad() if training else contextlib.nullcontext()
            with grad:
                return call_marked(
                    run_in_mode,
                    self,
                    bool(training),
                    lambda: nn.Module.__call__(self, *args, **kwargs),
                )
        with contextlib.nullcontext() if tensors_given else torch.no_grad():
            return call_marked(nn.Module.__call__, self, *args, **kwargs)

    def _start_in_inference_mode(self) -> None:
        """Keras's default: inference mode, once, before the first call or fit (see `_user_call`)."""
        self.eval()

    def train(self, mode: bool = True) -> Model:
        """Sets training (or, with False, inference) mode for later calls, as torch's ``train``."""
        self.__dict__["_keras_mode"] = True  # decided: no default applies any more
        return super().train(mode)

    def _ensure_mode(self) -> None:
        if "_keras_mode" not in self.__dict__:
            self._start_in_inference_mode()

    @contextlib.contextmanager
    def _modes_kept(self) -> Iterator[None]:
        """Every submodule's mode put back after training (the loop sets training mode)."""
        self._ensure_mode()
        modes = {sub: sub.training for sub in self.modules()}
        try:
            yield
        finally:
            for sub, mode in modes.items():
                sub.training = mode

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Runs ``call`` (passing ``training`` as the module's mode, unless given)."""
        if self._call_takes_training and "training" not in kwargs:
            kwargs["training"] = self.training
        return self.call(*args, **kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """The forward computation of a subclassed model: override it."""
        raise NotImplementedError(
            f"{type(self).__name__} has no call(): a keras.Model subclass defines "
            "call(self, inputs, training=None) (or forward)"
        )

    @property
    def module(self) -> nn.Module:
        """The torch module that runs (the model itself for a subclassed model)."""
        return self

    @property
    def layers(self) -> list[nn.Module]:
        """The model's layers (its direct child modules, in the order they were set)."""
        return list(self.children())

    @property
    def weights(self) -> list[Tensor]:
        """Every weight (parameters, then buffers), as Keras's ``model.weights``."""
        return [*self.parameters(), *self.buffers()]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The weights the optimizer updates (``requires_grad``)."""
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """The weights the optimizer leaves alone: frozen parameters and buffers."""
        return [*(p for p in self.parameters() if not p.requires_grad), *self.buffers()]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def trainable(self) -> bool:
        """Whether the model trains; False freezes every layer from the next ``fit``, as Keras's."""
        return bool(self.__dict__.get("_trainable", True))

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = bool(value)
        for sub in self.modules():
            if sub is not self and isinstance(getattr(type(sub), "trainable", None), property):
                sub.trainable = value  # type: ignore[assignment]  # a layer's own rule (Keras layers keep frozen variables)
            else:
                # Recorded, so weights a lazy layer builds later follow it at the next fit.
                sub.__dict__["_trainable"] = value
        for sub in self.modules():
            for p in sub.parameters(recurse=False):
                keep = getattr(p, "_keras_trainable", True)
                p.requires_grad_(value and keep)

    def get_layer(self, name: str | None = None, index: int | None = None) -> nn.Module:
        """A layer by ``name`` or by ``index`` in `layers`, as Keras's ``get_layer``.

        Raises:
            ArgumentError: neither or both given, no such name, or index out of range.
        """
        layers = self.layers
        if (name is None) == (index is None):
            raise ArgumentError(
                "get_layer: expected exactly one of `name` and `index`. "
                f"Received: name={name!r}, index={index!r}"
            )
        if index is not None:
            if (
                isinstance(index, bool)
                or not isinstance(index, int)
                or not -len(layers) <= index < len(layers)
            ):
                raise ArgumentError(
                    f"get_layer: expected `index` to be an int in [0, {len(layers)}). "
                    f"Received: index={index!r}"
                )
            return layers[index]
        names = self._layer_names()
        if name not in names:
            raise ArgumentError(
                f"get_layer: no layer named {name!r} in {self.name!r}. Layers: {', '.join(names)}"
            )
        return layers[names.index(name)]

    def _layer_names(self) -> list[str]:
        return [key for key, _ in self.named_children()]

    @property
    def built(self) -> bool:
        """Whether every layer has its weights."""
        return is_built(self)

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Builds the layers with one dry run on zeros of ``input_shape`` (batch axis first, may be None).

        Raises:
            ArgumentError: ``input_shape`` is not a shape.
        """
        shape = checks.shape("Model.build", "input_shape", tuple(input_shape)[1:])
        assert shape is not None
        if not is_built(self):
            eval_forward(self, torch.zeros((2, *(2 if d is None else d for d in shape))))

    output = SymbolicAttribute("output")
    input = SymbolicAttribute("input")

    # -- the training face --------------------------------------------------------------
    def _face(self) -> native_model.Model:
        """The `epochal.Model` that trains this module (made on first use)."""
        if self._native is None:
            # Not a submodule: it holds this module, which must not hold it back as a child.
            trainer = _face.adopt(native_model.Model(self, device=self._device), self)
            self.__dict__["_native"] = trainer
        trainer = self.__dict__["_native"]
        assert trainer is not None
        return trainer

    @property
    def native(self) -> native_model.Model:
        """The `epochal.Model` that trains this model (native face: its own conventions)."""
        return self._face()

    def _fit_input_shape(self) -> Any:
        """The input shape (without batch axis) the run learned from its data, if any."""
        face = self.__dict__.get("_native")
        run_owner = getattr(face, "_trainer", None) if face is not None else None
        return getattr(run_owner, "input_shape", None)

    @property
    def device(self) -> torch.device:
        """Where the model trains."""
        return self._face().device

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """Configure training and start a new run (arguments as `epochal.Model.compile`).

        Plain functions given as ``loss`` or ``metrics`` are called
        ``fn(y_true, y_pred)``, as in Keras (torch ``nn.Module`` losses keep
        torch's ``(input, target)``).
        """
        ordered, ordered_kwargs = _face.keras_compile_args(args, kwargs)
        self._face().compile(*ordered, **ordered_kwargs)
        # Kept (as given) so a .keras file can compile the loaded model the same way (see saving).
        self.__dict__["_compile_args"] = (args, dict(kwargs))

    def fit(self, *args: Any, **kwargs: Any) -> History:
        """Train, continuing the run (arguments as `epochal.Model.fit`).

        Non-finite inputs and targets are accepted, as Keras accepts them (so
        ``TerminateOnNaN`` can act); ``check_finite=True`` checks them.
        """
        kwargs.setdefault("check_finite", False)
        with self._modes_kept():
            return self._face().fit(*args, **kwargs)

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: Sequence[Any] | None = None,
        return_dict: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Loss and metrics over the data, in Keras's form.

        Returns:
            The loss alone when there are no metrics, else ``[loss, *metrics]``
            in `metrics_names` order; the dict with ``return_dict=True``.
        """
        self._ensure_mode()
        logs = self._face().evaluate(
            x,
            y,
            batch_size=batch_size,
            verbose=verbose,
            sample_weight=sample_weight,
            steps=steps,
            callbacks=callbacks,
            return_dict=True,
            **kwargs,
        )
        assert isinstance(logs, dict)
        return _face.keras_result(logs, self.metrics_names, bool(return_dict))

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """The outputs for ``x``, batch by batch in eval mode (as `epochal.Model.predict`)."""
        self._ensure_mode()
        return self._face().predict(*args, **kwargs)

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: Mapping[int, float] | None = None,
        return_dict: bool = False,
    ) -> Any:
        """One training step on ``x``/``y`` as one batch: a step of the run (Keras's ``train_on_batch``).

        Returns:
            This batch's loss alone without metrics, else ``[loss, *metrics]``;
            the dict with ``return_dict=True``.
        """
        native = self._face()
        with self._modes_kept():
            logs = native.train_on_batch(x, y, sample_weight, class_weight, return_dict=True)
        assert isinstance(logs, dict)
        return _face.keras_result(logs, self.metrics_names, bool(return_dict))

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> Any:
        """Loss and metrics of ``x``/``y`` as one batch, in inference mode (Keras's ``test_on_batch``)."""
        self._ensure_mode()
        logs = self._face().test_on_batch(x, y, sample_weight, return_dict=True)
        assert isinstance(logs, dict)
        return _face.keras_result(logs, self.metrics_names, bool(return_dict))

    def predict_on_batch(self, x: Any) -> Any:
        """The outputs for ``x`` as one batch, in inference mode, as numpy (Keras's ``predict_on_batch``)."""
        self._ensure_mode()
        out = self._face().predict_on_batch(x)
        return tree_map(lambda t: t.cpu().numpy() if isinstance(t, Tensor) else t, out)

    @property
    def history(self) -> History:
        """The whole run's `History`."""
        return self._face().history

    @property
    def run(self) -> RunState:
        """The current training run."""
        return self._face().run

    @property
    def optimizer(self) -> Any:
        """The optimizer with Keras's surface (``learning_rate``, ``iterations``, ``get_config``).

        Once built (at the first ``fit``/``evaluate``) it is the run's torch
        optimizer itself; between ``compile`` and then, a stand-in whose
        ``learning_rate`` sets the rate the optimizer is built with. None before ``compile``.
        """
        native = self._face()
        built = native.optimizer
        if built is not None:
            return _face.keras_optimizer(built, native)
        settings = native._compiled
        if settings is None:
            return None
        if isinstance(settings.optimizer, torch.optim.Optimizer):
            return _face.keras_optimizer(settings.optimizer, native)
        return _face.CompiledOptimizer(native)

    @property
    def stop_evaluating(self) -> bool:
        """Set it in a callback to stop ``evaluate``, as Keras's."""
        return self._face().stop_evaluating

    @stop_evaluating.setter
    def stop_evaluating(self, value: bool) -> None:
        self._face().stop_evaluating = bool(value)

    @property
    def stop_predicting(self) -> bool:
        """Set it in a callback to stop ``predict``, as Keras's."""
        return self._face().stop_predicting

    @stop_predicting.setter
    def stop_predicting(self, value: bool) -> None:
        self._face().stop_predicting = bool(value)

    def show_weights(self, weights: Mapping[str, Tensor]) -> None:
        """Show ``weights`` while the run keeps its own (see `epochal.Model.show_weights`)."""
        self._face().show_weights(weights)

    @property
    def stop_training(self) -> bool:
        """Whether the run has been stopped; set it in a callback to stop, as in Keras."""
        return self._face().stop_training

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self._face().stop_training = value

    @property
    def metrics_names(self) -> list[str]:
        """The log keys of ``evaluate``."""
        return self._face().metrics_names

    def metric_direction(self, name: str) -> Any:
        """Whether the metric logged as ``name`` improves downward or upward."""
        return self._face().metric_direction(name)

    def new_phase(self) -> None:
        """Start a fresh phase of the run (see `epochal.Model.new_phase`)."""
        self._face().new_phase()

    def save(self, filepath: str | os.PathLike[str], overwrite: bool = True) -> Path:
        """Saves the model.

        A path ending in ``.keras`` gets a Keras archive: the architecture as
        JSON, the weights as safetensors and the run (see
        `epochal.keras.saving`); any other path a checkpoint directory of the
        run (see `epochal.Model.save`).

        Raises:
            ArgumentError: an ``.h5`` path (not available), or an existing file with ``overwrite=False``.
        """
        from epochal.keras import saving

        return saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath: str | os.PathLike[str], overwrite: bool = True) -> Path:
        """Saves only the weights, as a checkpoint directory."""
        if not overwrite and Path(filepath).exists():
            raise ArgumentError(f"save_weights: {str(filepath)!r} exists and overwrite=False")
        return self._face().save_weights(filepath)

    def load_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Loads weights saved by `save_weights`, `save`, or inside a ``.keras`` archive."""
        if str(filepath).endswith(".keras"):
            from epochal.keras import saving

            saving.load_weights_from_archive(self, filepath)
            return
        self._face().load_weights(filepath)

    def get_weights(self) -> list[np.ndarray]:
        """Every parameter and buffer as numpy arrays."""
        return [t.detach().cpu().numpy().copy() for t in self.state_dict().values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets the values of ``get_weights``'s arrays, in the same order and shapes."""
        self._face().set_weights(weights)

    def count_params(self) -> int:
        """The number of parameters (trainable and not), as Keras's ``count_params``.

        Raises:
            ArgumentError: the model is not built yet (layers waiting for their input shape).
        """
        if not is_built(self):
            raise ArgumentError(
                f"count_params: the model {self.name!r} is not built yet, so some layers have "
                "no weights. Give the first layer an input shape (keras.Input(shape=...)), call "
                "model.build(input_shape), or fit it first"
            )
        return sum(p.numel() for p in self.parameters())

    def summary(
        self, line_length: int | None = None, *, print_fn: Callable[[str], Any] | None = None
    ) -> str:
        """Prints (and returns) a table of the layers, their output shapes and parameter counts."""
        from epochal.summary import summarize

        shape = self._fit_input_shape()
        text = summarize(self, shape, line_length=line_length or 80)
        text = text.replace(f'Model: "{type(self).__name__}"', f'Model: "{self.name}"', 1)
        (print_fn or print)(text)
        return text

    # -- configuration -------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The model's constructor arguments (as given, defaults filled in), Keras's ``get_config``.

        Raises:
            ArgumentError: the arguments could not be recorded (extra positional ``*args``).
        """
        args = init_args(self)
        if args is None:
            raise ArgumentError(
                f"{type(self).__name__}: its constructor arguments could not be recorded "
                "(extra positional arguments); override get_config() and from_config()"
            )
        return args

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], custom_objects: Mapping[str, Any] | None = None
    ) -> Any:
        """A new model from `get_config`'s dict (a functional or sequential config too).

        Args:
            config: what `get_config` returned.
            custom_objects: classes of custom layers by name (see `epochal.keras.saving`).
        """
        from epochal.keras import _serialize

        with _serialize.custom_object_scope(custom_objects):
            return _serialize.model_from_config(cls, config, custom_objects)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as a JSON string (Keras's ``to_json``); `model_from_json` rebuilds it."""
        from epochal.keras import saving

        return saving.to_json(self, **kwargs)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


class Sequential(Model):
    """Keras's ``Sequential``: layers applied one after the other.

    The first entry may be ``keras.Input(shape=...)`` (or the first layer may
    take ``input_shape=``): the layers are then built at once; otherwise they
    are built on the first batch. Layers are named as Keras names them:
    ``dense``, ``dense_1``, ... (an explicit ``name=`` wins).

    Args:
        layers: the layers, first to last (any ``torch.nn.Module`` may be one).
        name: the model's name (shown by ``summary``).
        device: where to train; defaults to CUDA when available.

    Raises:
        ArgumentTypeError: ``layers`` is not a list of modules, or ``name`` not a str.

    Example:
        >>> model = Sequential([keras.Input(shape=(10,)), layers.Dense(1, activation="sigmoid")])
        >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    """

    def __init__(
        self,
        layers: Sequence[Any] | None = None,
        name: str | None = None,
        *,
        device: str | torch.device | None = None,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise ArgumentTypeError(
                f"Sequential: expected `name` to be a str or None. Received: name={name!r}"
            )
        if layers is None:
            layers = []
        if isinstance(layers, nn.Module) or not isinstance(layers, (list, tuple)):
            raise ArgumentTypeError(
                "Sequential: expected `layers` to be a list of layers. "
                f"Received: layers={layers!r} of type {type(layers).__name__}"
            )
        super().__init__(name=name, device=device)
        stack = SequentialModule([_as_layer(layer) for layer in layers], name=name)
        # The stack's layers are this model's children: one registry, the same state_dict keys.
        self._modules = stack._modules
        self.__dict__["_stack"] = stack
        self.__dict__["_graph_io"] = None
        self._trace()

    _stack: SequentialModule

    @property
    def module(self) -> SequentialModule:
        """The layer stack (a `epochal.layers.SequentialModule` sharing this model's layers)."""
        return self._stack

    def forward(self, x: Any, training: bool | None = None) -> Any:
        if training is not None:
            return run_in_mode(self, training, self.forward, x)
        for layer in self._modules.values():
            x = layer(x)  # type: ignore[misc]  # _modules values are never None here
        return x

    # -- the symbolic graph (model.inputs, layer.output) ---------------------------------
    def _trace(self, shape: Any = None) -> None:
        """Records the layers' calls on a ``keras.Input`` of the input shape, as Keras's
        Sequential does, for ``model.inputs``/``outputs`` and each ``layer.output``.

        Skipped (silently) when the shape is unknown or a layer cannot be called
        symbolically (a plain torch module with weights): the model works the same.
        """
        self._untrace()
        shape = shape if shape is not None else self._stack.input_shape
        if shape is None or not self._modules:
            return
        inputs = Input(batch_shape=(None, *shape), dtype=self._stack.input_dtype)
        recorded: list[tuple[nn.Module, Any]] = []
        x = inputs
        try:
            for layer in self.layers:
                calls = layer.__dict__.get("_keras_calls", [])
                count = len(calls)
                x = layer(x)
                calls = layer.__dict__.get("_keras_calls", [])
                recorded.extend((layer, node) for node in calls[count:])
        except Exception:
            for layer, node in recorded:
                layer.__dict__["_keras_calls"].remove(node)
            return
        self.__dict__["_graph_io"] = (inputs, x, recorded)

    def _untrace(self) -> None:
        traced = self.__dict__.get("_graph_io")
        if traced is not None:
            for layer, node in traced[2]:
                calls = layer.__dict__.get("_keras_calls", [])
                if node in calls:
                    calls.remove(node)
        self.__dict__["_graph_io"] = None

    def _graph(self) -> tuple[KerasTensor, Any]:
        if self.__dict__.get("_graph_io") is None:
            self._trace(self._fit_input_shape())
        traced = self.__dict__.get("_graph_io")
        if traced is None:
            raise ArgumentError(
                f"Sequential {self.name!r} has no defined inputs yet: give keras.Input(shape=...) "
                "first (or input_shape= to the first layer), call build(), or fit it"
            )
        return traced[0], traced[1]

    @property
    def inputs(self) -> list[KerasTensor]:
        """The model's symbolic input, in a list (Keras's ``model.inputs``)."""
        return [self._graph()[0]]

    @property
    def outputs(self) -> list[Any]:
        """The model's symbolic output, in a list (Keras's ``model.outputs``)."""
        return [self._graph()[1]]

    @property
    def input(self) -> Any:
        """The model's symbolic input (Keras's ``model.input``)."""
        return self._graph()[0]

    @property
    def output(self) -> Any:
        """The model's symbolic output (Keras's ``model.output``)."""
        return self._graph()[1]

    @property
    def output_shape(self) -> Any:
        """The output shape, batch axis included (None where variable)."""
        return self._graph()[1].shape

    def sequential_layers(self) -> list[nn.Module]:
        """The layers in call order (how the training loop finds a final activation)."""
        return self.layers

    @property
    def activation_name(self) -> str | None:
        """The last layer's ``activation_name``."""
        return self._stack.activation_name

    def forward_preactivation(self, x: Any) -> Any:
        """The output before the last layer's activation."""
        return self._stack.forward_preactivation(x)

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        """The input shape with the batch axis (None), if known."""
        shape = self._stack.input_shape
        return None if shape is None else (None, *shape)

    @property
    def input_dtype(self) -> torch.dtype | None:
        """The dtype declared by a first ``keras.Input``, if any."""
        return self._stack.input_dtype

    def add(self, layer: Any) -> None:
        """Appends a layer (Keras's ``model.add``); builds it now if the input shape is known.

        Raises:
            ArgumentTypeError: ``layer`` is not a module.
            ArgumentError: its name is taken, it does not fit, or training already started.
        """
        layer = _as_layer(layer)
        trainer = self.__dict__.get("_native")
        if trainer is not None and trainer._engine is not None:
            raise ArgumentError(
                "Cannot add layers after training started: the optimizer already holds the "
                "parameters. Add layers before the first fit, or compile again after adding"
            )
        self._stack.add(layer)
        if "_keras_mode" in self.__dict__:
            layer.train(self.training)  # the model's mode (inference by default)
        if trainer is not None:
            self.to(trainer.device)
        self._trace()

    def pop(self) -> nn.Module:
        """Removes and returns the last layer (Keras's ``model.pop``).

        Raises:
            ArgumentError: the model has no layers, or training already started.
        """
        trainer = self.__dict__.get("_native")
        if trainer is not None and trainer._engine is not None:
            raise ArgumentError(
                "Cannot pop layers after training started: compile again after changing the model"
            )
        if not self._modules:
            raise ArgumentError("pop: the Sequential model has no layers")
        key = next(reversed(self._modules))
        self._untrace()
        layer = self._modules.pop(key)
        assert layer is not None
        self._trace()
        return layer

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Builds the layers for inputs of ``input_shape`` (Keras's: batch axis first)."""
        self._stack.build(tuple(input_shape)[1:])
        self._trace()

    def summary(
        self, line_length: int | None = None, *, print_fn: Callable[[str], Any] | None = None
    ) -> str:
        """Prints (and returns) a table of the layers, their output shapes and parameter counts."""
        from epochal.summary import summarize

        shape = self._fit_input_shape()
        text = summarize(self._stack, shape, line_length=line_length or 80)
        if self._stack.name is None:
            text = text.replace('Model: "SequentialModule"', f'Model: "{self.name}"', 1)
        (print_fn or print)(text)
        return text

    def get_config(self) -> dict[str, Any]:
        """The name and each layer's config (see `epochal.keras.saving`)."""
        from epochal.keras import _serialize

        return _serialize.sequential_config(self)


def run_in_mode(module: nn.Module, training: bool, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with ``module`` in training (or inference) mode; the modes put back after."""
    modes = {sub: sub.training for sub in module.modules()}
    module.train(bool(training))
    try:
        return fn(*args)
    finally:
        for sub, mode in modes.items():
            sub.training = mode


def _as_layer(layer: Any) -> Any:
    """A ``keras.Input`` entry of a Sequential list becomes the InputLayer that made it."""
    if isinstance(layer, KerasTensor):
        node = layer._node
        if node.kind != "input":
            raise ArgumentTypeError(
                "Sequential: expected layers or a keras.Input first. Received: a symbolic "
                f"tensor {layer!r} computed by a layer; use keras.Model(inputs, outputs) for graphs"
            )
        return node.target
    return layer


def clone_model(model: Model, custom_objects: Mapping[str, Any] | None = None) -> Model:
    """A new model with ``model``'s architecture and fresh weights (Keras's ``clone_model``).

    Raises:
        ArgumentTypeError: ``model`` is not an epochal.keras model.
        ArgumentError: a layer's config cannot be recorded.
    """
    from epochal.keras import _serialize

    if not isinstance(model, Model):
        raise ArgumentTypeError(
            f"clone_model: expected an epochal.keras Model. Received: {type(model).__name__}"
        )
    with _serialize.custom_object_scope(custom_objects):
        clone = _serialize.model_from_entry(_serialize.model_entry(model), custom_objects)
    assert isinstance(clone, Model)
    return clone


def load_model(
    filepath: Any,
    custom_objects: Mapping[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
) -> Any:
    """The model saved in a ``.keras`` file (see `epochal.keras.saving.load_model`)."""
    from epochal.keras import saving

    return saving.load_model(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )


def save_model(model: Model, filepath: Any, overwrite: bool = True) -> Path:
    """Saves ``model`` (see `epochal.keras.saving.save_model`)."""
    from epochal.keras import saving

    return saving.save_model(model, filepath, overwrite=overwrite)


def model_from_json(json_string: str, custom_objects: Mapping[str, Any] | None = None) -> Any:
    """A new model from ``model.to_json()`` (see `epochal.keras.saving.model_from_json`)."""
    from epochal.keras import saving

    return saving.model_from_json(json_string, custom_objects=custom_objects)


# Keras names this module does not have raise an error saying what to do instead.
from epochal.keras._missing import module_getattr  # noqa: E402

__getattr__ = module_getattr("keras.models")
