"""The activation layers: `ReLU`, `LeakyReLU`, `PReLU`, `ELU`, `Softmax`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from epochal import initializers
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.layers import _checks as checks
from epochal.layers._base import ActivationMixin, Layer, Shape, join_parts, make_weight

_INF = float("inf")


class ReLU(Layer):
    """Keras's ``ReLU``: ``max_value`` above it, ``x`` from ``threshold``, else
    ``negative_slope * (x - threshold)``.

    Args:
        max_value: the ceiling (None: no ceiling).
        negative_slope: the slope below ``threshold`` (non-negative).
        threshold: where the linear part starts.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> ReLU(max_value=6.0)(torch.tensor([-1.0, 3.0, 9.0]))
        tensor([0., 3., 6.])
    """

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="ReLU")
        self.max_value = (
            None
            if max_value is None
            else checks.number_in("ReLU", "max_value", max_value, 0.0, _INF)
        )
        self.negative_slope = checks.number_in("ReLU", "negative_slope", negative_slope, 0.0, _INF)
        self.threshold = checks.number_in("ReLU", "threshold", threshold, -_INF, _INF)
        self._plain = self.negative_slope == 0.0 and self.threshold == 0.0

    def forward(self, x: Tensor) -> Tensor:
        if self._plain:
            return torch.relu(x) if self.max_value is None else x.clamp(0.0, self.max_value)
        below = self.negative_slope * (x - self.threshold)
        y = torch.where(x >= self.threshold, x, below)
        return y if self.max_value is None else y.clamp(max=self.max_value)

    def _describe(self) -> str:
        return join_parts(
            "" if self.max_value is None else f"max_value={self.max_value}",
            f"negative_slope={self.negative_slope}" if self.negative_slope else "",
            f"threshold={self.threshold}" if self.threshold else "",
            super()._describe(),
        )


class LeakyReLU(Layer):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below (Keras's default slope 0.3).

    Args:
        negative_slope: the slope below 0 (non-negative). Keras 2's ``alpha`` is accepted.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> LeakyReLU()(torch.tensor([-1.0, 2.0]))
        tensor([-0.3000,  2.0000])
    """

    def __init__(
        self,
        negative_slope: float = 0.3,
        *,
        alpha: float | None = None,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="LeakyReLU")
        slope = negative_slope if alpha is None else alpha
        self.negative_slope = checks.number_in("LeakyReLU", "negative_slope", slope, 0.0, _INF)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def _describe(self) -> str:
        return join_parts(f"negative_slope={self.negative_slope}", super()._describe())


class ELU(Layer):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` below.

    Args:
        alpha: the scale of the negative part.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> ELU()(torch.tensor([0.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(
        self, alpha: float = 1.0, *, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="ELU")
        self.alpha = checks.number_in("ELU", "alpha", alpha, -_INF, _INF)

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def _describe(self) -> str:
        return join_parts(f"alpha={self.alpha}", super()._describe())


class Softmax(ActivationMixin, Layer):
    """Softmax over ``axis``; with a ``mask``, masked positions get probability 0.

    Args:
        axis: the axis (or tuple of axes) to normalize over.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> Softmax()(torch.zeros(1, 4))
        tensor([[0.2500, 0.2500, 0.2500, 0.2500]])
    """

    def __init__(
        self,
        axis: int | tuple[int, ...] = -1,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Softmax")
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise ArgumentTypeError(
                f"Softmax: expected `axis` to be an int or a tuple of ints. Received: axis={axis!r}"
            )
        self.axis = axis if isinstance(axis, int) else tuple(axes)
        self._axes = tuple(axes)
        # The training loop may hand a logits loss this layer's input (see ActivationMixin).
        self.activation_name = "softmax" if self._axes in ((-1,),) else None
        self._activation_fn = None

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is not None:
            # Keras's large negative, not -inf: a fully masked row stays finite (uniform).
            x = x + (1.0 - mask.to(x.dtype)) * (-3e4 if x.dtype == torch.float16 else -1e9)
        if len(self._axes) == 1:
            return torch.softmax(x, dim=self._axes[0])
        return torch.exp(x - torch.logsumexp(x, dim=self._axes, keepdim=True))

    def forward_preactivation(self, x: Tensor) -> Tensor:
        """The input unchanged (the logits)."""
        return x

    def _describe(self) -> str:
        return join_parts(f"axis={self.axis}", super()._describe())


class PReLU(Layer):
    """``x`` for ``x >= 0``, ``alpha * x`` below, with a learned ``alpha`` per input position.

    ``alpha`` has the input's shape without the batch axis (the axes in
    ``shared_axes`` share one value), lazy until the first call.

    Args:
        alpha_initializer: initializer of ``alpha`` (zeros: the layer starts as a ReLU).
        alpha_regularizer: a `keras.regularizers` penalty on ``alpha``.
        alpha_constraint: a `keras.constraints` constraint on ``alpha``.
        shared_axes: axes (counting the batch axis as 0) that share one ``alpha``,
            e.g. ``[1, 2]`` for one value per channel of an image.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> PReLU()(torch.tensor([[-1.0, 2.0]]))
        tensor([[0., 2.]], grad_fn=<...>)
    """

    def __init__(
        self,
        alpha_initializer: str | initializers.Initializer = "zeros",
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: int | list[int] | tuple[int, ...] | None = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        from epochal.layers import _penalties

        super().__init__(name=name, input_shape=input_shape, owner="PReLU")
        self.alpha_initializer = checks.initializer("PReLU", "alpha_initializer", alpha_initializer)
        axes = (
            ()
            if shared_axes is None
            else (shared_axes,)
            if isinstance(shared_axes, int)
            else shared_axes
        )
        if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
            raise ArgumentError(
                "PReLU: expected `shared_axes` to be axes >= 1 (0 is the batch axis). "
                f"Received: shared_axes={shared_axes!r}"
            )
        self.shared_axes = tuple(axes)
        _penalties.attach(
            self,
            "PReLU",
            {
                "alpha": (
                    "alpha_regularizer",
                    alpha_regularizer,
                    "alpha_constraint",
                    alpha_constraint,
                )
            },
        )
        self.register_parameter("alpha", None)
        self.built = False
        if self.input_shape is not None and None not in self.input_shape:
            self._build_shape(
                tuple(int(d or 0) for d in self.input_shape),
                torch.device("cpu"),
                torch.get_default_dtype(),
                True,
            )

    def _build_shape(
        self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        dims = tuple(1 if i + 1 in self.shared_axes else d for i, d in enumerate(shape))
        self.alpha = make_weight(
            dims,
            self.alpha_initializer,
            lambda t: t,
            device=device,
            dtype=dtype,
            initialize=initialize,
        )
        self.built = True

    def _build_from_input(self, x: Tensor) -> None:
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        with torch.inference_mode(False):
            self._build_shape(tuple(x.shape[1:]), x.device, dtype, True)

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, *args: Any) -> None:
        alpha = state_dict.get(prefix + "alpha")
        if not self.built and alpha is not None:
            with torch.inference_mode(False):
                self._build_shape(
                    tuple(alpha.shape), torch.device("cpu"), torch.get_default_dtype(), False
                )
        nn_load = super(Layer, self)._load_from_state_dict
        nn_load(state_dict, prefix, *args)

    def forward(self, x: Tensor) -> Tensor:
        if not self.built:
            self._build_from_input(x)
        return torch.where(x >= 0, x, self.alpha * x)

    def _describe(self) -> str:
        return join_parts(
            f"shared_axes={self.shared_axes}" if self.shared_axes else "", super()._describe()
        )
