"""Layers that wrap a function or another layer: `Lambda`, `TimeDistributed`, `Bidirectional`."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from epochal.errors import ArgumentError, ArgumentTypeError, DataError
from epochal.layers._base import Layer, Shape, join_parts
from epochal.layers._masking import get_mask, pass_mask, set_mask


class Lambda(Layer):
    """Wraps a function of tensors as a layer: ``Lambda(lambda x: x ** 2)``.

    The function runs on the layer's input (a tensor, or the list a layer
    receives) with ``arguments`` as keyword arguments. It may use torch
    functions or ``keras.ops``. A ``torch.nn.Module`` can be wrapped the same
    way (its parameters then train with the model).

    Args:
        function: a callable.
        output_shape: accepted for Keras compatibility (shapes are inferred).
        mask: the output's Keras mask: a function ``(inputs, input_mask) -> mask`` or a
            tensor; by default an output with the input's steps keeps the input's mask.
        arguments: keyword arguments passed to ``function``.
        name: the layer's name.

    Example:
        >>> Lambda(lambda x: x * 2)(torch.ones(2)).tolist()
        [2.0, 2.0]
    """

    def __init__(
        self,
        function: Callable[..., Any],
        output_shape: Any = None,
        mask: Any = None,
        arguments: Mapping[str, Any] | None = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Lambda")
        if not callable(function):
            raise ArgumentTypeError(
                f"Lambda: expected `function` to be callable. Received: function={function!r} "
                f"of type {type(function).__name__}"
            )
        if arguments is not None and not isinstance(arguments, Mapping):
            raise ArgumentTypeError(
                f"Lambda: expected `arguments` to be a dict or None. Received: arguments={arguments!r}"
            )
        self.function = function
        self.output_shape = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        out = self.function(x, *args, **self.arguments, **kwargs)
        if not isinstance(out, Tensor):
            return out
        if callable(self.mask):  # Keras: mask(inputs, previous_mask) gives the output's mask
            return set_mask(out, self.mask(x, get_mask(x)))
        if isinstance(self.mask, Tensor):
            return set_mask(out, self.mask)
        if isinstance(x, Tensor) and out.shape[:2] == x.shape[:2]:
            pass_mask(x, out)
        return out

    def _describe(self) -> str:
        return join_parts(
            getattr(self.function, "__name__", type(self.function).__name__), super()._describe()
        )


def _check_layer(owner: str, layer: object) -> nn.Module:
    if not isinstance(layer, nn.Module):
        raise ArgumentTypeError(
            f"{owner}: expected `layer` to be a layer (a torch.nn.Module). "
            f"Received: layer={layer!r} of type {type(layer).__name__}"
        )
    return layer


class TimeDistributed(Layer):
    """Applies ``layer`` to every step of ``(N, steps, ...)`` independently.

    The steps are folded into the batch (``(N * steps, ...)``), so the wrapped
    layer runs once, at torch speed, and shares its weights across steps.

    Args:
        layer: the layer to apply (for example ``Dense(8)`` or ``Conv2D(...)``).
        name: the layer's name.

    Example:
        >>> from epochal.layers import Dense
        >>> TimeDistributed(Dense(8))(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 5, 8])
    """

    def __init__(
        self, layer: nn.Module, *, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="TimeDistributed")
        self.layer = _check_layer("TimeDistributed", layer)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, training: bool | None = None
    ) -> Tensor:
        if x.dim() < 3:
            raise DataError(
                "TimeDistributed: expected an input of shape (batch, steps, ...). "
                f"Received: shape={tuple(x.shape)}"
            )
        batch, steps = x.shape[0], x.shape[1]
        y = self.layer(x.reshape(batch * steps, *x.shape[2:]))
        out = y.reshape(batch, steps, *y.shape[1:])
        mask = mask if mask is not None else get_mask(x)
        return set_mask(out, mask)


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy backwards, and merges their outputs.

    The backward copy is ``layer`` with ``go_backwards`` flipped and fresh
    weights (or ``backward_layer``); its sequence output is reversed back to
    the input's order before merging, as Keras does. With
    ``return_state=True`` the result is ``[output, *forward_states,
    *backward_states]``; ``initial_state`` takes the forward states then the
    backward ones.

    Args:
        layer: an `LSTM`, `GRU` or `SimpleRNN`.
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"``, or None
            (a list of both outputs).
        weights: not supported (must be None); load weights with ``set_weights``.
        backward_layer: the layer to use backwards (with ``go_backwards=True``).
        name: the layer's name.

    Example:
        >>> from epochal.layers import LSTM
        >>> Bidirectional(LSTM(4))(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 8])
    """

    def __init__(
        self,
        layer: nn.Module,
        merge_mode: str | None = "concat",
        weights: Any = None,
        backward_layer: nn.Module | None = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        owner = "Bidirectional"
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        layer = _check_layer(owner, layer)
        if not hasattr(layer, "go_backwards") or not hasattr(layer, "return_sequences"):
            raise ArgumentTypeError(
                f"{owner}: expected `layer` to be a recurrent layer (LSTM, GRU, SimpleRNN). "
                f"Received: {type(layer).__name__}"
            )
        if merge_mode not in _MERGE_MODES:
            raise ArgumentError(
                f"{owner}: expected `merge_mode` to be one of 'concat', 'sum', 'mul', 'ave', "
                f"None. Received: merge_mode={merge_mode!r}"
            )
        if weights is not None:
            raise ArgumentError(
                f"{owner}: `weights` is not supported; use set_weights after building."
            )
        self.merge_mode = merge_mode
        if backward_layer is None:
            backward: Any = copy.deepcopy(layer)
            backward.go_backwards = not getattr(layer, "go_backwards", False)
            if getattr(backward, "built", False) and hasattr(backward, "_build"):
                # A copy of built weights: redraw them, as Keras builds a new layer.
                weight = backward.rnn.weight_ih_l0
                with torch.no_grad():
                    backward._build(
                        int(backward.in_features),
                        device=weight.device,
                        dtype=weight.dtype,
                        initialize=True,
                    )
            backward_layer = backward
        else:
            _check_layer(owner, backward_layer)
            for attr in ("return_sequences", "return_state"):
                if getattr(backward_layer, attr, None) != getattr(layer, attr):
                    raise ArgumentError(
                        f"{owner}: expected `backward_layer.{attr}` to equal `layer.{attr}`. "
                        f"Received: {getattr(backward_layer, attr, None)!r} and {getattr(layer, attr)!r}"
                    )
        self.forward_layer = layer
        self.backward_layer = backward_layer
        self.return_sequences = bool(getattr(layer, "return_sequences", False))
        self.return_state = bool(getattr(layer, "return_state", False))
        for sub in (self.forward_layer, self.backward_layer):
            object.__setattr__(
                sub, "zero_output_for_mask", self.return_sequences
            )  # Keras's Bidirectional does this

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        initial_state: list[Tensor] | tuple[Tensor, ...] | None = None,
        training: bool | None = None,
    ) -> Any:
        forward_state = backward_state = None
        if initial_state is not None:
            states = list(initial_state)
            if len(states) % 2:
                raise DataError(
                    "Bidirectional: expected `initial_state` to hold the forward states then the "
                    f"backward states (an even count). Received: {len(states)} tensors"
                )
            half = len(states) // 2
            forward_state, backward_state = states[:half], states[half:]
        y_f = self.forward_layer(x, mask=mask, initial_state=forward_state, training=training)
        y_b = self.backward_layer(x, mask=mask, initial_state=backward_state, training=training)
        states_f: tuple[Tensor, ...] = ()
        states_b: tuple[Tensor, ...] = ()
        if self.return_state:
            y_f, *rest_f = y_f
            y_b, *rest_b = y_b
            states_f, states_b = tuple(rest_f), tuple(rest_b)
        if self.return_sequences:
            y_b = y_b.flip(1)
        if self.merge_mode == "concat":
            out: Any = torch.cat([y_f, y_b], dim=-1)
        elif self.merge_mode == "sum":
            out = y_f + y_b
        elif self.merge_mode == "mul":
            out = y_f * y_b
        elif self.merge_mode == "ave":
            out = (y_f + y_b) / 2
        else:
            out = [y_f, y_b]
        if self.return_sequences and isinstance(out, Tensor):
            set_mask(out, mask if mask is not None else get_mask(x))
        if self.return_state:
            head = list(out) if isinstance(out, list) else [out]
            return [*head, *states_f, *states_b]
        return out

    def _describe(self) -> str:
        return join_parts(f"merge_mode={self.merge_mode!r}", super()._describe())
