"""MultiHeadAttention, Attention, AdditiveAttention against hand-written formulas."""

from __future__ import annotations

import math

import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError, DataError


def _reference(mha, q, v, mask=None):
    wq, wk, wv = (
        mha._keras_layout(f"{p}_weight", getattr(mha, f"{p}_weight"))
        for p in ("query", "key", "value")
    )
    wo = mha._keras_layout("output_weight", mha.output_weight)
    bq, bk, bv = (
        mha._keras_layout(f"{p}_bias", getattr(mha, f"{p}_bias")) for p in ("query", "key", "value")
    )
    query = torch.einsum("btd,dhk->bthk", q, wq) + bq
    key = torch.einsum("bsd,dhk->bshk", v, wk) + bk
    value = torch.einsum("bsd,dhk->bshk", v, wv) + bv
    logits = torch.einsum("bthk,bshk->bhts", query / math.sqrt(mha.key_dim), key)
    if mask is not None:
        logits = logits - 1e9 * (~mask[:, None])
    weights = logits.softmax(-1)
    out = torch.einsum("bhts,bshk->bthk", weights, value)
    return torch.einsum("bthk,hko->bto", out, wo) + mha.output_bias, weights


def test_mha_matches_keras_formula_with_masks_and_scores():
    torch.manual_seed(0)
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    q, v = torch.randn(3, 5, 8), torch.randn(3, 7, 6)
    mask = torch.rand(3, 5, 7) > 0.3
    out, scores = mha(q, v, attention_mask=mask, return_attention_scores=True)
    expected, expected_scores = _reference(mha, q, v, mask)
    assert out.shape == (3, 5, 8) and scores.shape == (3, 2, 5, 7)
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.allclose(scores, expected_scores, atol=1e-6)
    assert torch.allclose(mha(q, v, attention_mask=mask), out, atol=1e-5)  # the fused path


def test_mha_causal_mask_and_self_attention_key_defaults_to_value():
    torch.manual_seed(1)
    mha = layers.MultiHeadAttention(num_heads=1, key_dim=3, output_shape=5)
    x = torch.randn(2, 4, 6)
    _, scores = mha(x, x, use_causal_mask=True, return_attention_scores=True)
    assert mha(x, x).shape == (2, 4, 5)
    assert torch.all(scores[0, 0].triu(1) == 0)
    # A future step does not change the past's outputs.
    changed = x.clone()
    changed[:, -1] += 10
    assert torch.allclose(
        mha(x, x, use_causal_mask=True)[:, :-1],
        mha(changed, changed, use_causal_mask=True)[:, :-1],
        atol=1e-5,
    )


def test_mha_fully_masked_query_gets_uniform_weights_not_nan():
    mha = layers.MultiHeadAttention(num_heads=1, key_dim=2)
    x = torch.randn(1, 3, 4)
    mask = torch.zeros(1, 3, 3, dtype=torch.bool)
    out, scores = mha(x, x, attention_mask=mask, return_attention_scores=True)
    assert torch.isfinite(out).all()
    assert torch.allclose(scores, torch.full_like(scores, 1 / 3))


def test_mha_value_dim_params_keras_count_and_state_dict_round_trip():
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3)
    q = torch.randn(2, 5, 8)
    y = mha(q, q)
    # Keras: 3 * (8*2*4 + 2*4) with value (8*2*3 + 2*3) instead, plus (2*3*8 + 8).
    n = sum(p.numel() for p in mha.parameters())
    assert n == 2 * (8 * 8 + 8) + (8 * 6 + 6) + (6 * 8 + 8)
    copy = layers.MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3)
    copy.load_state_dict(mha.state_dict())
    assert torch.allclose(copy(q, q), y)


def test_mha_argument_and_input_errors():
    with pytest.raises(ArgumentError, match="attention_axes"):
        layers.MultiHeadAttention(2, 4, attention_axes=(1,))
    mha = layers.MultiHeadAttention(2, 4)
    with pytest.raises(DataError, match="attention_mask"):
        mha(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4), attention_mask=torch.ones(1, 2, 3))
    with pytest.raises(DataError, match="query"):
        mha(torch.zeros(3, 4), torch.zeros(3, 4))


def test_mha_reads_the_value_mask_from_embedding():
    emb = layers.Embedding(10, 4, mask_zero=True)
    mha = layers.MultiHeadAttention(1, 2)
    ids = torch.tensor([[1, 2, 0]])
    x = emb(ids)
    _, scores = mha(x, x, return_attention_scores=True)
    assert torch.all(scores[..., :2, 2] < 1e-6)  # the padded query row is uniform, as in Keras


def test_attention_dot_and_masks():
    q = torch.tensor([[[1.0, 0.0]]])
    v = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    out, weights = layers.Attention()([q, v], return_attention_scores=True)
    e = math.e
    assert torch.allclose(weights, torch.tensor([[[e / (e + 1), 1 / (e + 1)]]]))
    assert torch.allclose(out, weights @ v)
    out = layers.Attention()([q, v], mask=[None, torch.tensor([[True, False]])])
    assert torch.allclose(out, v[:, :1])
    assert layers.Attention(use_scale=True, score_mode="concat")(
        [torch.zeros(2, 3, 4), torch.zeros(2, 5, 4)]
    ).shape == (2, 3, 4)
    with pytest.raises(DataError, match="query, value"):
        layers.Attention()(q)


def test_additive_attention_shape_and_scale_parameter():
    layer = layers.AdditiveAttention()
    assert layer([torch.zeros(2, 3, 4), torch.zeros(2, 5, 4)]).shape == (2, 3, 4)
    assert layer.scale is not None and layer.scale.shape == (4,)


def test_additive_attention_is_lazy_until_called_and_loads_its_scale():
    from epochal.layers import is_built

    layer = layers.AdditiveAttention()
    assert not is_built(layer)
    layer([torch.zeros(1, 2, 3), torch.zeros(1, 2, 3)])
    assert is_built(layer)
    copy = layers.AdditiveAttention()
    copy.load_state_dict(layer.state_dict())
    assert is_built(copy) and torch.equal(copy.scale, layer.scale)
