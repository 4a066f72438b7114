"""`BatchNormalization`, with Keras's semantics on channels-last data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from epochal import initializers
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.layers import _checks as checks
from epochal.layers._base import Layer, Shape, channels_from, join_parts, make_weight


class BatchNormalization(Layer):
    """Normalizes each channel with batch statistics in training, moving averages in eval.

    Statistics are taken over every axis but ``axis`` (the last one by
    default, so it works on ``(N, C)``, ``(N, steps, C)`` and ``(N, H, W, C)``
    alike). Keras's semantics throughout:

    - training: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the
      batch mean and *biased* variance, and the moving statistics become
      ``moving * momentum + batch * (1 - momentum)`` (so ``momentum=0.99`` is
      torch's ``momentum=0.01``; the moving variance uses the same biased
      variance, where torch would use the unbiased one);
    - eval: the moving statistics replace the batch statistics.

    Parameters ``weight`` (gamma) and ``bias`` (beta), buffers ``running_mean``
    and ``running_var``. Lazy in the channel count unless ``input_shape`` is given.

    Args:
        axis: the channel axis (an int, not the batch axis 0).
        momentum: weight of the old moving statistics, in ``[0, 1]``.
        epsilon: added to the variance (positive).
        center: whether to learn the offset ``beta``.
        scale: whether to learn the scale ``gamma``.
        beta_initializer: initializer of ``beta``.
        gamma_initializer: initializer of ``gamma``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> bn = BatchNormalization()
        >>> bn(torch.randn(8, 4, 4, 3)).shape
        torch.Size([8, 4, 4, 3])
    """

    def __init__(
        self,
        axis: int = -1,
        *,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: str | initializers.Initializer = "zeros",
        gamma_initializer: str | initializers.Initializer = "ones",
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        owner = "BatchNormalization"
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ArgumentTypeError(
                f"{owner}: expected `axis` to be an int. "
                f"Received: axis={axis!r} of type {type(axis).__name__}"
            )
        if axis == 0:
            raise ArgumentError(
                f"{owner}: expected `axis` to be a channel axis, not the batch axis 0. "
                "Received: axis=0"
            )
        self.axis = axis
        self._channel_axis = axis
        self.momentum = checks.number_in(owner, "momentum", momentum, 0.0, 1.0)
        self.epsilon = checks.number_in(
            owner, "epsilon", epsilon, 0.0, float("inf"), include_low=False, include_high=False
        )
        self.center = checks.boolean(owner, "center", center)
        self.scale = checks.boolean(owner, "scale", scale)
        self.beta_initializer = checks.initializer(owner, "beta_initializer", beta_initializer)
        self.gamma_initializer = checks.initializer(owner, "gamma_initializer", gamma_initializer)
        self.num_features: int | None = None
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self.register_buffer("running_mean", None)
        self.register_buffer("running_var", None)
        self.built = False
        if self.input_shape is not None:
            self._build_from_shape(self.input_shape, owner)

    def _build(
        self, channels: int, *, device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        self.num_features = channels
        if self.scale:
            self.weight = make_weight(
                (channels,),
                self.gamma_initializer,
                lambda t: t,
                device=device,
                dtype=dtype,
                initialize=initialize,
            )
        if self.center:
            self.bias = make_weight(
                (channels,),
                self.beta_initializer,
                lambda t: t,
                device=device,
                dtype=dtype,
                initialize=initialize,
            )
        self.running_mean = torch.zeros(channels, device=device, dtype=dtype)
        self.running_var = torch.ones(channels, device=device, dtype=dtype)
        self.built = True

    def _channels_from_state(self, state_dict: Mapping[str, Any], prefix: str) -> int | None:
        return channels_from(state_dict, prefix + "running_mean", 0)

    def forward(self, x: Tensor) -> Tensor:
        if not self.built:
            self._build_from_input(x)
        axis = self.axis if self.axis > 0 else x.dim() + self.axis
        # Per-channel vectors broadcast against x once the axes after `axis` are added.
        trailing = (1,) * (x.dim() - 1 - axis)
        stats_dtype = self.running_mean.dtype
        xs = x if x.dtype == stats_dtype else x.to(stats_dtype)  # half inputs: fp32 statistics
        if self.training:
            dims = [d for d in range(x.dim()) if d != axis]
            var, mean = torch.var_mean(xs, dim=dims, correction=0, keepdim=True)
            with torch.no_grad():
                weight = 1.0 - self.momentum
                self.running_mean.lerp_(mean.detach().reshape(-1), weight)
                self.running_var.lerp_(var.detach().reshape(-1), weight)
            inv = torch.rsqrt(var + self.epsilon)
            if self.weight is not None:
                inv = inv * self.weight.view(-1, *trailing)
            y = (xs - mean) * inv
            if self.bias is not None:
                y = y + self.bias.view(-1, *trailing)
        else:
            inv = torch.rsqrt(self.running_var + self.epsilon)
            if self.weight is not None:
                inv = inv * self.weight
            shift = -self.running_mean * inv
            if self.bias is not None:
                shift = shift + self.bias
            y = torch.addcmul(shift.view(-1, *trailing), xs, inv.view(-1, *trailing))
        return y if y.dtype == x.dtype else y.to(x.dtype)

    def _describe(self) -> str:
        return join_parts(
            f"axis={self.axis}",
            f"num_features={self.num_features}",
            f"momentum={self.momentum}",
            f"epsilon={self.epsilon}",
            super()._describe(),
        )
