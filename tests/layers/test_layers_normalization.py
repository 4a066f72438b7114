"""BatchNormalization: Keras's momentum and biased variance, train/eval, channels-last."""

from __future__ import annotations

import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError, ArgumentTypeError


def test_training_normalizes_with_batch_statistics_and_updates_keras_style() -> None:
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    x = torch.randn(16, 5, dtype=torch.float64) * 3 + 2
    y = bn(x)
    mean = x.mean(dim=0)
    var = x.var(dim=0, unbiased=False)
    torch.testing.assert_close(y, ((x - mean) / torch.sqrt(var + 1e-3)).to(y.dtype))
    # moving = moving * momentum + batch * (1 - momentum), biased variance as Keras.
    torch.testing.assert_close(bn.running_mean, (0.9 * 0 + 0.1 * mean).to(bn.running_mean.dtype))
    torch.testing.assert_close(bn.running_var, (0.9 * 1 + 0.1 * var).to(bn.running_var.dtype))


def test_default_momentum_is_keras_0_99() -> None:
    bn = layers.BatchNormalization()
    x = torch.full((4, 2), 10.0)
    bn(x)
    torch.testing.assert_close(bn.running_mean, torch.full((2,), 0.1))
    torch.testing.assert_close(bn.running_var, torch.full((2,), 0.99))


def test_eval_uses_moving_statistics_and_changes_nothing() -> None:
    bn = layers.BatchNormalization(input_shape=(3,))
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([1.0, 2.0, 3.0]))
        bn.running_var.copy_(torch.tensor([4.0, 1.0, 0.25]))
        bn.weight.copy_(torch.tensor([2.0, 1.0, 1.0]))
        bn.bias.copy_(torch.tensor([0.5, 0.0, -1.0]))
    bn.eval()
    x = torch.randn(6, 3)
    expected = (x - bn.running_mean) / torch.sqrt(bn.running_var + 1e-3) * bn.weight + bn.bias
    before = bn.running_mean.clone()
    torch.testing.assert_close(bn(x), expected)
    assert torch.equal(bn.running_mean, before)


def test_channels_last_images_normalize_per_channel() -> None:
    bn = layers.BatchNormalization(epsilon=1e-6)
    x = torch.randn(4, 5, 6, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([0.0, 3.0, -2.0])
    y = bn(x)
    assert bn.num_features == 3 and bn.weight.shape == (3,)
    torch.testing.assert_close(y.mean(dim=(0, 1, 2)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        y.var(dim=(0, 1, 2), unbiased=False), torch.ones(3), atol=1e-2, rtol=0
    )


def test_channels_first_axis_and_no_scale_or_center() -> None:
    bn = layers.BatchNormalization(axis=1, center=False, scale=False)
    x = torch.randn(8, 3, 4)
    y = bn(x)
    assert bn.weight is None and bn.bias is None
    assert bn.running_mean.shape == (3,)
    torch.testing.assert_close(y.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5, rtol=0)


def test_gradients_flow_to_gamma_beta_and_input() -> None:
    bn = layers.BatchNormalization()
    x = torch.randn(8, 4, requires_grad=True)
    (bn(x) * torch.arange(4.0)).sum().backward()
    assert x.grad is not None and bn.weight.grad is not None and bn.bias.grad is not None


def test_lazy_batch_norm_loads_a_state_dict() -> None:
    source = layers.BatchNormalization(input_shape=(4,))
    source(torch.randn(8, 4))
    target = layers.BatchNormalization()
    target.load_state_dict(source.state_dict())
    assert torch.equal(target.running_var, source.running_var)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"momentum": 1.5}, ArgumentError, r"expected `momentum` to be a number in \[0, 1\]"),
        ({"epsilon": 0}, ArgumentError, r"expected `epsilon` to be a number in \(0, inf\)"),
        ({"axis": 0}, ArgumentError, "expected `axis` to be a channel axis, not the batch axis 0"),
        ({"axis": "last"}, ArgumentTypeError, "expected `axis` to be an int"),
        ({"center": "yes"}, ArgumentTypeError, "expected `center` to be a bool"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match="BatchNormalization: " + message):
        layers.BatchNormalization(**kwargs)
