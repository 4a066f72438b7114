"""Channels-last convolutions: `Conv1D` on ``(N, steps, C)``, `Conv2D` on ``(N, H, W, C)``.

The input is permuted to torch's channels-first view, which for a contiguous
channels-last tensor is exactly torch's ``channels_last`` memory format, so
the convolution runs without copying it and the result permutes back to a
contiguous channels-last tensor.

``padding="same"`` follows TensorFlow: the output size is
``ceil(size / stride)`` and the total padding
``max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)`` is split
with the extra element after (bottom/right). With stride 1 that padding does
not depend on the input size and is computed once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from epochal import activations, initializers
from epochal.errors import ArgumentError
from epochal.layers import _checks as checks
from epochal.layers import _penalties
from epochal.layers._base import (
    ActivationMixin,
    Layer,
    Shape,
    channels_from,
    join_parts,
    make_weight,
)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``"same"`` padding ``(before, after)`` for one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def channels_last_pad(pads: list[tuple[int, int]]) -> tuple[int, ...]:
    """An ``F.pad`` spec for a channels-last tensor: no channel padding, spatial axes reversed."""
    spec = [0, 0]
    for before, after in reversed(pads):
        spec += [before, after]
    return tuple(spec)


def dynamic_same_pad(
    x: Tensor,
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
    value: float = 0.0,
) -> Tensor:
    """Pads a channels-last ``x`` for ``"same"`` with the sizes of this input."""
    pads = [
        same_padding(x.shape[1 + i], kernel[i], strides[i], dilation[i]) for i in range(len(kernel))
    ]
    if not any(before or after for before, after in pads):
        return x
    return F.pad(x, channels_last_pad(pads), value=value)


class _Conv(ActivationMixin, Layer):
    """Shared implementation of the channels-last convolutions."""

    rank: ClassVar[int]
    _paddings: ClassVar[tuple[str, ...]] = ("valid", "same")
    _conv: ClassVar[Callable[..., Tensor]]
    _kernel_path: ClassVar[str] = "weight"

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, ...],
        strides: int | tuple[int, ...],
        padding: str,
        *,
        activation: str | activations.ActivationFn | None,
        dilation_rate: int | tuple[int, ...],
        use_bias: bool,
        kernel_initializer: str | initializers.Initializer,
        bias_initializer: str | initializers.Initializer,
        input_shape: Shape | None,
        name: str | None,
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
    ) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        rank = self.rank
        self.filters = checks.positive_int(owner, "filters", filters)
        self.kernel_size = checks.int_tuple(owner, "kernel_size", kernel_size, rank)
        self.strides = checks.int_tuple(owner, "strides", strides, rank)
        self.padding = checks.choice(owner, "padding", padding, self._paddings)
        self.dilation_rate = checks.int_tuple(owner, "dilation_rate", dilation_rate, rank)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ArgumentError(
                f"{owner}: expected `strides` or `dilation_rate` to be 1 (both > 1 is not "
                f"supported). Received: strides={strides!r}, dilation_rate={dilation_rate!r}"
            )
        self.activation_name, self._activation_fn = checks.activation(owner, activation)
        self.use_bias = checks.boolean(owner, "use_bias", use_bias)
        self.kernel_initializer = checks.initializer(
            owner, "kernel_initializer", kernel_initializer
        )
        self.bias_initializer = checks.initializer(owner, "bias_initializer", bias_initializer)
        _penalties.attach(
            self,
            owner,
            {
                self._kernel_path: (
                    "kernel_regularizer",
                    kernel_regularizer,
                    "kernel_constraint",
                    kernel_constraint,
                ),
                "bias": ("bias_regularizer", bias_regularizer, "bias_constraint", bias_constraint),
            },
            activity_regularizer,
        )
        self._plan_padding()
        self.in_channels: int | None = None
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self.built = False
        if self.input_shape is not None:
            self._build_from_shape(self.input_shape, owner)

    def _plan_padding(self) -> None:
        # Decided once here so that forward only branches on two attributes.
        rank = self.rank
        self._conv_padding: tuple[int, ...] = (0,) * rank
        self._input_pad: tuple[int, ...] | None = None
        self._dynamic_same = False
        totals = [(k - 1) * d for k, d in zip(self.kernel_size, self.dilation_rate, strict=True)]
        if self.padding == "causal":
            self._input_pad = channels_last_pad([(totals[0], 0)])
        elif self.padding == "same" and max(self.strides) > 1:
            self._dynamic_same = True
        elif self.padding == "same" and any(totals):
            if all(t % 2 == 0 for t in totals):
                self._conv_padding = tuple(t // 2 for t in totals)
            else:
                self._input_pad = channels_last_pad([(t // 2, t - t // 2) for t in totals])
        rank_axes = list(range(1, rank + 1))
        self._to_channels_first = (0, rank + 1, *rank_axes)
        self._to_channels_last = (0, *(a + 1 for a in rank_axes), 1)

    def _build(
        self, channels: int, *, device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        rank = self.rank
        self.in_channels = channels
        # Keras kernel (*kernel_size, in, out) -> torch weight (out, in, *kernel_size).
        # Contiguous (not channels_last) so that state dicts save as they are (safetensors
        # refuses non-contiguous tensors); the convolution adapts it to the input's format.
        order = (rank + 1, rank, *range(rank))
        self.weight = make_weight(
            (*self.kernel_size, channels, self.filters),
            self.kernel_initializer,
            lambda k: k.permute(order).contiguous(),
            device=device,
            dtype=dtype,
            initialize=initialize,
        )
        if self.use_bias:
            self.bias = make_weight(
                (self.filters,),
                self.bias_initializer,
                lambda b: b,
                device=device,
                dtype=dtype,
                initialize=initialize,
            )
        self.built = True

    def _channels_from_state(self, state_dict: Mapping[str, Any], prefix: str) -> int | None:
        return channels_from(state_dict, prefix + "weight", 1)

    def _keras_layout(self, path: str, tensor: Tensor) -> Tensor:
        # torch's (filters, in, *kernel_size) is Keras's (*kernel_size, in, filters) permuted.
        if path != "weight":
            return tensor
        return tensor.permute(*range(2, self.rank + 2), 1, 0)

    def forward_preactivation(self, x: Tensor) -> Tensor:
        """The convolution plus bias, without the activation."""
        if not self.built:
            self._build_from_input(x)
        if self._dynamic_same:
            x = dynamic_same_pad(x, self.kernel_size, self.strides, self.dilation_rate)
        elif self._input_pad is not None:
            x = F.pad(x, self._input_pad)
        y = type(self)._conv(
            x.permute(self._to_channels_first),
            self.weight,
            self.bias,
            self.strides,
            self._conv_padding,
            self.dilation_rate,
        )
        return y.permute(self._to_channels_last)

    def forward(self, x: Tensor) -> Tensor:
        y = self.forward_preactivation(x)
        fn = self._activation_fn
        return y if fn is None else fn(y)

    def _describe(self) -> str:
        return join_parts(
            f"filters={self.filters}",
            f"kernel_size={self.kernel_size}",
            f"strides={self.strides}" if max(self.strides) > 1 else "",
            f"padding={self.padding!r}",
            f"dilation_rate={self.dilation_rate}" if max(self.dilation_rate) > 1 else "",
            f"in_channels={self.in_channels}",
            f"activation={self.activation_name!r}",
            "" if self.use_bias else "use_bias=False",
            super()._describe(),
        )


class Conv1D(_Conv):
    """1-D convolution over ``(N, steps, channels)``, producing ``(N, steps', filters)``.

    Lazy in the input channel count unless ``input_shape`` is given. The weight
    is stored as torch's ``(filters, channels, kernel)`` and initialized as
    Keras initializes its ``(kernel, channels, filters)`` kernel.

    Args:
        filters: number of output channels (positive).
        kernel_size: window length (int or 1-tuple).
        strides: step of the window (int or 1-tuple).
        padding: ``"valid"`` (no padding), ``"same"`` (output length
            ``ceil(steps / strides)``, TensorFlow's split) or ``"causal"`` (left
            padding only, so output ``t`` sees inputs ``<= t``).
        activation: a name from :mod:`epochal.activations`, a callable, or None.
        dilation_rate: spacing of the kernel taps (int or 1-tuple).
        use_bias: whether to add a bias.
        kernel_initializer: a name from :mod:`epochal.initializers` or a callable.
        bias_initializer: likewise, for the bias.
        kernel_regularizer, bias_regularizer, activity_regularizer: ``keras.regularizers``
            penalties added to the loss (on the kernel, the bias, the output).
        kernel_constraint, bias_constraint: ``keras.constraints`` applied after each step.
        input_shape: the input shape without the batch dimension, e.g. ``(100, 8)``.
        name: the layer's name in a sequential container.

    Example:
        >>> Conv1D(16, 3, padding="same")(torch.zeros(2, 10, 8)).shape
        torch.Size([2, 10, 16])
    """

    rank = 1
    _paddings = ("valid", "same", "causal")
    _conv = F.conv1d

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int],
        strides: int | tuple[int] = 1,
        padding: Literal["valid", "same", "causal"] = "valid",
        *,
        activation: str | activations.ActivationFn | None = None,
        dilation_rate: int | tuple[int] = 1,
        use_bias: bool = True,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        bias_initializer: str | initializers.Initializer = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            activation=activation,
            dilation_rate=dilation_rate,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            input_shape=input_shape,
            name=name,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )


class Conv2D(_Conv):
    """2-D convolution over channels-last ``(N, H, W, C)``, producing ``(N, H', W', filters)``.

    Lazy in the input channel count unless ``input_shape`` is given. The weight
    is stored as torch's ``(filters, C, kh, kw)`` and initialized as Keras initializes its ``(kh, kw, C, filters)``
    kernel, with ``fan_in = kh * kw * C``.

    Args:
        filters: number of output channels (positive).
        kernel_size: window size (int or 2-tuple).
        strides: step of the window (int or 2-tuple).
        padding: ``"valid"`` (no padding) or ``"same"`` (output size
            ``ceil(size / strides)``, padded as TensorFlow pads, extra after).
        activation: a name from :mod:`epochal.activations`, a callable, or None.
        dilation_rate: spacing of the kernel taps (int or 2-tuple).
        use_bias: whether to add a bias.
        kernel_initializer: a name from :mod:`epochal.initializers` or a callable.
        bias_initializer: likewise, for the bias.
        kernel_regularizer, bias_regularizer, activity_regularizer: ``keras.regularizers``
            penalties added to the loss (on the kernel, the bias, the output).
        kernel_constraint, bias_constraint: ``keras.constraints`` applied after each step.
        input_shape: the input shape without the batch dimension, e.g. ``(28, 28, 1)``.
        name: the layer's name in a sequential container.

    Example:
        >>> Conv2D(8, (3, 3), strides=2, padding="same")(torch.zeros(2, 7, 7, 3)).shape
        torch.Size([2, 4, 4, 8])
    """

    rank = 2
    _conv = F.conv2d

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, int] = (1, 1),
        padding: Literal["valid", "same"] = "valid",
        *,
        activation: str | activations.ActivationFn | None = None,
        dilation_rate: int | tuple[int, int] = (1, 1),
        use_bias: bool = True,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        bias_initializer: str | initializers.Initializer = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            activation=activation,
            dilation_rate=dilation_rate,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            input_shape=input_shape,
            name=name,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )


class Conv3D(_Conv):
    """3-D convolution over channels-last ``(N, D, H, W, C)``, producing ``(N, D', H', W', filters)``.

    Lazy in the input channel count unless ``input_shape`` is given. The weight
    is stored as torch's ``(filters, C, kd, kh, kw)`` and initialized as Keras
    initializes its ``(kd, kh, kw, C, filters)`` kernel.

    Args:
        filters: number of output channels (positive).
        kernel_size: window size (int or 3-tuple).
        strides: step of the window (int or 3-tuple).
        padding: ``"valid"`` or ``"same"`` (TensorFlow's split, extra after).
        activation: a name from :mod:`epochal.activations`, a callable, or None.
        dilation_rate: spacing of the kernel taps (int or 3-tuple).
        use_bias: whether to add a bias.
        kernel_initializer: a name from :mod:`epochal.initializers` or a callable.
        bias_initializer: likewise, for the bias.
        kernel_regularizer, bias_regularizer, activity_regularizer: ``keras.regularizers``
            penalties added to the loss.
        kernel_constraint, bias_constraint: ``keras.constraints`` applied after each step.
        input_shape: the input shape without the batch dimension, e.g. ``(8, 28, 28, 1)``.
        name: the layer's name in a sequential container.

    Example:
        >>> Conv3D(4, 3, padding="same")(torch.zeros(2, 5, 6, 7, 3)).shape
        torch.Size([2, 5, 6, 7, 4])
    """

    rank = 3
    _conv = F.conv3d

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int, int],
        strides: int | tuple[int, int, int] = (1, 1, 1),
        padding: Literal["valid", "same"] = "valid",
        *,
        activation: str | activations.ActivationFn | None = None,
        dilation_rate: int | tuple[int, int, int] = (1, 1, 1),
        use_bias: bool = True,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        bias_initializer: str | initializers.Initializer = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            activation=activation,
            dilation_rate=dilation_rate,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            input_shape=input_shape,
            name=name,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
