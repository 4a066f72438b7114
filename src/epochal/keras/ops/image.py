"""``keras.ops.image``: the image ops Keras programs use, on channels-last images ``(N, H, W, C)`` or ``(H, W, C)``."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from epochal.errors import ArgumentError
from epochal.keras._unavailable import unavailable
from epochal.keras.ops._convert import floating

__all__ = ["extract_patches", "resize"]

_MODES = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic", "area": "area"}


def _batched(images: Any, owner: str, data_format: str | None) -> tuple[Any, bool]:
    """``images`` as ``(N, C, H, W)``, and whether a batch axis was added."""
    if data_format not in (None, "channels_last"):
        raise ArgumentError(
            f"keras.ops.image.{owner}: only channels_last images are supported (Keras's default). "
            f"Received: data_format={data_format!r}"
        )
    x = floating(images)
    if x.ndim not in (3, 4):
        raise ArgumentError(
            f"keras.ops.image.{owner}: expected images of shape (N, H, W, C) or (H, W, C). "
            f"Received shape {tuple(x.shape)}"
        )
    single = x.ndim == 3
    x = torch.unsqueeze(x, 0) if single else x
    return torch.permute(x, (0, 3, 1, 2)), single


def _pair(value: Any, owner: str, name: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) for v in value)
    ):
        return int(value[0]), int(value[1])
    raise ArgumentError(
        f"keras.ops.image.{owner}: expected `{name}` to be an int or a pair of ints. Received: {name}={value!r}"
    )


def resize(
    images: Any,
    size: Any,
    interpolation: str = "bilinear",
    antialias: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_mode: str = "constant",
    fill_value: float = 0.0,
    data_format: str | None = None,
) -> Any:
    """Images resized to ``size = (height, width)`` (half-pixel centers, as Keras).

    Raises:
        ArgumentError: an unknown ``interpolation``, or aspect-ratio cropping/padding (not supported).
    """
    if interpolation not in _MODES:
        raise ArgumentError(
            f"keras.ops.image.resize: expected `interpolation` in {', '.join(_MODES)}. "
            f"Received: interpolation={interpolation!r}"
        )
    if crop_to_aspect_ratio or pad_to_aspect_ratio:
        raise ArgumentError(
            "keras.ops.image.resize: crop_to_aspect_ratio and pad_to_aspect_ratio are not available "
            "in epochal.keras"
        )
    x, single = _batched(images, "resize", data_format)
    height, width = _pair(size, "resize", "size")
    mode = _MODES[interpolation]
    kwargs: dict[str, Any] = (
        {} if mode in ("nearest", "area") else {"align_corners": False, "antialias": antialias}
    )
    out = F.interpolate(x, size=(height, width), mode=mode, **kwargs)
    out = torch.permute(out, (0, 2, 3, 1))
    return torch.squeeze(out, 0) if single else out


def extract_patches(
    images: Any,
    size: Any,
    strides: Any = None,
    dilation_rate: int = 1,
    padding: str = "valid",
    data_format: str | None = None,
) -> Any:
    """Patches of ``size`` as vectors: ``(N, rows, cols, ph * pw * C)``, each in ``(ph, pw, C)`` order, as Keras.

    Raises:
        ArgumentError: ``padding`` other than "valid"/"same".
    """
    if padding not in ("valid", "same"):
        raise ArgumentError(
            f"keras.ops.image.extract_patches: expected padding 'valid' or 'same'. Received: padding={padding!r}"
        )
    x, single = _batched(images, "extract_patches", data_format)
    ph, pw = _pair(size, "extract_patches", "size")
    sh, sw = _pair(strides if strides is not None else (ph, pw), "extract_patches", "strides")
    dh, dw = _pair(dilation_rate, "extract_patches", "dilation_rate")
    n, c, h, w = x.shape
    if padding == "same":
        span_h, span_w = (ph - 1) * dh + 1, (pw - 1) * dw + 1
        pad_h = max((-(-h // sh) - 1) * sh + span_h - h, 0)
        pad_w = max((-(-w // sw) - 1) * sw + span_w - w, 0)
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        h, w = h + pad_h, w + pad_w
    rows = (h - ((ph - 1) * dh + 1)) // sh + 1
    cols = (w - ((pw - 1) * dw + 1)) // sw + 1
    cols_ = F.unfold(x, (ph, pw), dilation=(dh, dw), stride=(sh, sw))  # (N, C*ph*pw, L), C-major
    patches = torch.reshape(cols_, (n, c, ph, pw, rows, cols))
    patches = torch.permute(patches, (0, 4, 5, 2, 3, 1))
    out = torch.reshape(patches, (n, rows, cols, ph * pw * c))
    return torch.squeeze(out, 0) if single else out


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unavailable(
        "keras.ops.image",
        name,
        "use torchvision.transforms.v2.functional or torch.nn.functional on (N, C, H, W) images "
        "(keras.ops.transpose moves the channels)",
    )
