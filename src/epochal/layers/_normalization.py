"""`BatchNormalization`, `LayerNormalization`, `GroupNormalization`, `UnitNormalization`,
with Keras's semantics (and defaults: ``epsilon=1e-3``) on channels-last data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from epochal import initializers
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.layers import _checks as checks
from epochal.layers import _penalties
from epochal.layers._base import Layer, Shape, channels_from, join_parts, make_weight
from epochal.layers._masking import pass_mask


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
        beta_regularizer, gamma_regularizer: ``keras.regularizers`` penalties.
        beta_constraint, gamma_constraint: ``keras.constraints`` applied after each step.
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
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
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
        _norm_penalties(
            self, owner, (beta_regularizer, beta_constraint), (gamma_regularizer, gamma_constraint)
        )
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


def _axes(owner: str, axis: object) -> tuple[int, ...]:
    items = axis if isinstance(axis, (list, tuple)) else (axis,)
    if not items or not all(isinstance(a, int) and not isinstance(a, bool) for a in items):
        raise ArgumentTypeError(
            f"{owner}: expected `axis` to be an int or a list of ints. Received: axis={axis!r}"
        )
    if 0 in items:
        raise ArgumentError(
            f"{owner}: expected `axis` not to include the batch axis 0. Received: axis={axis!r}"
        )
    return tuple(int(a) for a in items)


def _norm_penalties(
    layer: Layer, owner: str, beta: tuple[Any, Any], gamma: tuple[Any, Any]
) -> None:
    _penalties.attach(
        layer,
        owner,
        {
            "weight": ("gamma_regularizer", gamma[0], "gamma_constraint", gamma[1]),
            "bias": ("beta_regularizer", beta[0], "beta_constraint", beta[1]),
        },
    )


class LayerNormalization(Layer):
    """Normalizes each sample over ``axis`` (the features by default), then scales and shifts.

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean and
    (biased) variance over ``axis``, per sample, as Keras computes it; with
    ``rms_scaling=True``, ``y = gamma * x / sqrt(mean(x ** 2) + epsilon)``.
    ``gamma`` (``weight``) and ``beta`` (``bias``) have the size of the
    normalized axes; lazy until the first call unless ``input_shape`` is given.

    Args:
        axis: the axis or axes to normalize over (not the batch axis 0).
        epsilon: added to the variance (Keras's default 1e-3, not torch's 1e-5).
        center: learn ``beta``.
        scale: learn ``gamma``.
        rms_scaling: RMS normalization (no centering, no ``beta``).
        beta_initializer, gamma_initializer: initializers (zeros, ones).
        beta_regularizer, gamma_regularizer: ``keras.regularizers`` penalties.
        beta_constraint, gamma_constraint: ``keras.constraints`` applied after each step.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> y = LayerNormalization()(torch.tensor([[1.0, 3.0]]))
        >>> [round(v, 3) for v in y.flatten().tolist()]
        [-0.999, 0.999]
    """

    def __init__(
        self,
        axis: int | list[int] | tuple[int, ...] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        rms_scaling: bool = False,
        beta_initializer: str | initializers.Initializer = "zeros",
        gamma_initializer: str | initializers.Initializer = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self._axes = _axes(owner, axis)
        self.axis = axis if isinstance(axis, int) else list(self._axes)
        self.epsilon = checks.number_in(
            owner, "epsilon", epsilon, 0.0, float("inf"), include_low=False, include_high=False
        )
        self.center = checks.boolean(owner, "center", center)
        self.scale = checks.boolean(owner, "scale", scale)
        self.rms_scaling = checks.boolean(owner, "rms_scaling", rms_scaling)
        self.beta_initializer = checks.initializer(owner, "beta_initializer", beta_initializer)
        self.gamma_initializer = checks.initializer(owner, "gamma_initializer", gamma_initializer)
        _norm_penalties(
            self, owner, (beta_regularizer, beta_constraint), (gamma_regularizer, gamma_constraint)
        )
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self._param_shape: tuple[int, ...] | None = None
        self.built = False
        if self.input_shape is not None:
            dims = [self.input_shape[a - 1 if a > 0 else a] for a in self._axes]
            if None in dims:
                raise ArgumentError(
                    f"{owner}: expected the normalized axes of `input_shape` to have known sizes. "
                    f"Received: input_shape={self.input_shape!r}, axis={axis!r}"
                )
            self._build_sizes(
                tuple(int(d or 0) for d in dims),
                torch.device("cpu"),
                torch.get_default_dtype(),
                True,
            )

    def _build_sizes(
        self, sizes: tuple[int, ...], device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        self._param_shape = sizes
        if self.scale:
            self.weight = make_weight(
                sizes,
                self.gamma_initializer,
                lambda t: t,
                device=device,
                dtype=dtype,
                initialize=initialize,
            )
        if self.center and not self.rms_scaling:
            self.bias = make_weight(
                sizes,
                self.beta_initializer,
                lambda t: t,
                device=device,
                dtype=dtype,
                initialize=initialize,
            )
        self.built = True

    def _build_from_input(self, x: Tensor) -> None:
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        sizes = tuple(int(x.shape[a]) for a in self._axes)
        with torch.inference_mode(False):
            self._build_sizes(sizes, x.device, dtype, True)

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, *args: Any) -> None:
        if not self.built:
            found = state_dict.get(prefix + "weight", state_dict.get(prefix + "bias"))
            if found is not None:
                with torch.inference_mode(False):
                    self._build_sizes(
                        tuple(found.shape), torch.device("cpu"), torch.get_default_dtype(), False
                    )
        nn.Module._load_from_state_dict(self, state_dict, prefix, *args)

    def forward(self, x: Tensor) -> Tensor:
        if not self.built:
            self._build_from_input(x)
        rank = x.dim()
        axes = sorted(a % rank for a in self._axes)
        trailing = axes == list(range(rank - len(axes), rank))
        if trailing and not self.rms_scaling:
            # torch's fused kernel (the params' axis order is the input's).
            shape = tuple(x.shape[rank - len(axes) :])
            weight = (
                None if self.weight is None else self._aligned(self.weight, axes, rank, flat=True)
            )
            bias = None if self.bias is None else self._aligned(self.bias, axes, rank, flat=True)
            return pass_mask(x, F.layer_norm(x, shape, weight, bias, self.epsilon))
        xs = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        if self.rms_scaling:
            y = xs * torch.rsqrt(xs.square().mean(dim=axes, keepdim=True) + self.epsilon)
        else:
            var, mean = torch.var_mean(xs, dim=axes, correction=0, keepdim=True)
            y = (xs - mean) * torch.rsqrt(var + self.epsilon)
        y = y.to(x.dtype)
        if self.weight is not None:
            y = y * self._aligned(self.weight, axes, rank, flat=False)
        if self.bias is not None:
            y = y + self._aligned(self.bias, axes, rank, flat=False)
        return pass_mask(x, y)

    def _aligned(self, param: Tensor, axes: list[int], rank: int, *, flat: bool) -> Tensor:
        """``param`` (in ``axis`` order) with its axes in input order, broadcastable if not ``flat``."""
        order = sorted(range(len(self._axes)), key=lambda i: self._axes[i] % rank)
        p = param.permute(order) if order != list(range(len(order))) else param
        if flat:
            return p
        shape = [1] * rank
        for i, a in enumerate(axes):
            shape[a] = p.shape[i]
        return p.reshape(shape)

    def _describe(self) -> str:
        return join_parts(f"axis={self.axis}", f"epsilon={self.epsilon}", super()._describe())


class GroupNormalization(Layer):
    """Normalizes each sample over groups of channels (and every spatial axis), then scales and shifts.

    The channels (``axis``, the last by default) are split into ``groups``
    groups; mean and (biased) variance are taken per sample and group, over the
    group's channels and every other non-batch axis, as in Keras.
    ``groups=-1`` makes one group per channel (instance normalization).

    Args:
        groups: the number of groups; must divide the channel count.
        axis: the channel axis.
        epsilon: added to the variance (Keras's default 1e-3).
        center, scale: learn ``beta`` / ``gamma``.
        beta_initializer, gamma_initializer: initializers (zeros, ones).
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: penalties and constraints.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> GroupNormalization(groups=2)(torch.randn(2, 5, 5, 4)).shape
        torch.Size([2, 5, 5, 4])
    """

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: str | initializers.Initializer = "zeros",
        gamma_initializer: str | initializers.Initializer = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        owner = "GroupNormalization"
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        if groups != -1:
            checks.positive_int(owner, "groups", groups)
        self.groups = int(groups)
        self.axis = _axes(owner, axis)[0]
        self._channel_axis = self.axis
        self.epsilon = checks.number_in(
            owner, "epsilon", epsilon, 0.0, float("inf"), include_low=False, include_high=False
        )
        self.center = checks.boolean(owner, "center", center)
        self.scale = checks.boolean(owner, "scale", scale)
        self.beta_initializer = checks.initializer(owner, "beta_initializer", beta_initializer)
        self.gamma_initializer = checks.initializer(owner, "gamma_initializer", gamma_initializer)
        _norm_penalties(
            self, owner, (beta_regularizer, beta_constraint), (gamma_regularizer, gamma_constraint)
        )
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self.built = False
        if self.input_shape is not None:
            self._build_from_shape(self.input_shape, owner)

    def _build(
        self, channels: int, *, device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        groups = channels if self.groups == -1 else self.groups
        if channels % groups:
            raise ArgumentError(
                f"GroupNormalization: expected `groups` to divide the number of channels "
                f"({channels}). Received: groups={self.groups}"
            )
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
        self._groups = groups
        self.built = True

    def _channels_from_state(self, state_dict: Mapping[str, Any], prefix: str) -> int | None:
        return channels_from(state_dict, prefix + ("weight" if self.scale else "bias"), 0)

    def forward(self, x: Tensor) -> Tensor:
        if not self.built:
            self._build_from_input(x)
        axis = self.axis % x.dim()
        y = F.group_norm(x.movedim(axis, 1), self._groups, self.weight, self.bias, self.epsilon)
        return y.movedim(1, axis)

    def _describe(self) -> str:
        return join_parts(f"groups={self.groups}", f"epsilon={self.epsilon}", super()._describe())


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis``: ``x / sqrt(max(sum(x ** 2), 1e-12))``.

    Args:
        axis: the axis or axes of the norm.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> UnitNormalization()(torch.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """

    def __init__(
        self,
        axis: int | list[int] | tuple[int, ...] = -1,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="UnitNormalization")
        self._axes = _axes("UnitNormalization", axis)
        self.axis = axis if isinstance(axis, int) else list(self._axes)

    def forward(self, x: Tensor) -> Tensor:
        square_sum = x.square().sum(dim=self._axes, keepdim=True)
        return x * torch.rsqrt(square_sum.clamp(min=1e-12))
