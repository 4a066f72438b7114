"""Attention layers: `MultiHeadAttention`, `Attention` (dot-product) and `AdditiveAttention`.

Masks are Keras's: ``True``/1 means "attend". Masked scores get Keras's
large negative (-1e9, not -inf), so a query that may attend to nothing gets
uniform weights, as in Keras, never NaN. Without attention scores requested,
`MultiHeadAttention` runs torch's fused ``scaled_dot_product_attention``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from epochal import initializers
from epochal.errors import ArgumentError, DataError
from epochal.layers import _checks as checks
from epochal.layers import _penalties
from epochal.layers._base import Layer, join_parts, make_weight
from epochal.layers._masking import get_mask, merge_masks, set_mask


def _large_negative(dtype: torch.dtype) -> float:
    return -3e4 if dtype == torch.float16 else -1e9


def _bool(mask: Tensor | None) -> Tensor | None:
    return None if mask is None else mask.to(torch.bool)


_PROJECTIONS = ("query", "key", "value", "output")


class MultiHeadAttention(Layer):
    """Keras's multi-head attention: ``mha(query, value, key=None, attention_mask=None, ...)``.

    ``query`` is ``(N, T, dim_q)``, ``value`` ``(N, S, dim_v)`` and ``key``
    (default ``value``) ``(N, S, dim_k)``; the result is ``(N, T, output_dim)``
    with ``output_dim`` the query's last axis unless ``output_shape`` says
    otherwise. Inputs with several middle axes attend over all of them
    jointly (Keras's default ``attention_axes``). The projections are
    initialized as Keras initializes its ``(dim, num_heads, key_dim)`` and
    ``(num_heads, value_dim, output_dim)`` kernels; lazy until the first call.

    Args:
        num_heads: the number of heads.
        key_dim: the size of each head for query and key.
        value_dim: the size of each head for value (default ``key_dim``).
        dropout: dropout rate on the attention weights (training only).
        use_bias: whether the projections have biases.
        output_shape: the last axis of the output (an int or 1-tuple), default the query's.
        attention_axes: only None (attend over every axis between batch and features).
        kernel_initializer, bias_initializer: initializers of the projections.
        kernel_regularizer, bias_regularizer, activity_regularizer: ``keras.regularizers`` penalties.
        kernel_constraint, bias_constraint: ``keras.constraints`` applied after each step.
        seed: accepted for Keras compatibility; the run's seed determines dropout.
        name: the layer's name.

    Call arguments:
        query, value, key: the tensors above.
        attention_mask: ``(N, T, S)`` booleans, True where query ``t`` may attend to ``s``.
        return_attention_scores: also return the weights ``(N, num_heads, T, S)``.
        training: override the module's train/eval mode for dropout.
        use_causal_mask: query ``t`` attends only to keys ``<= t``.
        query_mask, value_mask, key_mask: ``(N, T)``/``(N, S)`` masks; by default the
            masks the inputs carry (``Embedding(mask_zero=True)``).

    Example:
        >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
        >>> mha(torch.zeros(3, 5, 8), torch.zeros(3, 7, 6)).shape
        torch.Size([3, 5, 8])
    """

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: int | tuple[int] | None = None,
        attention_axes: Any = None,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        bias_initializer: str | initializers.Initializer = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        seed: int | None = None,
        *,
        name: str | None = None,
    ) -> None:
        owner = "MultiHeadAttention"
        super().__init__(name=name, input_shape=None, owner=owner)
        self.num_heads = checks.positive_int(owner, "num_heads", num_heads)
        self.key_dim = checks.positive_int(owner, "key_dim", key_dim)
        self.value_dim = (
            self.key_dim
            if value_dim is None
            else checks.positive_int(owner, "value_dim", value_dim)
        )
        self.dropout = checks.number_in(owner, "dropout", dropout, 0.0, 1.0, include_high=False)
        self.use_bias = checks.boolean(owner, "use_bias", use_bias)
        if output_shape is not None:
            dims = output_shape if isinstance(output_shape, (tuple, list)) else (output_shape,)
            if len(dims) != 1:
                raise ArgumentError(
                    f"{owner}: expected `output_shape` to be an int or a 1-tuple (the last axis). "
                    f"Received: output_shape={output_shape!r}"
                )
            checks.positive_int(owner, "output_shape", dims[0])
            output_shape = int(dims[0])
        self.output_shape = output_shape
        if attention_axes is not None:
            raise ArgumentError(
                f"{owner}: only attention_axes=None (attend over every axis between the batch "
                f"and the features) is supported. Received: attention_axes={attention_axes!r}. "
                "Reshape the input so the attended axes are the middle ones"
            )
        self.attention_axes = None
        self.kernel_initializer = checks.initializer(
            owner, "kernel_initializer", kernel_initializer
        )
        self.bias_initializer = checks.initializer(owner, "bias_initializer", bias_initializer)
        self.seed = checks.optional_int(owner, "seed", seed)
        specs: dict[str, tuple[str, Any, str, Any]] = {}
        for proj in _PROJECTIONS:
            specs[f"{proj}_weight"] = (
                "kernel_regularizer",
                kernel_regularizer,
                "kernel_constraint",
                kernel_constraint,
            )
            specs[f"{proj}_bias"] = (
                "bias_regularizer",
                bias_regularizer,
                "bias_constraint",
                bias_constraint,
            )
        _penalties.attach(self, owner, specs, activity_regularizer)
        for proj in _PROJECTIONS:
            self.register_parameter(f"{proj}_weight", None)
            self.register_parameter(f"{proj}_bias", None)
        self.built = False

    def _build_dims(
        self, dims: tuple[int, int, int], device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        heads, kd, vd = self.num_heads, self.key_dim, self.value_dim
        dq, dk, dv = dims
        out = self.output_shape or dq
        shapes = {
            "query": ((dq, heads, kd), lambda k: k.reshape(dq, heads * kd).T.contiguous()),
            "key": ((dk, heads, kd), lambda k: k.reshape(dk, heads * kd).T.contiguous()),
            "value": ((dv, heads, vd), lambda k: k.reshape(dv, heads * vd).T.contiguous()),
            "output": ((heads, vd, out), lambda k: k.reshape(heads * vd, out).T.contiguous()),
        }
        for proj, (keras_shape, to_torch) in shapes.items():
            setattr(
                self,
                f"{proj}_weight",
                make_weight(
                    keras_shape,
                    self.kernel_initializer,
                    to_torch,
                    device=device,
                    dtype=dtype,
                    initialize=initialize,
                ),
            )
            if self.use_bias:
                size = out if proj == "output" else heads * (vd if proj == "value" else kd)
                setattr(
                    self,
                    f"{proj}_bias",
                    make_weight(
                        (size,),
                        self.bias_initializer,
                        lambda b: b,
                        device=device,
                        dtype=dtype,
                        initialize=initialize,
                    ),
                )
        self._dims = dims
        self.built = True

    def _keras_layout(self, path: str, tensor: Tensor) -> Tensor:
        heads = self.num_heads
        if path in ("query_weight", "key_weight", "value_weight"):
            return tensor.T.reshape(tensor.shape[1], heads, -1)
        if path == "output_weight":
            return tensor.T.reshape(heads, self.value_dim, -1)
        if path in ("query_bias", "key_bias", "value_bias"):
            return tensor.reshape(heads, -1)
        return tensor

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, *args: Any) -> None:
        if not self.built and prefix + "query_weight" in state_dict:
            dims = tuple(
                int(state_dict[prefix + f"{p}_weight"].shape[1]) for p in ("query", "key", "value")
            )
            with torch.inference_mode(False):
                self._build_dims(dims, torch.device("cpu"), torch.get_default_dtype(), False)  # type: ignore[arg-type]
        nn.Module._load_from_state_dict(self, state_dict, prefix, *args)

    def _heads(self, x: Tensor, proj: str, size: int) -> Tensor:
        weight: Tensor = getattr(self, f"{proj}_weight")
        bias: Tensor | None = getattr(self, f"{proj}_bias")
        y = F.linear(x, weight, bias)
        return y.view(y.shape[0], y.shape[1], self.num_heads, size).transpose(1, 2)

    def forward(
        self,
        query: Tensor,
        value: Tensor,
        key: Tensor | None = None,
        query_mask: Tensor | None = None,
        value_mask: Tensor | None = None,
        key_mask: Tensor | None = None,
        attention_mask: Tensor | None = None,
        return_attention_scores: bool = False,
        training: bool | None = None,
        use_causal_mask: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        key = value if key is None else key
        query_mask = query_mask if query_mask is not None else get_mask(query)
        value_mask = value_mask if value_mask is not None else get_mask(value)
        key_mask = key_mask if key_mask is not None else get_mask(key)
        for label, tensor in (("query", query), ("value", value), ("key", key)):
            if tensor.dim() < 3:
                raise DataError(
                    f"MultiHeadAttention: expected `{label}` of shape (batch, steps, features). "
                    f"Received: shape={tuple(tensor.shape)}"
                )
        if not self.built:
            dtype = query.dtype if query.is_floating_point() else torch.get_default_dtype()
            with torch.inference_mode(False):
                self._build_dims(
                    (query.shape[-1], key.shape[-1], value.shape[-1]), query.device, dtype, True
                )
        batch, query_steps = query.shape[0], query.shape[1:-1]
        # Several middle axes attend jointly: flatten them (masks likewise).
        q_in, k_in, v_in = (t.reshape(t.shape[0], -1, t.shape[-1]) for t in (query, key, value))
        mask = self._mask(
            q_in, k_in, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
        )
        q = self._heads(q_in, "query", self.key_dim)
        k = self._heads(k_in, "key", self.key_dim)
        v = self._heads(v_in, "value", self.value_dim)
        train = self.training if training is None else bool(training)
        p = self.dropout if train else 0.0
        bias = None
        if mask is not None:
            bias = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill(
                ~mask, _large_negative(q.dtype)
            )
        scores: Tensor | None = None
        if return_attention_scores:
            logits = (q * (1.0 / math.sqrt(self.key_dim))) @ k.transpose(-1, -2)
            if bias is not None:
                logits = logits + bias
            scores = torch.softmax(logits, dim=-1)
            attended = F.dropout(scores, p, True) @ v if p > 0 else scores @ v
        else:
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
        merged = attended.transpose(1, 2).reshape(batch, -1, self.num_heads * self.value_dim)
        out_weight: Tensor = self.output_weight  # type: ignore[assignment]
        out_bias: Tensor | None = self.output_bias  # type: ignore[assignment]
        out = F.linear(merged, out_weight, out_bias)
        out = out.reshape(batch, *query_steps, out.shape[-1])
        if query_mask is not None:
            set_mask(out, query_mask)
        return (out, scores) if scores is not None else out

    @staticmethod
    def _mask(
        q: Tensor,
        k: Tensor,
        query_mask: Tensor | None,
        value_mask: Tensor | None,
        key_mask: Tensor | None,
        attention_mask: Tensor | None,
        causal: bool,
    ) -> Tensor | None:
        """The combined ``(N, 1, T, S)`` boolean mask, or None."""
        parts: list[Tensor | None] = []
        if query_mask is not None:
            parts.append(_bool(query_mask).reshape(q.shape[0], -1)[:, :, None])  # type: ignore[union-attr]
        for m in (value_mask, key_mask):
            if m is not None:
                parts.append(_bool(m).reshape(k.shape[0], -1)[:, None, :])  # type: ignore[union-attr]
        if attention_mask is not None:
            am = _bool(attention_mask)
            assert am is not None
            if am.dim() == 2:
                am = am.unsqueeze(0)
            if am.shape[-2:] != (q.shape[1], k.shape[1]):
                raise DataError(
                    "MultiHeadAttention: expected `attention_mask` of shape (batch, query steps, "
                    f"key steps) = (N, {q.shape[1]}, {k.shape[1]}). Received: shape={tuple(am.shape)}"
                )
            parts.append(am)
        if causal:
            parts.append(
                torch.ones(q.shape[1], k.shape[1], dtype=torch.bool, device=q.device).tril()
            )
        mask = merge_masks(*parts)
        return None if mask is None else (mask.unsqueeze(1) if mask.dim() == 3 else mask)

    def _describe(self) -> str:
        return join_parts(
            f"num_heads={self.num_heads}",
            f"key_dim={self.key_dim}",
            f"value_dim={self.value_dim}" if self.value_dim != self.key_dim else "",
            f"dropout={self.dropout}" if self.dropout else "",
            super()._describe(),
        )


class _BaseAttention(Layer):
    """Shared call of `Attention` and `AdditiveAttention`: ``layer([query, value(, key)])``."""

    def __init__(self, dropout: float, *, name: str | None, owner: str) -> None:
        super().__init__(name=name, input_shape=None, owner=owner)
        self.dropout = checks.number_in(owner, "dropout", dropout, 0.0, 1.0, include_high=False)

    def _scores(self, q: Tensor, k: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(
        self,
        inputs: Sequence[Tensor],
        mask: Sequence[Tensor | None] | None = None,
        training: bool | None = None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        owner = type(self).__name__
        if (
            isinstance(inputs, Tensor)
            or not isinstance(inputs, (list, tuple))
            or len(inputs) not in (2, 3)
        ):
            raise DataError(f"{owner}: expected a list [query, value] or [query, value, key].")
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) == 3 else v
        q_mask, v_mask = (mask[0], mask[1]) if mask is not None else (get_mask(q), get_mask(v))
        scores = self._scores(q, k)
        keep = _bool(v_mask)
        keep = None if keep is None else keep[:, None, :]
        if use_causal_mask:
            causal = torch.ones(q.shape[1], k.shape[1], dtype=torch.bool, device=q.device).tril()
            keep = causal[None] if keep is None else keep & causal
        if keep is not None:
            scores = scores.masked_fill(~keep, _large_negative(scores.dtype))
        weights = torch.softmax(scores, dim=-1)
        train = self.training if training is None else bool(training)
        applied = F.dropout(weights, self.dropout, True) if train and self.dropout > 0 else weights
        result = applied @ v
        if q_mask is not None:
            result = result * q_mask.to(result.dtype)[..., None]
            set_mask(result, q_mask)
        return (result, weights) if return_attention_scores else result


class Attention(_BaseAttention):
    """Dot-product (Luong) attention: ``softmax(query @ key^T) @ value``.

    Called as ``Attention()([query, value])`` or ``([query, value, key])`` with
    ``query`` ``(N, T, dim)`` and ``value``/``key`` ``(N, S, dim)``.

    Args:
        use_scale: learn a scalar that multiplies the scores (starts at 1).
        score_mode: ``"dot"`` or ``"concat"`` (``sum(tanh(query + key))``).
        dropout: dropout rate on the attention weights (training only).
        seed: accepted for Keras compatibility.
        name: the layer's name.

    Call arguments:
        inputs: ``[query, value]`` or ``[query, value, key]``.
        mask: ``[query_mask, value_mask]``; by default the masks the inputs carry.
        return_attention_scores: also return the weights ``(N, T, S)``.
        use_causal_mask: query ``t`` attends only to keys ``<= t``.

    Example:
        >>> Attention()([torch.zeros(2, 3, 4), torch.zeros(2, 5, 4)]).shape
        torch.Size([2, 3, 4])
    """

    def __init__(
        self,
        use_scale: bool = False,
        score_mode: str = "dot",
        dropout: float = 0.0,
        seed: int | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(dropout, name=name, owner="Attention")
        self.use_scale = checks.boolean("Attention", "use_scale", use_scale)
        self.score_mode = checks.choice("Attention", "score_mode", score_mode, ("dot", "concat"))
        self.seed = checks.optional_int("Attention", "seed", seed)
        self.scale = nn.Parameter(torch.ones(())) if use_scale else None
        self.concat_score_weight = nn.Parameter(torch.ones(())) if score_mode == "concat" else None

    def _scores(self, q: Tensor, k: Tensor) -> Tensor:
        if self.score_mode == "dot":
            scores = q @ k.transpose(-1, -2)
            return scores * self.scale if self.scale is not None else scores
        total = q.unsqueeze(-2) + k.unsqueeze(-3)
        if self.scale is not None:
            total = total * self.scale
        weight: Any = self.concat_score_weight
        return weight * torch.tanh(total).sum(-1)


class AdditiveAttention(_BaseAttention):
    """Additive (Bahdanau) attention: ``softmax(sum(scale * tanh(query + key))) @ value``.

    Args:
        use_scale: learn a per-feature ``scale`` vector (glorot-uniform initialized).
        dropout: dropout rate on the attention weights (training only).
        name: the layer's name.

    Example:
        >>> AdditiveAttention()([torch.zeros(2, 3, 4), torch.zeros(2, 5, 4)]).shape
        torch.Size([2, 3, 4])
    """

    def __init__(
        self, use_scale: bool = True, dropout: float = 0.0, *, name: str | None = None
    ) -> None:
        super().__init__(dropout, name=name, owner="AdditiveAttention")
        self.use_scale = checks.boolean("AdditiveAttention", "use_scale", use_scale)
        self.scale: nn.Parameter | None = None
        self.built = not self.use_scale  # the scale's size comes from the first call

    def _scores(self, q: Tensor, k: Tensor) -> Tensor:
        total = torch.tanh(q.unsqueeze(-2) + k.unsqueeze(-3))
        if self.use_scale:
            if self.scale is None:
                with torch.inference_mode(False):
                    self.scale = make_weight(
                        (q.shape[-1],),
                        initializers.glorot_uniform,
                        lambda t: t,
                        device=q.device,
                        dtype=q.dtype,
                        initialize=True,
                    )
                self.built = True
            total = total * self.scale
        return total.sum(-1)

    def _load_from_state_dict(self, state_dict: Mapping[str, Any], prefix: str, *args: Any) -> None:
        found = state_dict.get(prefix + "scale")
        if self.use_scale and self.scale is None and found is not None:
            self.scale = nn.Parameter(torch.empty(found.shape))
            self.built = True
        nn.Module._load_from_state_dict(self, state_dict, prefix, *args)
