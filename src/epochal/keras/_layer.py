"""`Layer`: Keras's subclassable layer (``build``, ``call``, ``add_weight``) as a ``torch.nn.Module``.

A subclass writes Keras's methods; epochal runs them as torch does:

- ``build(input_shape)`` runs once, at the first call, with the input's shape
  (a tuple, a list of tuples for a list of inputs), before ``call``. Weights
  made there are initialized on the CPU with torch's global generator (the
  run's during ``fit``), then moved to the inputs' device and float dtype.
- ``call(inputs, training=None, mask=None)`` is the forward pass; ``training``
  is the module's train/eval mode unless the caller passes it.
- ``add_weight(...)`` returns a `Variable`, a ``torch.nn.Parameter`` registered
  under the attribute it is assigned to (``self.w = self.add_weight(...)``
  is the parameter ``w``). Non-trainable weights are parameters with
  ``requires_grad=False``: the state dict, hence every epochal checkpoint,
  holds them either way.
- A checkpoint loaded before the first call waits in the layer and is
  taken by the weights ``build`` creates, so a lazy custom layer resumes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from epochal import initializers
from epochal.errors import ArgumentError, ArgumentTypeError, CheckpointError
from epochal.keras._variable import Variable
from epochal.keras.ops._convert import CALL_DEVICE, dtype_name, to_dtype
from epochal.layers import _base
from epochal.layers._base import Layer as _BaseLayer
from epochal.layers._base import snake_case
from epochal.layers._masking import MASK_ATTRIBUTE, get_mask, set_mask

_KERAS_KWARGS = ("input_shape", "input_dim", "batch_input_shape", "batch_size")


def _shape_of(value: Any) -> Any:
    """Keras's ``input_shape`` for a call's first argument: a tuple, or lists/dicts of them."""
    if isinstance(value, Tensor) or hasattr(value, "shape"):
        return tuple(value.shape)
    if isinstance(value, (list, tuple)):
        return [_shape_of(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _shape_of(v) for k, v in value.items()}
    return None


def _masks_of(value: Any) -> Any:
    """The Keras mask(s) carried by a call's first argument: one, a list (None for unmasked), or None."""
    if type(value) is Tensor:
        return value.__dict__.get(MASK_ATTRIBUTE) if value.__dict__ else None
    if isinstance(value, (list, tuple)):
        masks = [get_mask(v) for v in value]
        return masks if any(m is not None for m in masks) else None
    return get_mask(value)


def _first_tensor(value: Any) -> Tensor | None:
    if isinstance(value, Tensor):
        return value
    items = (
        value.values()
        if isinstance(value, Mapping)
        else value
        if isinstance(value, (list, tuple))
        else ()
    )
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


def _as_tensors(value: Any) -> Any:
    """numpy arrays among the inputs become tensors, as Keras converts a layer's inputs."""
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(value))
        return tensor.float() if tensor.dtype == torch.float64 else tensor
    if isinstance(value, list):
        return [_as_tensors(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_as_tensors(v) for v in value)
    return value


class Layer(_BaseLayer):
    """Keras's base layer, to subclass: ``__init__``, ``build(input_shape)``, ``call(inputs, ...)``.

    Args:
        activity_regularizer: a regularizer of the layer's output, added to the training loss.
        trainable: whether the layer's weights train.
        dtype: the weights' dtype (default: the inputs' float dtype).
        autocast: accepted for Keras compatibility.
        name: the layer's name.
        **kwargs: Keras's ``input_shape``, ``input_dim``, ``batch_input_shape``, ``batch_size``.

    Raises:
        ArgumentTypeError: an argument Keras's layers do not take.

    Example:
        >>> from epochal import keras
        >>> class Linear(keras.layers.Layer):
        ...     def __init__(self, units=32, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.units = units
        ...     def build(self, input_shape):
        ...         self.w = self.add_weight(shape=(input_shape[-1], self.units))
        ...         self.b = self.add_weight(shape=(self.units,), initializer="zeros")
        ...     def call(self, inputs):
        ...         return keras.ops.matmul(inputs, self.w) + self.b
        >>> Linear(4)(torch.ones(2, 3)).shape
        torch.Size([2, 4])
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            cls.build = _build_wrapper(cls.__dict__["build"])  # type: ignore[method-assign]
        call = cls.__dict__.get("call")
        if call is not None:
            params = inspect.signature(call).parameters
            cls._call_takes_training = "training" in params or any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
            )
            cls._call_takes_mask = "mask" in params
        cls._own_compute_mask = cls.compute_mask is not Layer.compute_mask

    _call_takes_training = False
    _call_takes_mask = False
    _own_compute_mask = False
    #: Keras's flag: the input's mask passes to the output unchanged (see `compute_mask`).
    supports_masking = False

    def __init__(
        self,
        *,
        activity_regularizer: Any = None,
        trainable: bool = True,
        dtype: Any = None,
        autocast: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        unknown = sorted(set(kwargs) - set(_KERAS_KWARGS))
        if unknown:
            raise ArgumentTypeError(
                f"{owner}: unexpected keyword argument(s) {', '.join(unknown)}. Expected the layer's "
                f"own arguments or: {', '.join(('activity_regularizer', 'trainable', 'dtype', 'name', *_KERAS_KWARGS))}"
            )
        input_shape = kwargs.get("input_shape")
        if kwargs.get("input_dim") is not None:
            input_shape = (kwargs["input_dim"],)
        if kwargs.get("batch_input_shape") is not None:
            input_shape = tuple(kwargs["batch_input_shape"])[1:]
        super().__init__(name=name or None, input_shape=input_shape, owner=owner)
        if name is None:
            self.name = snake_case(owner)
        self.built = False
        self._weight_dtype = to_dtype(dtype, owner)
        self._trainable = bool(trainable)
        self.autocast = autocast
        self._auto_names: set[str] = set()
        self._pending_state: dict[str, Tensor] = {}
        self._build_target: tuple[torch.device, torch.dtype] | None = None
        # The regularization protocol of epochal.layers (a penalty per parameter path, the
        # activity penalty of the last training call); always declared, for add_loss().
        self._weight_regularizers: dict[str, Any] = _Declared()
        self._weight_constraints: dict[str, Any] = {}
        self.activity_regularizer = _regularizer(
            owner, "activity_regularizer", activity_regularizer
        )
        self._activity_penalty: Tensor | None = None
        self._last_losses: list[Tensor] = []

    # -- Keras's methods ----------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create the weights for inputs of ``input_shape``; subclasses override it (the default creates none)."""
        self.built = True

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs)")

    def add_weight(
        self,
        shape: Any = None,
        initializer: Any = None,
        dtype: Any = None,
        trainable: bool = True,
        autocast: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        aggregation: str = "none",
        overwrite_with_gradient: bool = False,
        name: str | None = None,
    ) -> Variable:
        """A new weight of the layer, a `Variable` (a ``torch.nn.Parameter``).

        Args:
            shape: its shape (``()`` for a scalar; default ``()``).
            initializer: a name from `epochal.initializers` / ``keras.initializers``, a callable
                filling a tensor, or None (``"glorot_uniform"`` for floats, zeros otherwise).
            dtype: its dtype (default: the layer's, else the inputs' float dtype).
            trainable: whether the optimizer updates it (False: ``requires_grad=False``, still saved).
            autocast: accepted for Keras compatibility.
            regularizer: a penalty on it added to the training loss (``keras.regularizers``).
            constraint: applied to it after each optimizer step (``keras.constraints``).
            aggregation: accepted for Keras compatibility.
            overwrite_with_gradient: only False is supported.
            name: its Keras name (default ``"variable"``, numbered).

        Returns:
            The weight, registered with the layer (under the attribute it is assigned to).

        Raises:
            ArgumentTypeError: a shape that is not a tuple of ints, or an unusable initializer.
        """
        owner = f"{type(self).__name__}.add_weight"
        if "_auto_names" not in self.__dict__:
            raise ArgumentError(
                f"{owner}: call super().__init__(**kwargs) in __init__ before add_weight()"
            )
        sizes = _weight_shape(owner, shape)
        device, default = self._build_target or (torch.device("cpu"), torch.get_default_dtype())
        target = to_dtype(dtype, "add_weight") or self._weight_dtype or default
        if initializer is None:
            initializer = "glorot_uniform" if target.is_floating_point else "zeros"
        init = _initializer(owner, initializer)
        # On the CPU in the default dtype, so the same values come out on any device.
        value = torch.zeros(
            sizes, dtype=torch.get_default_dtype() if target.is_floating_point else target
        )
        with torch.no_grad(), torch.inference_mode(False):
            init(value)
            variable = Variable(
                value.to(device=device, dtype=target), trainable and self._trainable, name=name
            )
        variable.__dict__["_keras_trainable"] = bool(trainable)
        key = self._free_name(name or "variable")
        self.register_parameter(key, variable)
        self._auto_names.add(key)
        if regularizer is not None:
            self._weight_regularizers[key] = _regularizer(owner, "regularizer", regularizer)
        if constraint is not None:
            self._weight_constraints[key] = _constraint(owner, constraint)
        return variable

    def add_variable(
        self,
        shape: Any,
        initializer: Any,
        dtype: Any = None,
        trainable: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> Variable:
        """`add_weight` with Keras 3's ``add_variable`` argument order."""
        return self.add_weight(
            shape=shape,
            initializer=initializer,
            dtype=dtype,
            trainable=trainable,
            name=name,
            **kwargs,
        )

    def add_loss(self, loss: Any) -> None:
        """Add ``loss`` (a scalar tensor) to the training loss of the step running this call."""
        value = loss() if callable(loss) else torch.as_tensor(loss)
        self._last_losses.append(value)
        if self.training and torch.is_grad_enabled():
            penalty = self._activity_penalty
            self._activity_penalty = value if penalty is None else penalty + value

    @property
    def losses(self) -> list[Tensor]:
        """The losses of the last call (``add_loss``) and the weight penalties now."""
        out = list(self._last_losses)
        for key, regularizer in self._weight_regularizers.items():
            out.append(regularizer(self.get_parameter(key)))
        for child in self.children():
            out.extend(getattr(child, "losses", []))
        return out

    # -- weights ------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        """Whether the layer's weights train; setting it freezes or unfreezes them all."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for variable in self.parameters():
            keep = getattr(variable, "_keras_trainable", True)
            variable.requires_grad_(bool(value) and keep)
        for module in self.modules():
            if isinstance(module, Layer) and module is not self:
                module._trainable = bool(value)

    @property
    def weights(self) -> list[Tensor]:
        """Every weight of the layer and its sublayers (parameters, then buffers)."""
        return [*self.parameters(), *self.buffers()]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The weights the optimizer updates."""
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """The weights the optimizer leaves alone (frozen parameters and buffers)."""
        return [*(p for p in self.parameters() if not p.requires_grad), *self.buffers()]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self) -> list[np.ndarray]:
        """The weights as numpy arrays, in `weights` order."""
        return [w.detach().cpu().numpy() for w in self.weights]

    def set_weights(self, weights: list[Any]) -> None:
        """Overwrite the weights (numpy arrays or tensors, in `weights` order).

        Raises:
            ArgumentError: the count or a shape differs (nothing is changed then).
        """
        own = self.weights
        if len(weights) != len(own):
            raise ArgumentError(
                f"{type(self).__name__}.set_weights: expected {len(own)} arrays. Received {len(weights)}"
            )
        values = [
            torch.as_tensor(np.asarray(w) if not isinstance(w, Tensor) else w) for w in weights
        ]
        for i, (w, v) in enumerate(zip(own, values, strict=True)):
            if tuple(w.shape) != tuple(v.shape):
                raise ArgumentError(
                    f"{type(self).__name__}.set_weights: weight {i} has shape {tuple(w.shape)}. "
                    f"Received an array of shape {tuple(v.shape)}"
                )
        with torch.no_grad():
            for w, v in zip(own, values, strict=True):
                w.copy_(v.to(device=w.device, dtype=w.dtype))

    @property
    def dtype(self) -> str:
        """The weights' dtype name (``"float32"``)."""
        return dtype_name(self._weight_dtype or torch.get_default_dtype())

    @property
    def variable_dtype(self) -> str:
        """As `dtype` (Keras's name for the weights' dtype)."""
        return self.dtype

    @property
    def compute_dtype(self) -> str:
        """As `dtype`: mixed precision is ``compile(precision=...)``'s, not a layer's."""
        return self.dtype

    def _free_name(self, base: str) -> str:
        key, count = base, 0
        while (
            key in self._parameters
            or key in self._buffers
            or key in self._modules
            or key in self.__dict__
        ):
            count += 1
            key = f"{base}_{count}"
        return key

    def __setattr__(self, name: str, value: Any) -> None:
        # `self.w = self.add_weight(...)`: the parameter takes the attribute's name.
        if isinstance(value, Variable) and not name.startswith("_"):
            params = self.__dict__.get("_parameters", {})
            old = next((k for k, p in params.items() if p is value and k != name), None)
            if old is not None and old in self._auto_names:
                del params[old]
                self._auto_names.discard(old)
                for table in (self._weight_regularizers, self._weight_constraints):
                    if old in table:
                        table[name] = table.pop(old)
        super().__setattr__(name, value)

    # -- calling ------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Builds on the first call, then runs ``call`` (with ``training`` from the module's mode)."""
        # The common call -- one tensor in, built, no keyword -- takes the short path: a
        # custom layer should cost little more than the torch code in its call().
        inputs = args[0] if args else None
        if type(inputs) is Tensor:
            first: Tensor | None = inputs
        else:
            if args:
                inputs = _as_tensors(inputs)
                args = (inputs, *args[1:])
            first = _first_tensor(inputs) if args else _first_tensor(list(kwargs.values()))
        if not self.built:
            self._build_for(inputs if args else next(iter(kwargs.values()), None), first)
        training = kwargs.get("training") if kwargs else None
        if training is not None and bool(training) != self.training:
            # An explicit `training=` reaches the sublayers too, as in Keras.
            return _base.call_in_mode(self, bool(training), args, kwargs)
        if self._call_takes_training:
            if training is None:
                kwargs["training"] = self.training
        elif kwargs:
            kwargs.pop("training", None)
        state = self.__dict__
        if state["_last_losses"]:
            state["_last_losses"] = []
        device = None if first is None else first.device
        if device is not None and device.type == "meta":
            self._meta_variables()
        mask = kwargs.get("mask") if kwargs else None
        if mask is None and args:
            mask = _masks_of(inputs)
            if mask is not None and self._call_takes_mask:
                kwargs["mask"] = mask  # Keras hands call() the inputs' mask
        token = CALL_DEVICE.set(device)
        try:
            outputs = self.call(*args, **kwargs)
        finally:
            CALL_DEVICE.reset(token)
        if mask is not None or self._own_compute_mask:
            out_mask = self.compute_mask(inputs, mask)
            if out_mask is not None and isinstance(outputs, Tensor):
                set_mask(outputs, out_mask)
        if (
            state.get("activity_regularizer") is not None
            and self.training
            and torch.is_grad_enabled()
        ):
            self.add_loss(self.activity_regularizer(outputs))
        return outputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The output's mask: the input's when `supports_masking` is True, else None (Keras's default)."""
        return mask if self.supports_masking else None

    def _meta_variables(self) -> None:
        # A functional model infers shapes by running the layer with meta tensors in place of
        # its weights (torch.func.functional_call, restored afterwards): give them the
        # Variable methods (assign_add, ...) that call() may use.
        for key, value in list(self._parameters.items()):
            if isinstance(value, Tensor) and not isinstance(value, Variable):
                self._parameters[key] = Variable(value, value.requires_grad)

    def _build_for(self, inputs: Any, first: Tensor | None) -> None:
        device = first.device if first is not None else torch.device("cpu")
        dtype = (
            first.dtype
            if first is not None and first.is_floating_point()
            else torch.get_default_dtype()
        )
        # The first call may come from predict() under inference_mode; weights made there
        # would be inference tensors that training cannot use.
        self._build_target = (device, dtype)
        try:
            with torch.inference_mode(False):
                self.build(_shape_of(inputs))
        finally:
            self._build_target = None

    def _take_pending_state(self) -> None:
        """Give the weights ``build`` just made the values of a checkpoint loaded before it."""
        if not self._pending_state:
            return
        pending, self._pending_state = self._pending_state, {}
        own = {**self._parameters, **self._buffers}
        missing = sorted(set(pending) - set(own))
        if missing:
            raise CheckpointError(
                f"{type(self).__name__}: the loaded state holds {', '.join(missing)}, which build() "
                f"did not create. The layer has: {', '.join(own) or 'no weights'}"
            )
        with torch.no_grad():
            for key, value in pending.items():
                target = own[key]
                if target is None or tuple(target.shape) != tuple(value.shape):
                    raise CheckpointError(
                        f"{type(self).__name__}: the loaded {key} has shape {tuple(value.shape)}, "
                        f"but build() made {None if target is None else tuple(target.shape)}"
                    )
                target.copy_(value.to(device=target.device, dtype=target.dtype))

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        if not self.built:
            # Weights build() has not made yet: keep their values until it runs.
            own = {**self._parameters, **self._buffers}
            for key, value in state_dict.items():
                if key.startswith(prefix):
                    local = key[len(prefix) :]
                    if "." not in local and local not in own:
                        self._pending_state[local] = value.detach().clone()
            state_dict = {
                k: v
                for k, v in state_dict.items()
                if k[len(prefix) :] not in self._pending_state or not k.startswith(prefix)
            }
        nn.Module._load_from_state_dict(
            self,
            state_dict,
            prefix,
            local_metadata,
            strict,
            missing_keys,
            unexpected_keys,
            error_msgs,
        )

    # -- config -------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Keras's base config (``name``, ``trainable``, ``dtype``) and the constructor's arguments.

        Override it (with `from_config`) when the constructor takes values a
        JSON file cannot hold, as in Keras.
        """
        config: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
        }
        config.update(super().get_config())
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Layer:
        """A new layer from `get_config`'s dict.

        ``name``, ``trainable`` and ``dtype`` are set after construction when the
        subclass's ``__init__`` does not take them (no ``**kwargs``).
        """
        config = dict(config)
        params = inspect.signature(cls.__init__).parameters
        open_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        later = {
            k: config.pop(k)
            for k in ("name", "trainable", "dtype")
            if k in config and not open_kwargs and k not in params
        }
        layer = cls(**config)
        if "name" in later:
            layer.name = later["name"]
        if "trainable" in later:
            layer.trainable = later["trainable"]
        return layer

    def _describe(self) -> str:
        return f"name={self.name!r}"


class _Declared(dict):
    """A layer's regularizers, counted as declared even when empty: ``add_loss`` may add a penalty."""

    def __bool__(self) -> bool:
        return True


def _build_wrapper(build: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(build)
    def wrapper(self: Layer, input_shape: Any = None, *args: Any, **kwargs: Any) -> Any:
        out = build(self, input_shape, *args, **kwargs)
        self.built = True
        self._take_pending_state()
        return out

    return wrapper


def _weight_shape(owner: str, shape: Any) -> tuple[int, ...]:
    if shape is None:
        return ()
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, (tuple, list, torch.Size)) and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        return tuple(int(d) for d in shape)
    raise ArgumentTypeError(
        f"{owner}: expected `shape` to be a tuple of non-negative ints. Received: shape={shape!r}"
    )


def _initializer(owner: str, initializer: Any) -> Callable[[Tensor], Any]:
    if isinstance(initializer, (int, float)) and not isinstance(initializer, bool):
        constant = float(initializer)
        return lambda t: t.fill_(constant)
    if isinstance(initializer, str) or callable(initializer):
        try:
            return initializers.get(initializer)
        except (ArgumentError, ArgumentTypeError) as error:
            raise type(error)(f"{owner}: `initializer`: {error}") from None
    raise ArgumentTypeError(
        f"{owner}: expected `initializer` to be a name, a callable or a number. "
        f"Received: initializer={initializer!r}"
    )


def _regularizer(owner: str, argument: str, value: Any) -> Any:
    if value is None:
        return None
    from epochal.keras import regularizers  # keras.regularizers imports the layers

    try:
        return regularizers.get(value)
    except (ArgumentError, ArgumentTypeError) as error:
        raise type(error)(f"{owner}: `{argument}`: {error}") from None


def _constraint(owner: str, value: Any) -> Any:
    from epochal.keras import constraints

    try:
        return constraints.get(value)
    except (ArgumentError, ArgumentTypeError) as error:
        raise type(error)(f"{owner}: `constraint`: {error}") from None
