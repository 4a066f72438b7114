"""Output shapes as Keras documents them, for every new layer and its common argument forms."""

from __future__ import annotations

import pytest
import torch

from epochal import layers as L
from epochal.errors import ArgumentError

CASES = [
    # convolutions
    (lambda: L.Conv1DTranspose(4, 3), (2, 10, 3), (2, 12, 4)),
    (
        lambda: L.Conv1DTranspose(4, 3, strides=2, padding="same", dilation_rate=1),
        (2, 10, 3),
        (2, 20, 4),
    ),
    (lambda: L.Conv1DTranspose(4, 3, dilation_rate=2), (2, 10, 3), (2, 14, 4)),
    (lambda: L.Conv2DTranspose(4, (3, 5), strides=(1, 2)), (2, 6, 6, 3), (2, 8, 15, 4)),
    (lambda: L.Conv2DTranspose(4, 2, strides=2), (2, 7, 7, 3), (2, 14, 14, 4)),
    (
        lambda: L.Conv3D(4, (1, 3, 3), strides=(1, 2, 2), padding="same"),
        (2, 4, 9, 9, 3),
        (2, 4, 5, 5, 4),
    ),
    (lambda: L.SeparableConv2D(5, (3, 1), strides=2), (2, 9, 9, 3), (2, 4, 5, 5)),
    (lambda: L.SeparableConv1D(5, 3, padding="same", depth_multiplier=3), (2, 9, 3), (2, 9, 5)),
    (
        lambda: L.DepthwiseConv2D((3, 3), strides=2, padding="same", depth_multiplier=4),
        (2, 9, 9, 3),
        (2, 5, 5, 12),
    ),
    (lambda: L.DepthwiseConv2D(3, dilation_rate=2), (2, 9, 9, 3), (2, 5, 5, 3)),
    # pooling
    (lambda: L.AveragePooling1D(pool_size=3, strides=1), (2, 10, 4), (2, 8, 4)),
    (lambda: L.AveragePooling1D(3, strides=2, padding="same"), (2, 10, 4), (2, 5, 4)),
    (lambda: L.AveragePooling2D(pool_size=(2, 3)), (2, 7, 7, 4), (2, 3, 2, 4)),
    (lambda: L.AveragePooling2D(2, strides=1, padding="same"), (2, 7, 7, 4), (2, 7, 7, 4)),
    (lambda: L.MaxPooling3D(pool_size=(1, 2, 2)), (2, 3, 8, 8, 4), (2, 3, 4, 4, 4)),
    (lambda: L.MaxPooling3D(3, strides=2, padding="same"), (2, 5, 5, 5, 4), (2, 3, 3, 3, 4)),
    (lambda: L.GlobalAveragePooling3D(keepdims=True), (2, 3, 4, 5, 6), (2, 1, 1, 1, 6)),
    (lambda: L.GlobalAveragePooling1D(), (2, 7, 4), (2, 4)),
    # reshaping
    (lambda: L.UpSampling1D(size=3), (2, 4, 5), (2, 12, 5)),
    (lambda: L.UpSampling2D(size=2), (2, 4, 5, 3), (2, 8, 10, 3)),
    (lambda: L.UpSampling2D(size=(3, 1), interpolation="bilinear"), (2, 4, 5, 3), (2, 12, 5, 3)),
    (lambda: L.ZeroPadding1D(padding=2), (2, 4, 3), (2, 8, 3)),
    (lambda: L.ZeroPadding2D(padding=2), (2, 4, 5, 3), (2, 8, 9, 3)),
    (lambda: L.Cropping1D(cropping=2), (2, 7, 3), (2, 3, 3)),
    (lambda: L.Cropping2D(cropping=((2, 2), (4, 4))), (2, 28, 28, 3), (2, 24, 20, 3)),
    (lambda: L.Reshape([2, -1]), (3, 4, 6), (3, 2, 12)),
    (lambda: L.Reshape((6, 2, 2)), (3, 24), (3, 6, 2, 2)),
    (lambda: L.Permute((3, 1, 2)), (2, 4, 5, 6), (2, 6, 4, 5)),
    (lambda: L.RepeatVector(1), (2, 5), (2, 1, 5)),
    (lambda: L.Identity(), (2, 3, 4), (2, 3, 4)),
    # normalization and activation
    (lambda: L.LayerNormalization(axis=(-2, -1)), (2, 3, 4), (2, 3, 4)),
    (lambda: L.GroupNormalization(groups=-1), (2, 5, 4), (2, 5, 4)),
    (lambda: L.GroupNormalization(groups=2, axis=1), (2, 4, 5), (2, 4, 5)),
    (lambda: L.UnitNormalization(axis=(1, 2)), (2, 3, 4), (2, 3, 4)),
    (lambda: L.PReLU(), (2, 3, 4), (2, 3, 4)),
    (lambda: L.Softmax(axis=(1, 2)), (2, 3, 4), (2, 3, 4)),
    # recurrent and wrappers
    (lambda: L.SimpleRNN(6), (2, 5, 3), (2, 6)),
    (lambda: L.SimpleRNN(6, return_sequences=True, go_backwards=True), (2, 5, 3), (2, 5, 6)),
    (lambda: L.Bidirectional(L.GRU(6, return_sequences=True)), (2, 5, 3), (2, 5, 12)),
    (lambda: L.Bidirectional(L.LSTM(6), merge_mode="ave"), (2, 5, 3), (2, 6)),
    (lambda: L.TimeDistributed(L.Conv2D(4, 3)), (2, 5, 8, 8, 3), (2, 5, 6, 6, 4)),
    (lambda: L.TimeDistributed(L.Flatten()), (2, 5, 4, 3), (2, 5, 12)),
    (lambda: L.Masking(), (2, 5, 3), (2, 5, 3)),
    # noise and preprocessing
    (lambda: L.SpatialDropout3D(0.3), (2, 3, 3, 3, 4), (2, 3, 3, 3, 4)),
    (lambda: L.GaussianNoise(0.1), (2, 3), (2, 3)),
    (lambda: L.Rescaling(2.0), (2, 3), (2, 3)),
    (lambda: L.Resizing(10, 12, interpolation="bicubic"), (2, 5, 6, 3), (2, 10, 12, 3)),
    (lambda: L.ActivityRegularization(l1=0.1), (2, 3), (2, 3)),
]


@pytest.mark.parametrize(("make", "shape", "expected"), CASES)
def test_output_shape(make, shape, expected):
    torch.manual_seed(0)
    layer = make()
    out = layer(torch.rand(shape))
    assert tuple(out.shape) == expected
    assert torch.isfinite(out).all()
    # A second call (built now) gives the same shape; eval mode too.
    assert tuple(layer.eval()(torch.rand(shape)).shape) == expected


def test_recurrent_return_state_shapes_match_keras():
    x = torch.rand(2, 5, 3)
    seq, h = L.GRU(4, return_sequences=True, return_state=True)(x)
    assert seq.shape == (2, 5, 4) and h.shape == (2, 4)
    last, h = L.SimpleRNN(4, return_state=True)(x)
    assert torch.equal(last, h)
    out, h, c = L.LSTM(4, return_state=True)(x)
    assert torch.equal(out, h) and c.shape == (2, 4)
    states = L.Bidirectional(L.LSTM(4, return_state=True))(x)
    assert [tuple(s.shape) for s in states] == [(2, 8)] + [(2, 4)] * 4


def test_bidirectional_takes_a_given_backward_layer_and_initial_states():
    forward, backward = (
        L.LSTM(3, return_sequences=True),
        L.LSTM(3, return_sequences=True, go_backwards=True),
    )
    bi = L.Bidirectional(forward, backward_layer=backward)
    x = torch.rand(2, 4, 5)
    states = [torch.rand(2, 3) for _ in range(4)]
    assert bi(x, initial_state=states).shape == (2, 4, 6)
    assert bi.backward_layer is backward
    with pytest.raises(ArgumentError, match="return_sequences"):
        L.Bidirectional(
            L.LSTM(3, return_sequences=True), backward_layer=L.LSTM(3, go_backwards=True)
        )


def test_attention_keyword_calls_and_causal_mask():
    mha = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, output_shape=7)
    q, v, k = torch.rand(2, 4, 6), torch.rand(2, 3, 8), torch.rand(2, 3, 9)
    out, scores = mha(query=q, value=v, key=k, return_attention_scores=True)
    assert out.shape == (2, 4, 7) and scores.shape == (2, 2, 4, 3)
    mask2d = torch.ones(4, 3, dtype=torch.int64)
    assert mha(q, v, k, attention_mask=mask2d).shape == (2, 4, 7)
    attention = L.Attention()
    x = torch.rand(2, 4, 6)
    _, weights = attention([x, x], use_causal_mask=True, return_attention_scores=True)
    assert torch.all(weights[0].triu(1) == 0)
