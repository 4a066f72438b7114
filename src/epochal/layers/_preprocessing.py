"""Preprocessing layers: `Rescaling`, `Normalization` (with ``adapt``), `CategoryEncoding`, `Resizing`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from epochal.errors import ArgumentError, DataError
from epochal.layers import _checks as checks
from epochal.layers._base import Layer, Shape, join_parts

_EPSILON = 1e-7  # Keras's backend epsilon


def _float(x: Tensor) -> Tensor:
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


class Rescaling(Layer):
    """``x * scale + offset`` (for example ``Rescaling(1 / 255)`` for pixel values).

    Args:
        scale: the factor (a number).
        offset: added after scaling.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> Rescaling(1 / 255)(torch.tensor([255])).tolist()
        [1.0]
    """

    def __init__(
        self,
        scale: float,
        offset: float = 0.0,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Rescaling")
        inf = float("inf")
        self.scale = checks.number_in("Rescaling", "scale", scale, -inf, inf)
        self.offset = checks.number_in("Rescaling", "offset", offset, -inf, inf)

    def forward(self, x: Tensor) -> Tensor:
        y = _float(x) * self.scale
        return y + self.offset if self.offset else y

    def _describe(self) -> str:
        return join_parts(
            f"scale={self.scale}",
            f"offset={self.offset}" if self.offset else "",
            super()._describe(),
        )


def _batches(data: Any) -> Iterable[Tensor]:
    """``data`` (an array, a tensor, a DataFrame, or an iterable of batches) as tensors."""
    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    if isinstance(data, (np.ndarray, Tensor, list)) and not (
        isinstance(data, list) and data and isinstance(data[0], (np.ndarray, Tensor))
    ):
        yield torch.as_tensor(np.asarray(data) if isinstance(data, list) else data)
        return
    for batch in data:
        if isinstance(batch, (tuple, list)) and batch and not isinstance(batch[0], (int, float)):
            batch = batch[0]  # (x, y) batches: adapt to x
        yield torch.as_tensor(np.asarray(batch) if not isinstance(batch, Tensor) else batch)


class Normalization(Layer):
    """``(x - mean) / sqrt(variance)`` per feature, with the statistics given or learned by ``adapt``.

    Statistics are kept per index of ``axis`` (the features, by default) and
    taken over every other axis; they are buffers (saved with the model),
    not trained.

    Args:
        axis: the axis (or axes) that keep separate statistics; None: one mean and variance.
        mean: the mean, if known (then ``variance`` too).
        variance: the variance, if known.
        invert: apply the inverse, ``x * sqrt(variance) + mean``.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> layer = Normalization()
        >>> layer.adapt(np.array([[0.0], [2.0]]))
        >>> layer(torch.tensor([[2.0]])).tolist()
        [[1.0]]
    """

    def __init__(
        self,
        axis: int | tuple[int, ...] | list[int] | None = -1,
        mean: Any = None,
        variance: Any = None,
        invert: bool = False,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        owner = "Normalization"
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        axes = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        if not all(isinstance(a, int) and not isinstance(a, bool) and a != 0 for a in axes):
            raise ArgumentError(
                f"{owner}: expected `axis` to be an int, a tuple of ints (not the batch axis 0) "
                f"or None. Received: axis={axis!r}"
            )
        self.axis = axis if axis is None or isinstance(axis, int) else list(axes)
        self._axes = axes
        self.invert = checks.boolean(owner, "invert", invert)
        if (mean is None) != (variance is None):
            raise ArgumentError(
                f"{owner}: expected both `mean` and `variance`, or neither. "
                f"Received: mean={mean!r}, variance={variance!r}"
            )
        self.register_buffer("mean", None)
        self.register_buffer("variance", None)
        if mean is not None:
            self.mean = torch.as_tensor(np.asarray(mean), dtype=torch.get_default_dtype())
            self.variance = torch.as_tensor(np.asarray(variance), dtype=torch.get_default_dtype())

    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the mean and variance of ``data`` (an array, tensor, DataFrame or iterable of batches).

        Args:
            data: the samples, batch axis first.
            batch_size: accepted for Keras compatibility.
            steps: read at most this many batches of an iterable.

        Raises:
            DataError: no samples, or batches whose feature axes differ.
        """
        count = 0
        total: Tensor | None = None
        total_sq: Tensor | None = None
        reduce: list[int] = []
        for index, batch in enumerate(_batches(data)):
            if steps is not None and index >= steps:
                break
            x = batch.to(torch.float64)
            if x.dim() == 1:
                x = x.unsqueeze(-1)
            keep = [a % x.dim() for a in self._axes]
            reduce = [d for d in range(x.dim()) if d not in keep]
            s = x.sum(dim=reduce, keepdim=True)
            sq = x.square().sum(dim=reduce, keepdim=True)
            if total is not None and s.shape != total.shape:
                raise DataError(
                    f"Normalization.adapt: batches differ in their feature axes: "
                    f"{tuple(total.shape)} and {tuple(s.shape)}"
                )
            total = s if total is None else total + s
            total_sq = sq if total_sq is None else total_sq + sq
            count += int(np.prod([x.shape[d] for d in reduce]))
        if total is None or total_sq is None or count == 0:
            raise DataError("Normalization.adapt: received no samples")
        mean = total / count
        variance = (total_sq / count - mean.square()).clamp(min=0.0)
        # Stored without the batch axis, broadcastable against (N, ...) inputs.
        device = self.mean.device if self.mean is not None else torch.device("cpu")
        self.mean = mean[0].to(device=device, dtype=torch.get_default_dtype())
        self.variance = variance[0].to(device=device, dtype=torch.get_default_dtype())

    def forward(self, x: Tensor) -> Tensor:
        x = _float(x)
        if self.mean is None or self.variance is None:
            # Not adapted yet: mean 0 and variance 1 until adapt() (Keras builds them so too).
            keep = [a % x.dim() for a in self._axes]
            shape = [x.shape[d] if d in keep else 1 for d in range(1, x.dim())]
            device = x.device if x.device.type != "meta" else torch.device("cpu")
            self.mean = torch.zeros(shape, device=device)
            self.variance = torch.ones(shape, device=device)
        mean = self.mean.to(device=x.device, dtype=x.dtype)
        variance = self.variance.to(device=x.device, dtype=x.dtype)
        if mean.numel() > 1 and mean.dim() != x.dim() - 1:
            # Given as a vector: lay it along the kept axes.
            keep = [a % x.dim() for a in self._axes]
            shape = [x.shape[d] if d in keep else 1 for d in range(1, x.dim())]
            mean, variance = mean.reshape(shape), variance.reshape(shape)
        if self.invert:
            return x * torch.sqrt(variance) + mean
        return (x - mean) / torch.sqrt(variance).clamp(min=_EPSILON)

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any) -> None:
        for key in ("mean", "variance"):
            if getattr(self, key) is None and prefix + key in state_dict:
                setattr(self, key, torch.empty(state_dict[prefix + key].shape))
        super()._load_from_state_dict(state_dict, prefix, *args)


class CategoryEncoding(Layer):
    """Integer ids to one-hot, multi-hot or count vectors of length ``num_tokens``.

    ``"one_hot"`` takes ``(N,)`` or ``(N, 1)`` ids and gives ``(N, num_tokens)``;
    ``"multi_hot"`` and ``"count"`` take ``(N, k)`` ids and mark (or count)
    each id of a sample.

    Args:
        num_tokens: the number of ids (ids run from 0 to ``num_tokens - 1``).
        output_mode: ``"one_hot"``, ``"multi_hot"`` (default) or ``"count"``.
        sparse: must be False.
        name: the layer's name.

    Example:
        >>> CategoryEncoding(4, output_mode="one_hot")(torch.tensor([3, 0])).tolist()
        [[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    """

    def __init__(
        self,
        num_tokens: int,
        output_mode: str = "multi_hot",
        sparse: bool = False,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        owner = "CategoryEncoding"
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.num_tokens = checks.positive_int(owner, "num_tokens", num_tokens)
        self.output_mode = checks.choice(
            owner, "output_mode", output_mode, ("one_hot", "multi_hot", "count")
        )
        if sparse:
            raise ArgumentError(
                f"{owner}: sparse=True is not supported (outputs are dense tensors)"
            )
        self.sparse = False

    def forward(self, x: Tensor) -> Tensor:
        ids = x.long() if x.is_floating_point() else x.to(torch.long)
        if (
            ids.device.type != "meta"
            and ids.numel()
            and (int(ids.min()) < 0 or int(ids.max()) >= self.num_tokens)
        ):
            raise DataError(
                f"CategoryEncoding: expected ids in [0, {self.num_tokens - 1}]. Received ids from "
                f"{int(ids.min())} to {int(ids.max())}"
            )
        if self.output_mode == "one_hot":
            if ids.dim() >= 2 and ids.shape[-1] == 1:
                ids = ids.squeeze(-1)
            return F.one_hot(ids, self.num_tokens).to(torch.get_default_dtype())
        if ids.dim() == 1:
            ids = ids.unsqueeze(-1)
        counts = torch.zeros(*ids.shape[:-1], self.num_tokens, device=ids.device)
        counts.scatter_add_(-1, ids, torch.ones(ids.shape, device=ids.device))
        return counts if self.output_mode == "count" else (counts > 0).to(counts.dtype)

    def _describe(self) -> str:
        return join_parts(
            f"num_tokens={self.num_tokens}",
            f"output_mode={self.output_mode!r}",
            super()._describe(),
        )


class Resizing(Layer):
    """Resizes images ``(N, H, W, C)`` (or one image ``(H, W, C)``) to ``(height, width)``.

    Interpolation as Keras resizes (half-pixel centers, no antialiasing).

    Args:
        height: the output height.
        width: the output width.
        interpolation: ``"bilinear"`` (default), ``"nearest"`` or ``"bicubic"``.
        crop_to_aspect_ratio: must be False.
        pad_to_aspect_ratio: must be False.
        name: the layer's name.

    Example:
        >>> Resizing(4, 6)(torch.zeros(2, 8, 8, 3)).shape
        torch.Size([2, 4, 6, 3])
    """

    _MODES: ClassVar[dict[str, str]] = {
        "bilinear": "bilinear",
        "nearest": "nearest-exact",
        "bicubic": "bicubic",
    }

    def __init__(
        self,
        height: int,
        width: int,
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        owner = "Resizing"
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.height = checks.positive_int(owner, "height", height)
        self.width = checks.positive_int(owner, "width", width)
        self.interpolation = checks.choice(
            owner, "interpolation", interpolation, tuple(self._MODES)
        )
        for flag, value in (
            ("crop_to_aspect_ratio", crop_to_aspect_ratio),
            ("pad_to_aspect_ratio", pad_to_aspect_ratio),
        ):
            if value:
                raise ArgumentError(f"{owner}: {flag}=True is not supported by epochal.keras")
        self.crop_to_aspect_ratio = False
        self.pad_to_aspect_ratio = False

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() not in (3, 4):
            raise DataError(
                f"Resizing: expected images (batch, height, width, channels) or one image. "
                f"Received: shape={tuple(x.shape)}"
            )
        single = x.dim() == 3
        batch = _float(x.unsqueeze(0) if single else x)
        mode = self._MODES[self.interpolation]
        corners = False if mode in ("bilinear", "bicubic") else None
        y = F.interpolate(
            batch.permute(0, 3, 1, 2),
            size=(self.height, self.width),
            mode=mode,
            align_corners=corners,
        )
        y = y.permute(0, 2, 3, 1)
        return y[0] if single else y

    def _describe(self) -> str:
        return join_parts(
            f"height={self.height}", f"width={self.width}", f"interpolation={self.interpolation!r}"
        )
