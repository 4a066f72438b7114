"""`LSTM` and `GRU` on batch-first ``(N, steps, features)``, wrapping torch's fused RNNs.

Keras's gate equations are torch's: the LSTM gate order is the same
(input, forget, cell, output), and Keras's default GRU (``reset_after=True``)
is torch's formulation with separate input and recurrent biases. Weights are
initialized as Keras initializes them: the input kernel with
``glorot_uniform`` over the ``(features, gates * units)`` kernel, the
recurrent kernel with ``orthogonal`` over ``(units, gates * units)``, biases
with zeros, and the LSTM forget-gate bias with ones (``unit_forget_bias``).

The torch module lives in the ``rnn`` child (``rnn.weight_ih_l0``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from epochal import initializers
from epochal.errors import ArgumentError, DataError
from epochal.layers import _checks as checks
from epochal.layers._base import Layer, Shape, channels_from, join_parts


class _RNN(Layer):
    """Shared implementation of `LSTM` and `GRU`."""

    _gates: ClassVar[int]
    rnn: nn.LSTM | nn.GRU  # the torch module, a child once built
    _torch_rnn: ClassVar[type[nn.LSTM] | type[nn.GRU]]

    def __init__(
        self,
        units: int,
        *,
        activation: str,
        recurrent_activation: str,
        use_bias: bool,
        kernel_initializer: str | initializers.Initializer,
        recurrent_initializer: str | initializers.Initializer,
        bias_initializer: str | initializers.Initializer,
        dropout: float,
        recurrent_dropout: float,
        return_sequences: bool,
        return_state: bool,
        go_backwards: bool,
        input_shape: Shape | None,
        name: str | None,
        unit_forget_bias: bool = False,
    ) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.units = checks.positive_int(owner, "units", units)
        # torch's fused kernels hard-wire these two; anything else would be silently wrong.
        if activation != "tanh":
            raise ArgumentError(
                f"{owner}: expected `activation` to be 'tanh' (the only one torch's fused "
                f"{owner} supports). Received: activation={activation!r}"
            )
        if recurrent_activation != "sigmoid":
            raise ArgumentError(
                f"{owner}: expected `recurrent_activation` to be 'sigmoid' (the only one "
                f"torch's fused {owner} supports). "
                f"Received: recurrent_activation={recurrent_activation!r}"
            )
        self.use_bias = checks.boolean(owner, "use_bias", use_bias)
        self.kernel_initializer = checks.initializer(
            owner, "kernel_initializer", kernel_initializer
        )
        self.recurrent_initializer = checks.initializer(
            owner, "recurrent_initializer", recurrent_initializer
        )
        self.bias_initializer = checks.initializer(owner, "bias_initializer", bias_initializer)
        self.dropout = checks.number_in(owner, "dropout", dropout, 0.0, 1.0, include_high=False)
        if recurrent_dropout != 0:
            raise ArgumentError(
                f"{owner}: expected `recurrent_dropout` to be 0 (torch's fused {owner} has no "
                f"recurrent dropout). Received: recurrent_dropout={recurrent_dropout!r}"
            )
        self.return_sequences = checks.boolean(owner, "return_sequences", return_sequences)
        self.return_state = checks.boolean(owner, "return_state", return_state)
        self.go_backwards = checks.boolean(owner, "go_backwards", go_backwards)
        self.unit_forget_bias = checks.boolean(owner, "unit_forget_bias", unit_forget_bias)
        self.in_features: int | None = None
        self.built = False
        if self.input_shape is not None:
            self._build_from_shape(self.input_shape, owner)

    def _keras_bias(self) -> Tensor:
        bias = torch.empty(self._gates * self.units, device="cpu")
        self.bias_initializer(bias)
        return bias

    def _build(
        self, channels: int, *, device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        self.in_features = channels
        # Made on "meta" first: torch's own reset_parameters would draw random
        # numbers that Keras's initialization then discards.
        rnn = (
            type(self)
            ._torch_rnn(channels, self.units, bias=self.use_bias, batch_first=True, device="meta")
            .to_empty(device="cpu")
        )
        rnn.train(self.training)
        if initialize:
            gates = self._gates * self.units
            with torch.no_grad():
                kernel = self.kernel_initializer(torch.empty(channels, gates, device="cpu"))
                recurrent = self.recurrent_initializer(torch.empty(self.units, gates, device="cpu"))
                rnn.get_parameter("weight_ih_l0").copy_(kernel.T)
                rnn.get_parameter("weight_hh_l0").copy_(recurrent.T)
                if self.use_bias:
                    input_bias, recurrent_bias = self._initial_biases()
                    rnn.get_parameter("bias_ih_l0").copy_(input_bias)
                    rnn.get_parameter("bias_hh_l0").copy_(recurrent_bias)
        self.rnn = rnn.to(device=device, dtype=dtype)
        self.built = True

    def _initial_biases(self) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _channels_from_state(self, state_dict: Mapping[str, Any], prefix: str) -> int | None:
        return channels_from(state_dict, prefix + "rnn.weight_ih_l0", 1)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        # torch reads a 2-D input as one unbatched sequence: refuse it rather than mislead.
        if x.dim() != 3:
            raise DataError(
                f"{type(self).__name__}: expected an input of shape (batch, steps, features). "
                f"Received: shape={tuple(x.shape)}"
            )
        if not self.built:
            self._build_from_input(x)
        if self.go_backwards:
            x = x.flip(1)
        if self.dropout > 0 and self.training:
            # Keras drops the same input features at every step of a sequence.
            mask = F.dropout(x.new_ones(x.shape[0], 1, x.shape[2]), self.dropout, True)
            x = x * mask
        output, state = self.rnn(x)
        states = state if isinstance(state, tuple) else (state,)
        last = states[0][0]
        result = output if self.return_sequences else last
        if self.return_state:
            return (result, *(s[0] for s in states))
        return result

    def _describe(self) -> str:
        return join_parts(
            f"units={self.units}",
            f"in_features={self.in_features}",
            "return_sequences=True" if self.return_sequences else "",
            "return_state=True" if self.return_state else "",
            "go_backwards=True" if self.go_backwards else "",
            f"dropout={self.dropout}" if self.dropout else "",
            super()._describe(),
        )


class LSTM(_RNN):
    """Long short-term memory over ``(N, steps, features)`` (batch first).

    Returns the last output ``(N, units)``, or with ``return_sequences=True``
    every output ``(N, steps, units)``; with ``return_state=True`` a tuple
    ``(output, h, c)`` of the final states, as Keras does. Lazy in ``features``
    unless ``input_shape`` is given.

    torch keeps two bias vectors where Keras keeps one (their sum plays the
    role of Keras's bias), so this layer has ``4 * units`` more parameters
    than Keras reports; the input bias is initialized as Keras's bias and the
    recurrent bias with zeros.

    Args:
        units: size of the output and the state (positive).
        activation: must be ``"tanh"`` (torch's fused LSTM).
        recurrent_activation: must be ``"sigmoid"`` (torch's fused LSTM).
        use_bias: whether to add biases.
        kernel_initializer: initializer of the input kernel.
        recurrent_initializer: initializer of the recurrent kernel.
        bias_initializer: initializer of the bias.
        unit_forget_bias: initialize the forget-gate bias with ones, as Keras does.
        dropout: fraction of input features dropped in training, the same
            features at every step of a sequence (Keras's semantics).
        recurrent_dropout: must be 0 (not supported by torch's fused LSTM).
        return_sequences: return every step's output, not only the last.
        return_state: also return the final ``h`` and ``c``.
        go_backwards: process the sequence in reverse.
        input_shape: the input shape without the batch dimension, e.g. ``(None, 8)``.
        name: the layer's name in a sequential container.

    Example:
        >>> LSTM(16, return_sequences=True)(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 5, 16])
    """

    _gates = 4
    _torch_rnn = nn.LSTM

    def __init__(
        self,
        units: int,
        *,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        recurrent_initializer: str | initializers.Initializer = "orthogonal",
        bias_initializer: str | initializers.Initializer = "zeros",
        unit_forget_bias: bool = True,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            input_shape=input_shape,
            name=name,
            unit_forget_bias=unit_forget_bias,
        )

    def _initial_biases(self) -> tuple[Tensor, Tensor]:
        bias = self._keras_bias()
        if self.unit_forget_bias:
            bias[self.units : 2 * self.units] = 1.0  # gate order: input, forget, cell, output
        return bias, torch.zeros_like(bias)


class GRU(_RNN):
    """Gated recurrent unit over ``(N, steps, features)`` (batch first).

    Keras's default ``reset_after=True`` variant, which is torch's GRU; the
    parameter count matches Keras's. Returns the last output ``(N, units)``,
    or with ``return_sequences=True`` every output ``(N, steps, units)``; with
    ``return_state=True`` a tuple ``(output, h)``. Lazy in ``features`` unless
    ``input_shape`` is given.

    Args:
        units: size of the output and the state (positive).
        activation: must be ``"tanh"`` (torch's fused GRU).
        recurrent_activation: must be ``"sigmoid"`` (torch's fused GRU).
        use_bias: whether to add biases.
        kernel_initializer: initializer of the input kernel.
        recurrent_initializer: initializer of the recurrent kernel.
        bias_initializer: initializer of both biases.
        dropout: fraction of input features dropped in training, the same
            features at every step of a sequence (Keras's semantics).
        recurrent_dropout: must be 0 (not supported by torch's fused GRU).
        return_sequences: return every step's output, not only the last.
        return_state: also return the final ``h``.
        go_backwards: process the sequence in reverse.
        input_shape: the input shape without the batch dimension, e.g. ``(None, 8)``.
        name: the layer's name in a sequential container.

    Example:
        >>> GRU(16)(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 16])
    """

    _gates = 3
    _torch_rnn = nn.GRU

    def __init__(
        self,
        units: int,
        *,
        activation: str = "tanh",
        recurrent_activation: str = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        recurrent_initializer: str | initializers.Initializer = "orthogonal",
        bias_initializer: str | initializers.Initializer = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            input_shape=input_shape,
            name=name,
        )

    def _initial_biases(self) -> tuple[Tensor, Tensor]:
        return self._keras_bias(), self._keras_bias()
