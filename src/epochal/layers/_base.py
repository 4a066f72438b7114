"""`Layer`, the base of epochal's Keras-style layers, and lazy building.

A layer with weights may be *lazy*: given no ``input_shape`` it has no
parameters until its first call, when it reads its input channel count from
the input (the last axis, channels-last) and creates them. The check is a
single attribute test per call. A lazy layer also builds itself when a state
dict is loaded into it, from the shapes in that state dict, so a checkpoint
loads into a freshly constructed model.

Weights are initialized in Keras layout (see :mod:`epochal.initializers`), on
the CPU with torch's global RNG, then copied to torch's layout and to the
device and dtype of the first input. Initializing on the CPU makes the initial
weights the same whatever device the model later runs on.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from epochal import initializers
from epochal.errors import ArgumentError
from epochal.layers import _checks as checks
from epochal.layers._config import init_args, record_init_args

Shape = checks.Shape

# Set by epochal.keras._symbolic: ``(is_symbolic(args, kwargs), symbolic_call(module, args, kwargs))``.
# A call on keras.Input's symbolic tensors records a graph node instead of computing.
SYMBOLIC_HOOK: tuple[Callable[..., bool], Callable[..., Any]] | None = None


def snake_case(name: str) -> str:
    """Keras's automatic layer name for a class name: ``MaxPooling2D`` -> ``max_pooling2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def join_parts(*parts: str) -> str:
    """The non-empty parts joined by commas, for ``extra_repr``."""
    return ", ".join(p for p in parts if p)


class SymbolicAttribute:
    """Keras's ``layer.output``/``layer.input``: the tensors of the layer's one symbolic call.

    Still an ordinary attribute for a layer that sets its own ``self.output = ...``
    (a value or a sublayer of that name is returned as set).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        for table in ("__dict__", "_modules", "_parameters", "_buffers"):
            values = obj.__dict__ if table == "__dict__" else obj.__dict__.get(table, {})
            if self.kind in values:
                return values[self.kind]
        node = symbolic_node(obj, self.kind)
        if self.kind == "output" or node.kind == "input":
            return node.outputs
        return node.args[0] if len(node.args) == 1 and not node.kwargs else node.args

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.kind] = value


class Layer(nn.Module):
    """Base class of the layers: a Keras name, an optional input shape, lazy weights.

    Subclasses with weights set ``self.built = False`` when they were given no
    input shape, and implement :meth:`_build` and :meth:`_channels_from_state`.
    """

    # Which input axis holds the channels a lazy layer builds from.
    _channel_axis: int = -1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Every layer records its constructor arguments: get_config() for free.
        record_init_args(cls)

    def get_config(self) -> dict[str, Any]:
        """The layer's constructor arguments (as given, defaults filled in), Keras's ``get_config``.

        ``type(layer).from_config(layer.get_config())`` makes the same layer
        with new weights. Override it (with `from_config`) for a layer whose
        arguments are not JSON-able values, to save it in a ``.keras`` file.

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
    def from_config(cls, config: Mapping[str, Any]) -> Layer:
        """A new layer from `get_config`'s dict (Keras's ``from_config``)."""
        return cls(**config)

    def __init__(self, *, name: str | None, input_shape: Any, owner: str) -> None:
        super().__init__()
        self.name: str | None = checks.layer_name(owner, name)
        self.input_shape: Shape | None = checks.shape(owner, "input_shape", input_shape)
        self.built = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # The eager path pays one type test; anything but a plain tensor first is looked at.
        # Symbolic calls come first, so a `training=` argument is recorded in the graph.
        if (not args or type(args[0]) is not Tensor) and SYMBOLIC_HOOK is not None:
            is_symbolic, symbolic_call = SYMBOLIC_HOOK
            if is_symbolic(args, kwargs):
                return symbolic_call(self, args, kwargs)
        if kwargs and "training" in kwargs and not _takes_training(type(self)):
            # Keras's `layer(x, training=...)` on a layer whose forward has no such argument.
            return call_in_mode(self, kwargs.pop("training"), args, kwargs)
        # Looked up at each call: torch.fx's tracer patches nn.Module.__call__ to keep layers whole.
        return nn.Module.__call__(self, *args, **kwargs)

    @property
    def trainable(self) -> bool:
        """Whether the layer's weights train (Keras's ``layer.trainable``); False freezes them."""
        return bool(self.__dict__.get("_trainable", True))

    @trainable.setter
    def trainable(self, value: bool) -> None:
        # Recorded, so weights a lazy layer builds later follow it at the next fit.
        self.__dict__["_trainable"] = bool(value)
        self.requires_grad_(bool(value))

    @property
    def weights(self) -> list[Tensor]:
        """Every weight of the layer (parameters, then buffers), as Keras's ``layer.weights``."""
        return [*self.parameters(), *self.buffers()]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The weights the optimizer updates."""
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """The weights the optimizer leaves alone (frozen parameters and buffers)."""
        return [*(p for p in self.parameters() if not p.requires_grad), *self.buffers()]

    output = SymbolicAttribute("output")
    input = SymbolicAttribute("input")

    def _build(
        self, channels: int, *, device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        """Create the weights for ``channels`` input channels and set ``built``."""
        raise NotImplementedError

    def _channels_from_state(self, state_dict: Mapping[str, Any], prefix: str) -> int | None:
        """The input channel count implied by a state dict, or None if it has no weights."""
        return None

    def _build_from_input(self, x: Tensor) -> None:
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        # The first call may come from predict() under inference_mode; parameters made
        # there would be inference tensors that training cannot use.
        with torch.inference_mode(False):
            self._build(
                int(x.shape[self._channel_axis]), device=x.device, dtype=dtype, initialize=True
            )

    def _build_from_shape(self, input_shape: Shape, owner: str) -> None:
        # `input_shape` has no batch axis; `_channel_axis` counts it when non-negative.
        axis = self._channel_axis
        index = axis - 1 if axis > 0 else axis
        channels = input_shape[index] if -len(input_shape) <= index < len(input_shape) else None
        if channels is None:
            raise ArgumentError(
                f"{owner}: expected the channel axis of `input_shape` to have a known size. "
                f"Received: input_shape={input_shape!r}"
            )
        self._build(
            channels, device=torch.device("cpu"), dtype=torch.get_default_dtype(), initialize=True
        )

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
            channels = self._channels_from_state(state_dict, prefix)
            if channels is not None:
                # Shapes only: the values come from the state dict, so draw no random numbers.
                with torch.inference_mode(False):
                    self._build(
                        channels,
                        device=torch.device("cpu"),
                        dtype=torch.get_default_dtype(),
                        initialize=False,
                    )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def _describe(self) -> str:
        return f"name={self.name!r}" if self.name is not None else ""

    def extra_repr(self) -> str:
        return join_parts(self._describe(), "" if self.built else "unbuilt")


_TAKES_TRAINING: dict[type, bool] = {}


def _takes_training(cls: type) -> bool:
    """Whether ``cls.forward`` accepts a ``training`` keyword (by name or ``**kwargs``)."""
    known = _TAKES_TRAINING.get(cls)
    if known is None:
        params = inspect.signature(cls.forward).parameters  # type: ignore[attr-defined]
        known = "training" in params or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
        )
        _TAKES_TRAINING[cls] = known
    return known


def call_in_mode(
    module: nn.Module, training: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``module(*args, **kwargs)`` in training (True) or inference (False) mode; None keeps the mode.

    The module and its sublayers take the mode for this call only, as Keras's
    ``training`` argument reaches every layer inside the call.
    """
    if training is None or bool(training) == module.training:
        return module(*args, **kwargs)
    modes = [(sub, sub.training) for sub in module.modules()]
    module.train(bool(training))
    try:
        return module(*args, **kwargs)
    finally:
        for sub, mode in modes:
            sub.training = mode


def symbolic_node(module: nn.Module, what: str) -> Any:
    """The one recorded symbolic call of ``module`` (for ``layer.output``/``layer.input``)."""
    calls = module.__dict__.get("_keras_calls", [])
    name = getattr(module, "name", None) or type(module).__name__
    if not calls:
        raise ArgumentError(
            f"Layer {name!r} has no {what} yet: it was not called on a keras.Input "
            "(symbolic) tensor"
        )
    if len(calls) > 1:
        raise ArgumentError(
            f"Layer {name!r} has {len(calls)} {what}s: it was called {len(calls)} times "
            "(a shared layer); read the tensors its calls returned instead"
        )
    return calls[0]


def make_weight(
    keras_shape: tuple[int, ...],
    init: initializers.Initializer,
    to_torch: Callable[[Tensor], Tensor],
    *,
    device: torch.device,
    dtype: torch.dtype,
    initialize: bool,
) -> nn.Parameter:
    """A parameter initialized in Keras layout, then laid out for torch by ``to_torch``."""
    # On the CPU whatever the default device, so the CPU RNG draws the same weights anywhere.
    kernel = torch.empty(keras_shape, dtype=torch.get_default_dtype(), device="cpu")
    if initialize:
        with torch.no_grad():
            init(kernel)
    return nn.Parameter(to_torch(kernel).to(device=device, dtype=dtype))


def channels_from(state_dict: Mapping[str, Any], key: str, axis: int) -> int | None:
    """``state_dict[key].shape[axis]`` if the key is there."""
    tensor = state_dict.get(key)
    return None if tensor is None else int(tensor.shape[axis])


class ActivationMixin:
    """The final-activation protocol the training loop reads.

    ``activation_name`` is the activation's name (``"sigmoid"``, ``"softmax"``,
    ``None`` for the identity, ...), and ``forward_preactivation(x)`` is the
    output before the activation, so a loss that wants logits can use it
    instead of undoing a sigmoid/softmax.
    """

    activation_name: str | None
    _activation_fn: Callable[[Tensor], Tensor] | None

    def forward_preactivation(self, x: Tensor) -> Tensor:
        """The layer's output before its activation."""
        raise NotImplementedError
