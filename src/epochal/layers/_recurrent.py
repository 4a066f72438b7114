"""`LSTM`, `GRU` and `SimpleRNN` on batch-first ``(N, steps, features)``, wrapping torch's fused RNNs.

Keras's gate equations are torch's: the LSTM gate order is the same
(input, forget, cell, output), and Keras's default GRU (``reset_after=True``)
is torch's formulation with separate input and recurrent biases. Weights are
initialized as Keras initializes them: the input kernel with
``glorot_uniform`` over the ``(features, gates * units)`` kernel, the
recurrent kernel with ``orthogonal`` over ``(units, gates * units)``, biases
with zeros, and the LSTM forget-gate bias with ones (``unit_forget_bias``).

The torch module lives in the ``rnn`` child (``rnn.weight_ih_l0``, ...).

Keras's call options: ``initial_state`` (``[h]``, or ``[h, c]`` for the LSTM),
``mask`` (``(N, steps)`` booleans; by default the mask the input carries, from
``Embedding(mask_zero=True)`` or ``Masking``) and ``training``. A masked step
leaves the state unchanged and repeats the previous output (zeros before the
first unmasked step), as Keras does; inputs with masked steps run step by
step (torch's cell functions) instead of the fused kernel.
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
from epochal.layers import _penalties
from epochal.layers._base import Layer, Shape, channels_from, join_parts
from epochal.layers._masking import get_mask, set_mask


class _RNN(Layer):
    """Shared implementation of `LSTM` and `GRU`."""

    _gates: ClassVar[int]
    rnn: nn.LSTM | nn.GRU | nn.RNN  # the torch module, a child once built
    _torch_rnn: ClassVar[type[nn.LSTM] | type[nn.GRU] | type[nn.RNN]]
    _activations: ClassVar[tuple[str, ...]] = ("tanh",)
    _states: ClassVar[int] = 1
    # Bidirectional sets this for its sequence outputs: masked steps output zeros.
    zero_output_for_mask: bool = False

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
        penalties: dict[str, Any] | None = None,
        stateful: bool = False,
        unroll: bool = False,
    ) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.units = checks.positive_int(owner, "units", units)
        # torch's fused kernels hard-wire these; anything else would be silently wrong.
        if activation not in self._activations:
            allowed = " or ".join(repr(a) for a in self._activations)
            raise ArgumentError(
                f"{owner}: expected `activation` to be {allowed} (what torch's fused "
                f"{owner} supports). Received: activation={activation!r}"
            )
        self.activation = activation
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
        if stateful:
            raise ArgumentError(
                f"{owner}: stateful=True is not supported by epochal.keras (a run's batches are "
                "shuffled and resumable). Pass the state explicitly: "
                "return_state=True and initial_state=[...]"
            )
        self.stateful = False
        self.unroll = checks.boolean(owner, "unroll", unroll)  # a speed hint: no effect here
        p = penalties or {}
        _penalties.attach(
            self,
            owner,
            {
                "rnn.weight_ih_l0": (
                    "kernel_regularizer",
                    p.get("kernel_regularizer"),
                    "kernel_constraint",
                    p.get("kernel_constraint"),
                ),
                "rnn.weight_hh_l0": (
                    "recurrent_regularizer",
                    p.get("recurrent_regularizer"),
                    "recurrent_constraint",
                    p.get("recurrent_constraint"),
                ),
                "rnn.bias_ih_l0": (
                    "bias_regularizer",
                    p.get("bias_regularizer"),
                    "bias_constraint",
                    p.get("bias_constraint"),
                ),
            },
            p.get("activity_regularizer"),
        )
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
            ._torch_rnn(
                channels,
                self.units,
                bias=self.use_bias,
                batch_first=True,
                device="meta",
                **self._torch_options(),
            )
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

    def _torch_options(self) -> dict[str, Any]:
        return {}

    def _keras_layout(self, path: str, tensor: Tensor) -> Tensor:
        # torch's (gates * units, in) weights are Keras's (in, gates * units) kernels transposed.
        return tensor.T if path.startswith("rnn.weight") else tensor

    def _channels_from_state(self, state_dict: Mapping[str, Any], prefix: str) -> int | None:
        return channels_from(state_dict, prefix + "rnn.weight_ih_l0", 1)

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        initial_state: Tensor | list[Tensor] | tuple[Tensor, ...] | None = None,
        training: bool | None = None,
    ) -> Tensor | tuple[Tensor, ...]:
        # torch reads a 2-D input as one unbatched sequence: refuse it rather than mislead.
        if x.dim() != 3:
            raise DataError(
                f"{type(self).__name__}: expected an input of shape (batch, steps, features). "
                f"Received: shape={tuple(x.shape)}"
            )
        if not self.built:
            self._build_from_input(x)
        if mask is None:
            mask = get_mask(x)
        state0 = self._state0(initial_state, x)
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        train = self.training if training is None else bool(training)
        if self.dropout > 0 and train:
            # Keras drops the same input features at every step of a sequence.
            drop = F.dropout(x.new_ones(x.shape[0], 1, x.shape[2]), self.dropout, True)
            x = x * drop
        if mask is not None and mask.shape != x.shape[:2]:
            raise DataError(
                f"{type(self).__name__}: expected a mask of shape (batch, steps) = "
                f"{tuple(x.shape[:2])}. Received: shape={tuple(mask.shape)}"
            )
        if mask is not None and x.device.type != "meta" and not bool(mask.all()):
            output, states = self._masked(x, mask.to(torch.bool), state0)
        else:
            hx: Any = None
            if state0 is not None:
                hx = tuple(s.unsqueeze(0) for s in state0)
                hx = hx if len(hx) > 1 else hx[0]
            output, state = self.rnn(x, hx)
            states = tuple(s[0] for s in (state if isinstance(state, tuple) else (state,)))
        result = output if self.return_sequences else output[:, -1]
        if self.return_sequences and mask is not None and not self.go_backwards:
            set_mask(result, mask)
        if self.return_state:
            return (result, *states)
        return result

    def _state0(self, initial_state: Any, x: Tensor) -> tuple[Tensor, ...] | None:
        """``initial_state`` as a tuple of ``(N, units)`` tensors, checked."""
        if initial_state is None:
            return None
        states = (
            tuple(initial_state) if isinstance(initial_state, (list, tuple)) else (initial_state,)
        )
        owner = type(self).__name__
        expected = (x.shape[0], self.units)
        if len(states) != self._states or any(
            not isinstance(s, Tensor) or tuple(s.shape) != expected for s in states
        ):
            names = "[h, c]" if self._states == 2 else "[h]"
            received = [
                tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__ for s in states
            ]
            raise DataError(
                f"{owner}: expected `initial_state` to be {names}, each of shape "
                f"(batch, units) = {expected}. Received: {received}"
            )
        return tuple(s.to(x.dtype) for s in states)

    def _masked(
        self, x: Tensor, mask: Tensor, state0: tuple[Tensor, ...] | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """A masked step keeps the state and repeats the previous output (zeros before any)."""
        steps = x.shape[1]
        positions = torch.arange(steps, device=x.device)
        lengths = mask.sum(dim=1)
        starts = mask.to(torch.int8).argmax(dim=1)
        run = (positions >= starts[:, None]) & (positions < (starts + lengths)[:, None])
        # One unmasked run per sequence (left or right padding): torch's fused kernel on packed
        # sequences. Anything else (holes, empty sequences) goes step by step.
        if bool((run == mask).all()) and bool((lengths > 0).all()):
            return self._packed(x, starts, lengths, state0)
        return self._stepwise(x, mask, state0)

    def _packed(
        self, x: Tensor, starts: Tensor, lengths: Tensor, state0: tuple[Tensor, ...] | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        steps = x.shape[1]
        positions = torch.arange(steps, device=x.device)
        # Left-align each sequence's unmasked run, run it packed, then put outputs back.
        gather = (positions[None] + starts[:, None]).clamp(max=steps - 1)
        aligned = x.gather(1, gather[..., None].expand(-1, -1, x.shape[2]))
        packed = nn.utils.rnn.pack_padded_sequence(
            aligned, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        hx: Any = None
        if state0 is not None:
            hx = tuple(s.unsqueeze(0) for s in state0)
            hx = hx if len(hx) > 1 else hx[0]
        out_packed, state = self.rnn(packed, hx)
        out, _ = nn.utils.rnn.pad_packed_sequence(out_packed, batch_first=True, total_length=steps)
        offset = positions[None] - starts[:, None]
        source = torch.minimum(offset.clamp(min=0), (lengths - 1)[:, None])
        result = out.gather(1, source[..., None].expand(-1, -1, out.shape[2]))
        keep = offset >= 0
        if self.zero_output_for_mask:
            keep = keep & (offset < lengths[:, None])
        result = result * keep[..., None].to(result.dtype)
        states = tuple(s[0] for s in (state if isinstance(state, tuple) else (state,)))
        return result, states

    def _stepwise(
        self, x: Tensor, mask: Tensor, state0: tuple[Tensor, ...] | None
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        rnn: Any = self.rnn
        weights: tuple[Any, ...] = (
            rnn.weight_ih_l0,
            rnn.weight_hh_l0,
            rnn.bias_ih_l0 if self.use_bias else None,
            rnn.bias_hh_l0 if self.use_bias else None,
        )
        zeros = x.new_zeros(x.shape[0], self.units)
        states = state0 if state0 is not None else (zeros,) * self._states
        previous = zeros
        outputs = []
        for step in range(x.shape[1]):
            keep = mask[:, step, None]
            new = self._cell(x[:, step], states, weights)
            states = tuple(torch.where(keep, n, s) for n, s in zip(new, states, strict=True))
            previous = torch.where(keep, new[0], zeros if self.zero_output_for_mask else previous)
            outputs.append(previous)
        return torch.stack(outputs, dim=1), states

    def _cell(
        self, x: Tensor, states: tuple[Tensor, ...], weights: tuple[Tensor | None, ...]
    ) -> tuple[Tensor, ...]:
        raise NotImplementedError

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
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer:
            ``keras.regularizers`` penalties added to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: ``keras.constraints``
            applied after each step.
        dropout: fraction of input features dropped in training, the same
            features at every step of a sequence (Keras's semantics).
        recurrent_dropout: must be 0 (not supported by torch's fused LSTM).
        return_sequences: return every step's output, not only the last.
        return_state: also return the final ``h`` and ``c``.
        go_backwards: process the sequence in reverse (sequence outputs stay reversed, as in Keras).
        stateful: must be False (pass states with ``initial_state``/``return_state``).
        unroll: accepted (a speed hint in Keras); no effect.
        input_shape: the input shape without the batch dimension, e.g. ``(None, 8)``.
        name: the layer's name in a sequential container.

    Example:
        >>> LSTM(16, return_sequences=True)(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 5, 16])
    """

    _gates = 4
    _states = 2
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
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
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
            penalties=_penalty_args(locals()),
            stateful=stateful,
            unroll=unroll,
        )

    def _initial_biases(self) -> tuple[Tensor, Tensor]:
        bias = self._keras_bias()
        if self.unit_forget_bias:
            bias[self.units : 2 * self.units] = 1.0  # gate order: input, forget, cell, output
        return bias, torch.zeros_like(bias)

    def _cell(
        self, x: Tensor, states: tuple[Tensor, ...], weights: tuple[Tensor | None, ...]
    ) -> tuple[Tensor, ...]:
        h, c = torch.lstm_cell(x, states, *weights)  # type: ignore[arg-type]
        return h, c


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
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer:
            ``keras.regularizers`` penalties added to the loss.
        kernel_constraint, recurrent_constraint, bias_constraint: ``keras.constraints``
            applied after each step.
        dropout: fraction of input features dropped in training, the same
            features at every step of a sequence (Keras's semantics).
        recurrent_dropout: must be 0 (not supported by torch's fused GRU).
        return_sequences: return every step's output, not only the last.
        return_state: also return the final ``h``.
        go_backwards: process the sequence in reverse (sequence outputs stay reversed, as in Keras).
        stateful: must be False (pass states with ``initial_state``/``return_state``).
        unroll: accepted (a speed hint in Keras); no effect.
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
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        reset_after: bool = True,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        if reset_after is not True:
            raise ArgumentError(
                "GRU: expected `reset_after` to be True (Keras's default, torch's GRU); "
                f"reset_after=False is not supported. Received: reset_after={reset_after!r}"
            )
        self.reset_after = True
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
            penalties=_penalty_args(locals()),
            stateful=stateful,
            unroll=unroll,
        )

    def _initial_biases(self) -> tuple[Tensor, Tensor]:
        return self._keras_bias(), self._keras_bias()

    def _cell(
        self, x: Tensor, states: tuple[Tensor, ...], weights: tuple[Tensor | None, ...]
    ) -> tuple[Tensor, ...]:
        return (torch.gru_cell(x, states[0], *weights),)  # type: ignore[arg-type]


def _penalty_args(args: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "kernel_regularizer",
        "recurrent_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "kernel_constraint",
        "recurrent_constraint",
        "bias_constraint",
    )
    return {key: args.get(key) for key in keys}


class SimpleRNN(_RNN):
    """A fully connected RNN over ``(N, steps, features)``: ``h = activation(x W + h U + b)``.

    Returns the last output ``(N, units)``, or with ``return_sequences=True``
    every output; with ``return_state=True`` a tuple ``(output, h)``. torch's
    two bias vectors play Keras's one: the input bias is initialized as Keras's
    bias, the recurrent one with zeros.

    Args:
        units: size of the output and the state (positive).
        activation: ``"tanh"`` or ``"relu"`` (torch's fused RNN).
        use_bias: whether to add biases.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers.
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer:
            ``keras.regularizers`` penalties.
        kernel_constraint, recurrent_constraint, bias_constraint: ``keras.constraints``.
        dropout: fraction of input features dropped in training.
        recurrent_dropout: must be 0.
        return_sequences: return every step's output.
        return_state: also return the final ``h``.
        go_backwards: process the sequence in reverse.
        stateful: must be False.
        unroll: accepted; no effect.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> SimpleRNN(4)(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 4])
    """

    _gates = 1
    _torch_rnn = nn.RNN
    _activations = ("tanh", "relu")

    def __init__(
        self,
        units: int,
        activation: str = "tanh",
        use_bias: bool = True,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        recurrent_initializer: str | initializers.Initializer = "orthogonal",
        bias_initializer: str | initializers.Initializer = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            units,
            activation=activation,
            recurrent_activation="sigmoid",
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
            penalties=_penalty_args(locals()),
            stateful=stateful,
            unroll=unroll,
        )

    def _torch_options(self) -> dict[str, Any]:
        return {"nonlinearity": self.activation}

    def _initial_biases(self) -> tuple[Tensor, Tensor]:
        bias = self._keras_bias()
        return bias, torch.zeros_like(bias)

    def _cell(
        self, x: Tensor, states: tuple[Tensor, ...], weights: tuple[Tensor | None, ...]
    ) -> tuple[Tensor, ...]:
        cell = torch.rnn_relu_cell if self.activation == "relu" else torch.rnn_tanh_cell
        return (cell(x, states[0], *weights),)  # type: ignore[arg-type]
