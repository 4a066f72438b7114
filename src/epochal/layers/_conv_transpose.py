"""Channels-last transposed convolutions: `Conv1DTranspose`, `Conv2DTranspose`, `Conv3DTranspose`.

Output sizes follow Keras (``deconv_output_length``): with ``padding="valid"``
``size * stride + max(kernel - stride, 0)``, with ``"same"`` ``size * stride``,
and with an ``output_padding`` ``(size - 1) * stride + kernel - 2 * pad +
output_padding`` (``pad`` 0 for valid, ``kernel // 2`` for same). The values
are TensorFlow's: the full transposed convolution cropped by the padding the
matching forward ``"same"`` convolution would use (extra at the end).
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


def deconv_output_length(
    size: int, kernel: int, stride: int, padding: str, output_padding: int | None, dilation: int
) -> int:
    """Keras's output length of a transposed convolution along one axis."""
    kernel = kernel + (kernel - 1) * (dilation - 1)
    if output_padding is None:
        return size * stride if padding == "same" else size * stride + max(kernel - stride, 0)
    pad = kernel // 2 if padding == "same" else 0
    return (size - 1) * stride + kernel - 2 * pad + output_padding


class _ConvTranspose(ActivationMixin, Layer):
    """Shared implementation of the channels-last transposed convolutions."""

    rank: ClassVar[int]
    _conv: ClassVar[Callable[..., Tensor]]

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any,
        padding: str,
        output_padding: Any,
        dilation_rate: Any,
        activation: str | activations.ActivationFn | None,
        use_bias: bool,
        kernel_initializer: str | initializers.Initializer,
        bias_initializer: str | initializers.Initializer,
        kernel_regularizer: Any,
        bias_regularizer: Any,
        activity_regularizer: Any,
        kernel_constraint: Any,
        bias_constraint: Any,
        input_shape: Shape | None,
        name: str | None,
    ) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        rank = self.rank
        self.filters = checks.positive_int(owner, "filters", filters)
        self.kernel_size = checks.int_tuple(owner, "kernel_size", kernel_size, rank)
        self.strides = checks.int_tuple(owner, "strides", strides, rank)
        self.padding = checks.choice(owner, "padding", padding, ("valid", "same"))
        self.dilation_rate = checks.int_tuple(owner, "dilation_rate", dilation_rate, rank)
        if output_padding is None:
            self.output_padding: tuple[int, ...] | None = None
        else:
            pads = (
                (output_padding,) * rank
                if isinstance(output_padding, int)
                else tuple(output_padding)
            )
            if len(pads) != rank or not all(
                isinstance(p, int) and 0 <= p < s for p, s in zip(pads, self.strides, strict=True)
            ):
                raise ArgumentError(
                    f"{owner}: expected `output_padding` to be None or {rank} int(s), each "
                    f"non-negative and less than the stride. Received: output_padding="
                    f"{output_padding!r}, strides={self.strides}"
                )
            self.output_padding = pads
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
                "weight": (
                    "kernel_regularizer",
                    kernel_regularizer,
                    "kernel_constraint",
                    kernel_constraint,
                ),
                "bias": ("bias_regularizer", bias_regularizer, "bias_constraint", bias_constraint),
            },
            activity_regularizer,
        )
        axes = list(range(1, rank + 1))
        self._to_channels_first = (0, rank + 1, *axes)
        self._to_channels_last = (0, *(a + 1 for a in axes), 1)
        self.in_channels: int | None = None
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self.built = False
        if self.input_shape is not None:
            self._build_from_shape(self.input_shape, owner)

    def _build(
        self, channels: int, *, device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        rank = self.rank
        self.in_channels = channels
        # Keras kernel (*kernel_size, filters, in) -> torch weight (in, filters, *kernel_size).
        order = (rank + 1, rank, *range(rank))
        self.weight = make_weight(
            (*self.kernel_size, self.filters, channels),
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
        return channels_from(state_dict, prefix + "weight", 0)

    def _keras_layout(self, path: str, tensor: Tensor) -> Tensor:
        if path != "weight":
            return tensor
        return tensor.permute(*range(2, self.rank + 2), 1, 0)

    def _crops(self, sizes: tuple[int, ...]) -> list[tuple[int, int]]:
        """``(crop_before, crop_after)`` per axis of the full transposed convolution (negative: pad)."""
        crops = []
        for i, size in enumerate(sizes):
            k, s, d = self.kernel_size[i], self.strides[i], self.dilation_rate[i]
            op = None if self.output_padding is None else self.output_padding[i]
            target = deconv_output_length(size, k, s, self.padding, op, d)
            full = (size - 1) * s + (k - 1) * d + 1
            before = 0
            if self.padding == "same":
                before = max((size - 1) * s + (k - 1) * d + 1 - target, 0) // 2
            crops.append((before, full - before - target))
        return crops

    def forward_preactivation(self, x: Tensor) -> Tensor:
        """The transposed convolution plus bias, without the activation."""
        if not self.built:
            self._build_from_input(x)
        crops = self._crops(tuple(x.shape[1 : self.rank + 1]))
        symmetric = all(b == a and b >= 0 for b, a in crops)
        padding = tuple(b for b, _ in crops) if symmetric else (0,) * self.rank
        y = type(self)._conv(
            x.permute(self._to_channels_first),
            self.weight,
            self.bias if symmetric else None,
            self.strides,
            padding,
            0,
            1,
            self.dilation_rate,
        )
        if not symmetric:
            spec: list[int] = []
            for before, after in reversed(crops):
                spec += [-before, -after]  # F.pad crops with negative sizes, pads with positive
            y = F.pad(y, spec)
            if self.bias is not None:
                y = y + self.bias.view(-1, *(1,) * self.rank)
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
            f"in_channels={self.in_channels}",
            f"activation={self.activation_name!r}",
            super()._describe(),
        )


_ARGS_DOC = """
    Args:
        filters: number of output channels (positive).
        kernel_size: window size (int or tuple).
        strides: the upsampling factor (int or tuple).
        padding: ``"valid"`` or ``"same"`` (output ``size * strides``).
        output_padding: extra size at the end of each axis (less than the stride), or None.
        dilation_rate: spacing of the kernel taps.
        activation: a name from :mod:`epochal.activations`, a callable, or None.
        use_bias: whether to add a bias.
        kernel_initializer: initializer of the Keras-layout ``(*kernel_size, filters, in)`` kernel.
        bias_initializer: initializer of the bias.
        kernel_regularizer, bias_regularizer, activity_regularizer: ``keras.regularizers`` penalties.
        kernel_constraint, bias_constraint: ``keras.constraints`` applied after each step.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.
"""


def _make(rank: int, conv: Callable[..., Tensor], example: str) -> type[_ConvTranspose]:
    class ConvTranspose(_ConvTranspose):
        def __init__(
            self,
            filters: int,
            kernel_size: int | tuple[int, ...],
            strides: int | tuple[int, ...] = 1,
            padding: Literal["valid", "same"] = "valid",
            output_padding: int | tuple[int, ...] | None = None,
            dilation_rate: int | tuple[int, ...] = 1,
            activation: str | activations.ActivationFn | None = None,
            use_bias: bool = True,
            kernel_initializer: str | initializers.Initializer = "glorot_uniform",
            bias_initializer: str | initializers.Initializer = "zeros",
            kernel_regularizer: Any = None,
            bias_regularizer: Any = None,
            activity_regularizer: Any = None,
            kernel_constraint: Any = None,
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
                output_padding,
                dilation_rate,
                activation,
                use_bias,
                kernel_initializer,
                bias_initializer,
                kernel_regularizer,
                bias_regularizer,
                activity_regularizer,
                kernel_constraint,
                bias_constraint,
                input_shape,
                name,
            )

    ConvTranspose.rank = rank
    ConvTranspose._conv = conv
    ConvTranspose.__doc__ = example + _ARGS_DOC
    return ConvTranspose


class Conv1DTranspose(_make(1, F.conv_transpose1d, "")):  # type: ignore[misc]
    """Transposed 1-D convolution on ``(N, steps, C)``: ``(N, steps', filters)``.

    Example:
        >>> Conv1DTranspose(4, 3, strides=2, padding="same")(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 10, 4])
    """


class Conv2DTranspose(_make(2, F.conv_transpose2d, "")):  # type: ignore[misc]
    """Transposed 2-D convolution on ``(N, H, W, C)``: ``(N, H', W', filters)``.

    Example:
        >>> Conv2DTranspose(4, 3, strides=2, padding="same")(torch.zeros(2, 5, 5, 3)).shape
        torch.Size([2, 10, 10, 4])
    """


class Conv3DTranspose(_make(3, F.conv_transpose3d, "")):  # type: ignore[misc]
    """Transposed 3-D convolution on ``(N, D, H, W, C)``: ``(N, D', H', W', filters)``.

    Example:
        >>> Conv3DTranspose(2, 2, strides=2)(torch.zeros(1, 2, 3, 4, 3)).shape
        torch.Size([1, 4, 6, 8, 2])
    """


for _cls in (Conv1DTranspose, Conv2DTranspose, Conv3DTranspose):
    _cls.__doc__ = (_cls.__doc__ or "").rstrip() + "\n" + _ARGS_DOC
del _cls
