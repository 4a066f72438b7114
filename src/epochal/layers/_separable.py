"""Depthwise and separable convolutions on channels-last data:
`DepthwiseConv1D/2D`, `SeparableConv1D/2D`.

A depthwise convolution filters each input channel on its own with
``depth_multiplier`` filters (output channel ``c * depth_multiplier + m``, as
TensorFlow orders them); a separable one follows it with a 1x1 convolution to
``filters`` channels. Kernels are initialized in Keras's layouts,
``(*kernel_size, in, depth_multiplier)`` and ``(1, ..., in * depth_multiplier,
filters)``. Padding is the same as `Conv1D`/`Conv2D`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from epochal import activations, initializers
from epochal.layers import _checks as checks
from epochal.layers import _penalties
from epochal.layers._base import Shape, channels_from, join_parts, make_weight
from epochal.layers._conv import _Conv, dynamic_same_pad


class _Depthwise(_Conv):
    """A depthwise convolution, optionally followed by a pointwise one (``_separable``)."""

    _separable: ClassVar[bool] = False

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any,
        padding: str,
        depth_multiplier: int,
        dilation_rate: Any,
        activation: str | activations.ActivationFn | None,
        use_bias: bool,
        depthwise_initializer: str | initializers.Initializer,
        pointwise_initializer: str | initializers.Initializer,
        bias_initializer: str | initializers.Initializer,
        penalties: Mapping[str, tuple[str, Any, str, Any]],
        activity_regularizer: Any,
        input_shape: Shape | None,
        name: str | None,
    ) -> None:
        owner = type(self).__name__
        self.depth_multiplier = checks.positive_int(owner, "depth_multiplier", depth_multiplier)
        self.depthwise_initializer = checks.initializer(
            owner, "depthwise_initializer", depthwise_initializer
        )
        self.pointwise_initializer = checks.initializer(
            owner, "pointwise_initializer", pointwise_initializer
        )
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            activation=activation,
            dilation_rate=dilation_rate,
            use_bias=use_bias,
            kernel_initializer=depthwise_initializer,
            bias_initializer=bias_initializer,
            input_shape=None,
            name=name,
        )
        _penalties.attach(self, owner, penalties, activity_regularizer)
        self.input_shape = checks.shape(owner, "input_shape", input_shape)
        if self.input_shape is not None:
            self._build_from_shape(self.input_shape, owner)

    def _build(
        self, channels: int, *, device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        rank, dm = self.rank, self.depth_multiplier
        self.in_channels = channels
        # Keras (*k, in, dm) -> torch (in * dm, 1, *k): output channel c * dm + m.
        self.weight = make_weight(
            (*self.kernel_size, channels, dm),
            self.depthwise_initializer,
            lambda k: k.permute(rank, rank + 1, *range(rank)).reshape(
                channels * dm, 1, *self.kernel_size
            ),
            device=device,
            dtype=dtype,
            initialize=initialize,
        )
        out = channels * dm
        if self._separable:
            self.pointwise_weight = make_weight(
                (*(1,) * rank, out, self.filters),
                self.pointwise_initializer,
                lambda k: k.reshape(out, self.filters).T.reshape(self.filters, out, *(1,) * rank),
                device=device,
                dtype=dtype,
                initialize=initialize,
            )
            out = self.filters
        if self.use_bias:
            self.bias = make_weight(
                (out,),
                self.bias_initializer,
                lambda b: b,
                device=device,
                dtype=dtype,
                initialize=initialize,
            )
        self.built = True

    def _channels_from_state(self, state_dict: Mapping[str, Any], prefix: str) -> int | None:
        total = channels_from(state_dict, prefix + "weight", 0)
        return None if total is None else total // self.depth_multiplier

    def _keras_layout(self, path: str, tensor: Tensor) -> Tensor:
        rank = self.rank
        if path == "weight":
            view = tensor.reshape(-1, self.depth_multiplier, *self.kernel_size)
            return view.permute(*range(2, rank + 2), 0, 1)
        if path == "pointwise_weight":
            return tensor.permute(*range(2, rank + 2), 1, 0)
        return tensor

    def forward_preactivation(self, x: Tensor) -> Tensor:
        """The convolution(s) plus bias, without the activation."""
        if not self.built:
            self._build_from_input(x)
        if self._dynamic_same:
            x = dynamic_same_pad(x, self.kernel_size, self.strides, self.dilation_rate)
        elif self._input_pad is not None:
            x = F.pad(x, self._input_pad)
        conv = type(self)._conv
        y = conv(
            x.permute(self._to_channels_first),
            self.weight,
            None if self._separable else self.bias,
            self.strides,
            self._conv_padding,
            self.dilation_rate,
            self.in_channels,
        )
        if self._separable:
            y = conv(y, self.pointwise_weight, self.bias)
        return y.permute(self._to_channels_last)

    def _describe(self) -> str:
        return join_parts(
            f"depth_multiplier={self.depth_multiplier}" if self.depth_multiplier > 1 else "",
            super()._describe(),
        )


def _depthwise_penalties(
    depthwise_regularizer: Any,
    bias_regularizer: Any,
    depthwise_constraint: Any,
    bias_constraint: Any,
) -> dict[str, tuple[str, Any, str, Any]]:
    return {
        "weight": (
            "depthwise_regularizer",
            depthwise_regularizer,
            "depthwise_constraint",
            depthwise_constraint,
        ),
        "bias": ("bias_regularizer", bias_regularizer, "bias_constraint", bias_constraint),
    }


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2-D convolution on ``(N, H, W, C)``: ``(N, H', W', C * depth_multiplier)``.

    Args:
        kernel_size: window size (int or 2-tuple).
        strides: step of the window.
        padding: ``"valid"`` or ``"same"``.
        depth_multiplier: filters per input channel.
        dilation_rate: spacing of the kernel taps.
        activation: a name, a callable, or None.
        use_bias: whether to add a bias.
        depthwise_initializer: initializer of the ``(kh, kw, C, depth_multiplier)`` kernel.
        bias_initializer: initializer of the bias.
        depthwise_regularizer, bias_regularizer, activity_regularizer: penalties.
        depthwise_constraint, bias_constraint: constraints applied after each step.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> DepthwiseConv2D(3, depth_multiplier=2)(torch.zeros(1, 5, 5, 3)).shape
        torch.Size([1, 3, 3, 6])
    """

    rank = 2
    _conv = F.conv2d

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        depth_multiplier: int = 1,
        dilation_rate: int | tuple[int, ...] = 1,
        activation: str | activations.ActivationFn | None = None,
        use_bias: bool = True,
        depthwise_initializer: str | initializers.Initializer = "glorot_uniform",
        bias_initializer: str | initializers.Initializer = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        bias_constraint: Any = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            1,
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            dilation_rate,
            activation,
            use_bias,
            depthwise_initializer,
            "glorot_uniform",
            bias_initializer,
            _depthwise_penalties(
                depthwise_regularizer, bias_regularizer, depthwise_constraint, bias_constraint
            ),
            activity_regularizer,
            input_shape,
            name,
        )


class DepthwiseConv1D(DepthwiseConv2D):
    """Depthwise 1-D convolution on ``(N, steps, C)``: ``(N, steps', C * depth_multiplier)``.

    Arguments as `DepthwiseConv2D`'s, with ints or 1-tuples.

    Example:
        >>> DepthwiseConv1D(3)(torch.zeros(1, 5, 3)).shape
        torch.Size([1, 3, 3])
    """

    rank = 1
    _conv = F.conv1d


def _separable_penalties(
    depthwise_regularizer: Any,
    pointwise_regularizer: Any,
    bias_regularizer: Any,
    depthwise_constraint: Any,
    pointwise_constraint: Any,
    bias_constraint: Any,
) -> dict[str, tuple[str, Any, str, Any]]:
    penalties = _depthwise_penalties(
        depthwise_regularizer, bias_regularizer, depthwise_constraint, bias_constraint
    )
    penalties["pointwise_weight"] = (
        "pointwise_regularizer",
        pointwise_regularizer,
        "pointwise_constraint",
        pointwise_constraint,
    )
    return penalties


class SeparableConv2D(_Depthwise):
    """Depthwise then pointwise 2-D convolution on ``(N, H, W, C)``: ``(N, H', W', filters)``.

    Args:
        filters: output channels of the pointwise convolution.
        kernel_size: window size of the depthwise convolution.
        strides: step of the window.
        padding: ``"valid"`` or ``"same"``.
        dilation_rate: spacing of the kernel taps.
        depth_multiplier: depthwise filters per input channel.
        activation: a name, a callable, or None.
        use_bias: whether to add a bias (after the pointwise convolution).
        depthwise_initializer: initializer of the ``(kh, kw, C, depth_multiplier)`` kernel.
        pointwise_initializer: initializer of the ``(1, 1, C * depth_multiplier, filters)`` kernel.
        bias_initializer: initializer of the bias.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer:
            penalties added to the loss.
        depthwise_constraint, pointwise_constraint, bias_constraint: constraints.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> SeparableConv2D(8, 3, padding="same")(torch.zeros(1, 5, 5, 3)).shape
        torch.Size([1, 5, 5, 8])
    """

    rank = 2
    _conv = F.conv2d
    _separable = True

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, int],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        dilation_rate: int | tuple[int, ...] = 1,
        depth_multiplier: int = 1,
        activation: str | activations.ActivationFn | None = None,
        use_bias: bool = True,
        depthwise_initializer: str | initializers.Initializer = "glorot_uniform",
        pointwise_initializer: str | initializers.Initializer = "glorot_uniform",
        bias_initializer: str | initializers.Initializer = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            dilation_rate,
            activation,
            use_bias,
            depthwise_initializer,
            pointwise_initializer,
            bias_initializer,
            _separable_penalties(
                depthwise_regularizer,
                pointwise_regularizer,
                bias_regularizer,
                depthwise_constraint,
                pointwise_constraint,
                bias_constraint,
            ),
            activity_regularizer,
            input_shape,
            name,
        )


class SeparableConv1D(SeparableConv2D):
    """Depthwise then pointwise 1-D convolution on ``(N, steps, C)``: ``(N, steps', filters)``.

    Arguments as `SeparableConv2D`'s, with ints or 1-tuples.

    Example:
        >>> SeparableConv1D(8, 3)(torch.zeros(1, 5, 3)).shape
        torch.Size([1, 3, 8])
    """

    rank = 1
    _conv = F.conv1d
