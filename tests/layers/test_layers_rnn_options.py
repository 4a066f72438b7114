"""RNN options (masks, initial_state, go_backwards, return_state), SimpleRNN and the wrappers."""

from __future__ import annotations

import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError, DataError

RNNS = [layers.LSTM, layers.GRU, layers.SimpleRNN]


@pytest.mark.parametrize("cls", RNNS)
def test_right_padded_mask_equals_the_truncated_sequence(cls):
    torch.manual_seed(0)
    rnn = cls(4, return_sequences=True, return_state=True)
    x = torch.randn(2, 5, 3)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[0, 3:] = False
    out, *states = rnn(x, mask=mask)
    ref, *ref_states = rnn(x[:1, :3])
    assert torch.allclose(states[0][0], ref_states[0][0], atol=1e-6)
    # Masked steps repeat the last output (Keras).
    assert torch.allclose(out[0, 3:], ref[0, 2].expand(2, 4), atol=1e-6)
    full, *_ = rnn(x[1:])
    assert torch.allclose(out[1], full[0], atol=1e-6)


@pytest.mark.parametrize("cls", RNNS)
def test_left_padded_mask_keeps_the_initial_state(cls):
    torch.manual_seed(1)
    rnn = cls(4, return_sequences=True, return_state=True)
    x = torch.randn(1, 5, 3)
    mask = torch.tensor([[False, False, True, True, True]])
    out, *states = rnn(x, mask=mask)
    _, *ref_states = rnn(x[:, 2:])
    assert torch.allclose(states[0], ref_states[0], atol=1e-6)
    assert out[0, :2].abs().max() == 0


def test_embedding_mask_zero_reaches_the_lstm():
    torch.manual_seed(2)
    emb, lstm = layers.Embedding(10, 3, mask_zero=True), layers.LSTM(4)
    ids = torch.tensor([[1, 2, 3, 0, 0]])
    assert torch.allclose(lstm(emb(ids)), lstm(emb(ids[:, :3])), atol=1e-6)
    masking = layers.Masking()
    x = torch.randn(1, 5, 3)
    x[:, 3:] = 0
    assert torch.allclose(lstm(masking(x)), lstm(x[:, :3]), atol=1e-6)


@pytest.mark.parametrize("cls", RNNS)
def test_initial_state_is_used_and_checked(cls):
    torch.manual_seed(3)
    rnn = cls(4, return_state=True)
    x = torch.randn(2, 5, 3)
    n_states = 2 if cls is layers.LSTM else 1
    state = [torch.randn(2, 4) for _ in range(n_states)]
    with_state = rnn(x, initial_state=state)
    without = rnn(x)
    assert len(with_state) == 1 + n_states
    assert not torch.allclose(with_state[0], without[0])
    # A masked-path run with an all-true mask agrees with the fused path.
    masked = rnn(x, initial_state=state, mask=torch.ones(2, 5, dtype=torch.bool))
    assert torch.allclose(masked[0], with_state[0], atol=1e-6)
    with pytest.raises(DataError, match="initial_state"):
        rnn(x, initial_state=[torch.zeros(2, 3)] * n_states)


def test_go_backwards_reads_the_sequence_reversed():
    torch.manual_seed(4)
    forward = layers.GRU(4, input_shape=(5, 3))
    backward = layers.GRU(4, go_backwards=True)
    backward.load_state_dict(forward.state_dict())
    x = torch.randn(2, 5, 3)
    assert torch.allclose(backward(x), forward(x.flip(1)), atol=1e-6)


def test_simple_rnn_formula_and_options():
    rnn = layers.SimpleRNN(2, activation="relu", use_bias=False, input_shape=(1, 1))
    with torch.no_grad():
        rnn.rnn.weight_ih_l0.fill_(1.0)
        rnn.rnn.weight_hh_l0.fill_(0.0)
    assert rnn(torch.tensor([[[-1.0]]])).tolist() == [[0.0, 0.0]]
    with pytest.raises(ArgumentError, match="'tanh' or 'relu'"):
        layers.SimpleRNN(2, activation="sigmoid")
    with pytest.raises(ArgumentError, match="stateful"):
        layers.LSTM(2, stateful=True)
    with pytest.raises(ArgumentError, match="reset_after"):
        layers.GRU(2, reset_after=False)


def test_bidirectional_merge_modes_states_and_fresh_backward_weights():
    torch.manual_seed(5)
    x = torch.randn(2, 5, 3)
    bi = layers.Bidirectional(layers.LSTM(4, input_shape=(5, 3)))
    assert bi(x).shape == (2, 8)
    assert not torch.equal(bi.forward_layer.rnn.weight_ih_l0, bi.backward_layer.rnn.weight_ih_l0)
    expected = torch.cat([bi.forward_layer(x), bi.backward_layer(x)], dim=-1)
    assert torch.allclose(bi(x), expected)
    seq = layers.Bidirectional(
        layers.GRU(4, return_sequences=True, return_state=True), merge_mode="sum"
    )
    out, h_f, h_b = seq(x)
    assert out.shape == (2, 5, 4) and h_f.shape == h_b.shape == (2, 4)
    assert torch.allclose(
        out[:, 0], seq.forward_layer(x)[0][:, 0] + seq.backward_layer(x)[0][:, -1], atol=1e-6
    )
    pair = layers.Bidirectional(layers.SimpleRNN(3), merge_mode=None)(x)
    assert isinstance(pair, list) and len(pair) == 2
    with pytest.raises(ArgumentError, match="merge_mode"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")


def test_time_distributed_and_lambda():
    dense = layers.Dense(8)
    out = layers.TimeDistributed(dense)(torch.randn(2, 5, 3))
    assert out.shape == (2, 5, 8)
    x = torch.randn(2, 5, 3)
    assert torch.allclose(layers.TimeDistributed(dense)(x)[:, 1], dense(x[:, 1]))
    assert layers.Lambda(lambda t, k: t * k, arguments={"k": 3})(torch.ones(2)).tolist() == [
        3.0,
        3.0,
    ]
    assert layers.Lambda(lambda ts: ts[0] + ts[1])([torch.ones(1), torch.ones(1)]).tolist() == [2.0]


@pytest.mark.parametrize("cls", RNNS)
def test_packed_and_stepwise_masked_paths_agree(cls):
    torch.manual_seed(6)
    rnn = cls(3, return_sequences=True, return_state=True)
    x = torch.randn(3, 6, 2)
    mask = torch.tensor(
        [[True] * 4 + [False] * 2, [False] * 2 + [True] * 4, [False, True, True, True, True, False]]
    )
    packed = rnn(x, mask=mask)
    stepwise = rnn._stepwise(x, mask, None)
    assert torch.allclose(packed[0], stepwise[0], atol=1e-6)
    for a, b in zip(packed[1:], stepwise[1], strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    holes = mask.clone()
    holes[0, 1] = False  # not one run: the step-by-step path
    out = rnn(x, mask=holes)
    assert torch.allclose(out[0][0, 1], out[0][0, 0])


def test_masks_pass_through_dense_dropout_normalization_and_merges():
    emb = layers.Embedding(10, 4, mask_zero=True)
    x = emb(torch.tensor([[1, 2, 0]]))
    expected = torch.tensor([[True, True, False]])
    for layer in (
        layers.Dense(3),
        layers.Dropout(0.1),
        layers.LayerNormalization(),
        layers.Activation("relu"),
    ):
        assert torch.equal(layer(x)._keras_mask, expected), type(layer).__name__
    assert torch.equal(layers.Add()([x, x])._keras_mask, expected)
    assert not hasattr(layers.Dense(3)(torch.zeros(2, 4)), "_keras_mask")


def test_lambda_mask_argument_and_max_pooling_ignores_masks_as_keras():
    x = torch.ones(1, 3, 2)
    out = layers.Lambda(lambda t: t * 2, mask=lambda t, m: t[..., 0] > 0)(x)
    assert out._keras_mask.tolist() == [[True, True, True]]
    emb = layers.Embedding(5, 2, mask_zero=True)
    seq = emb(torch.tensor([[1, 0]]))
    assert torch.equal(layers.GlobalMaxPooling1D()(seq), seq.amax(dim=1))
