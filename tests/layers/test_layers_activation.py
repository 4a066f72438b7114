"""ReLU, LeakyReLU, PReLU, ELU, Softmax: Keras's formulas and defaults."""

from __future__ import annotations

import pytest
import torch

from epochal import layers

X = torch.tensor([-2.0, -0.5, 0.0, 1.0, 8.0])


def test_relu_options():
    assert layers.ReLU()(X).tolist() == [0, 0, 0, 1, 8]
    assert layers.ReLU(max_value=6.0)(X).tolist() == [0, 0, 0, 1, 6]
    out = layers.ReLU(negative_slope=0.1, threshold=1.0)(X)
    assert torch.allclose(out, torch.tensor([-0.3, -0.15, -0.1, 1.0, 8.0]))


def test_leaky_relu_default_slope_is_keras_0_3_and_alpha_is_accepted():
    assert torch.allclose(layers.LeakyReLU()(X)[:2], torch.tensor([-0.6, -0.15]))
    assert layers.LeakyReLU(alpha=0.1).negative_slope == 0.1


def test_elu_and_softmax():
    assert layers.ELU(alpha=2.0)(torch.tensor([-1.0])).item() == pytest.approx(
        2 * (torch.e**-1 - 1)
    )
    probs = layers.Softmax()(torch.tensor([[0.0, 0.0, 0.0]]), mask=torch.tensor([[1, 1, 0]]))
    assert probs.tolist() == [[0.5, 0.5, 0.0]]
    assert layers.Softmax(axis=1)(torch.zeros(1, 2, 3)).sum(1).flatten().tolist() == [1.0] * 3


def test_prelu_starts_as_relu_learns_alpha_and_shares_axes():
    layer = layers.PReLU(shared_axes=[1, 2])
    out = layer(torch.full((2, 4, 4, 3), -1.0))
    assert layer.alpha.shape == (1, 1, 3)
    assert out.abs().sum().item() == 0.0
    out.sum().backward()
    assert layer.alpha.grad is not None
    copy = layers.PReLU(shared_axes=[1, 2])
    copy.load_state_dict(layer.state_dict())
    assert copy.alpha.shape == (1, 1, 3)
