"""Regularization layers active in training only: `SpatialDropout1D/2D/3D`, `GaussianNoise`,
`GaussianDropout`, and `ActivityRegularization`.

Randomness comes from torch's global RNG, which an epochal run owns and
checkpoints; ``seed`` is accepted for Keras compatibility and not used.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from epochal.errors import DataError
from epochal.layers import _checks as checks
from epochal.layers import _penalties
from epochal.layers._base import Layer, Shape, join_parts
from epochal.layers._masking import pass_mask


class _SpatialDropout(Layer):
    """Drops whole channels (the same ones at every position of a sample)."""

    rank: ClassVar[int]

    def __init__(
        self,
        rate: float,
        seed: int | None = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        owner = type(self).__name__
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.rate = checks.number_in(owner, "rate", rate, 0.0, 1.0)
        self.seed = checks.optional_int(owner, "seed", seed)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != self.rank + 2:
            raise DataError(
                f"{type(self).__name__}: expected an input with {self.rank} spatial axes and "
                f"channels last. Received: shape={tuple(x.shape)}"
            )
        if not self.training or self.rate == 0.0:
            return x
        keep = F.dropout(x.new_ones(x.shape[0], *(1,) * self.rank, x.shape[-1]), self.rate, True)
        return pass_mask(x, x * keep)

    def _describe(self) -> str:
        return join_parts(f"rate={self.rate}", super()._describe())


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels of ``(N, steps, C)``: a dropped channel is 0 at every step.

    Args:
        rate: the fraction of channels to drop.
        seed: accepted for Keras compatibility; the run's seed determines the masks.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> SpatialDropout1D(0.5).eval()(torch.ones(1, 3, 2)).sum().item()
        6.0
    """

    rank = 1


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole channels of ``(N, H, W, C)`` (feature maps).

    Args:
        rate: the fraction of channels to drop.
        seed: accepted for Keras compatibility.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> SpatialDropout2D(0.5).eval()(torch.ones(1, 2, 2, 2)).sum().item()
        8.0
    """

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole channels of ``(N, D, H, W, C)``.

    Args:
        rate: the fraction of channels to drop.
        seed: accepted for Keras compatibility.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> SpatialDropout3D(0.5).eval()(torch.ones(1, 1, 2, 2, 2)).sum().item()
        8.0
    """

    rank = 3


class GaussianNoise(Layer):
    """Adds ``N(0, stddev**2)`` noise in training; the identity otherwise.

    Args:
        stddev: the noise's standard deviation (non-negative).
        seed: accepted for Keras compatibility.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> GaussianNoise(0.1).eval()(torch.ones(2)).tolist()
        [1.0, 1.0]
    """

    def __init__(
        self,
        stddev: float,
        seed: int | None = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="GaussianNoise")
        self.stddev = checks.number_in("GaussianNoise", "stddev", stddev, 0.0, float("inf"))
        self.seed = checks.optional_int("GaussianNoise", "seed", seed)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.stddev == 0.0:
            return x
        return pass_mask(x, x + torch.randn_like(x) * self.stddev)

    def _describe(self) -> str:
        return join_parts(f"stddev={self.stddev}", super()._describe())


class GaussianDropout(Layer):
    """Multiplies by ``N(1, rate / (1 - rate))`` noise in training; the identity otherwise.

    Args:
        rate: the drop probability of the equivalent dropout, in ``[0, 1)``.
        seed: accepted for Keras compatibility.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> GaussianDropout(0.2).eval()(torch.ones(2)).tolist()
        [1.0, 1.0]
    """

    def __init__(
        self,
        rate: float,
        seed: int | None = None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="GaussianDropout")
        self.rate = checks.number_in("GaussianDropout", "rate", rate, 0.0, 1.0, include_high=False)
        self.seed = checks.optional_int("GaussianDropout", "seed", seed)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.rate == 0.0:
            return x
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return pass_mask(x, x * (1.0 + torch.randn_like(x) * stddev))

    def _describe(self) -> str:
        return join_parts(f"rate={self.rate}", super()._describe())


class ActivityRegularization(Layer):
    """The identity, adding ``l1 * sum(|x|) + l2 * sum(x ** 2)`` of its input to the training loss.

    Args:
        l1: the L1 factor.
        l2: the L2 factor.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> ActivityRegularization(l2=0.1)(torch.ones(2)).tolist()
        [1.0, 1.0]
    """

    def __init__(
        self,
        l1: float = 0.0,
        l2: float = 0.0,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        from epochal.keras.regularizers import L1L2

        super().__init__(name=name, input_shape=input_shape, owner="ActivityRegularization")
        regularizer: Any = L1L2(l1=l1, l2=l2)
        self.l1, self.l2 = regularizer.l1, regularizer.l2
        _penalties.attach(self, "ActivityRegularization", {}, regularizer)

    def forward(self, x: Tensor) -> Tensor:
        return x
