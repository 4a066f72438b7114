"""Keras's implicit masks, and the `Masking` layer.

Keras attaches a boolean mask ``(N, steps)`` to a layer's output (from
``Embedding(mask_zero=True)`` or ``Masking``) and the layers after it that
understand masks (the recurrent layers, attention, global average pooling)
read it. epochal does the same with an attribute on the output tensor,
``_keras_mask`` (the attribute Keras 3 uses on torch), so no argument has to
be threaded through ``Sequential``. Layers that keep the time axis and act
per step (``Dropout``, ``Dense``, ``TimeDistributed``, ``Activation``, ...)
pass the mask on; any other operation drops it, as Keras drops it.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor

from epochal.layers import _checks as checks
from epochal.layers._base import Layer, Shape, join_parts

MASK_ATTRIBUTE = "_keras_mask"


def get_mask(x: object) -> Tensor | None:
    """The Keras mask carried by ``x``, or None."""
    return getattr(x, MASK_ATTRIBUTE, None)


def set_mask(x: Tensor, mask: Tensor | None) -> Tensor:
    """Attach ``mask`` to ``x`` (nothing when ``mask`` is None); returns ``x``."""
    if mask is not None:
        # Some tensors (symbolic ones) refuse attributes: they go without the mask.
        with contextlib.suppress(AttributeError, RuntimeError):
            setattr(x, MASK_ATTRIBUTE, mask)
    return x


def pass_mask(source: object, out: Tensor) -> Tensor:
    """``out`` carrying ``source``'s mask, for layers that keep the steps axis."""
    mask = get_mask(source)
    return out if mask is None else set_mask(out, mask)


class Masking(Layer):
    """Masks the steps of ``(N, steps, features)`` whose features all equal ``mask_value``.

    The output is the input with masked steps set to 0, carrying the mask
    ``any(x != mask_value, axis=-1)`` that the recurrent layers after it read
    (masked steps leave their state unchanged).

    Args:
        mask_value: the padding value.
        input_shape: the input shape without the batch dimension.
        name: the layer's name.

    Example:
        >>> x = torch.tensor([[[1.0], [0.0]]])
        >>> Masking()(x)._keras_mask
        tensor([[ True, False]])
    """

    def __init__(
        self, mask_value: float = 0.0, *, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Masking")
        self.mask_value = checks.number_in(
            "Masking", "mask_value", mask_value, float("-inf"), float("inf")
        )

    def compute_mask(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``any(x != mask_value, axis=-1)``."""
        return (x != self.mask_value).any(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        mask = self.compute_mask(x)
        out = x * mask.unsqueeze(-1).to(x.dtype)
        return set_mask(out, mask)

    def _describe(self) -> str:
        return join_parts(f"mask_value={self.mask_value}", super()._describe())


def merge_masks(*masks: Tensor | None) -> Tensor | None:
    """The logical and of the masks that are not None."""
    out: Tensor | None = None
    for mask in masks:
        if mask is not None:
            out = mask if out is None else torch.logical_and(out, mask)
    return out
