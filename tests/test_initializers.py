"""epochal.initializers: Keras fans, distribution statistics, lookup."""

from __future__ import annotations

import math

import pytest
import torch

from epochal import initializers
from epochal.errors import ArgumentError, ArgumentTypeError


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize(
    ("shape", "fans"),
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((10, 128), (10, 128)),
        ((3, 3, 16, 32), (144, 288)),
        ((5, 4, 6), (20, 30)),
    ],
)
def test_compute_fans_like_keras(shape: tuple[int, ...], fans: tuple[int, int]) -> None:
    assert initializers.compute_fans(shape) == fans


@pytest.mark.parametrize(
    ("name", "shape", "limit"),
    [
        ("glorot_uniform", (200, 300), math.sqrt(6 / 500)),
        ("glorot_uniform", (3, 3, 16, 32), math.sqrt(6 / (144 + 288))),
        ("he_uniform", (200, 300), math.sqrt(6 / 200)),
        ("lecun_uniform", (3, 3, 16, 32), math.sqrt(3 / 144)),
        ("random_uniform", (200, 300), 0.05),
    ],
)
def test_uniform_initializers_reach_but_never_exceed_their_limit(
    name: str, shape: tuple[int, ...], limit: float
) -> None:
    w = initializers.get(name)(torch.empty(shape))
    assert w.abs().max() <= limit
    assert w.abs().max() > 0.99 * limit
    assert abs(w.mean().item()) < 0.02 * limit


@pytest.mark.parametrize(
    ("name", "shape", "stddev"),
    [
        ("glorot_normal", (200, 300), math.sqrt(2 / 500)),
        ("he_normal", (3, 3, 16, 32), math.sqrt(2 / 144)),
        ("lecun_normal", (200, 300), math.sqrt(1 / 200)),
    ],
)
def test_variance_scaling_normals_are_truncated_with_the_target_stddev(
    name: str, shape: tuple[int, ...], stddev: float
) -> None:
    w = initializers.get(name)(torch.empty(shape))
    assert w.std().item() == pytest.approx(stddev, rel=0.03)
    # Truncated at two standard deviations of the underlying (pre-truncation) normal.
    assert w.abs().max() <= 2 * stddev / 0.87962566103423978


def test_random_normal_and_truncated_normal_defaults() -> None:
    w = initializers.random_normal(torch.empty(300, 300))
    assert w.std().item() == pytest.approx(0.05, rel=0.02)
    t = initializers.truncated_normal(torch.empty(300, 300))
    assert t.abs().max() <= 0.1
    assert t.std().item() == pytest.approx(0.05 * 0.87962566103423978, rel=0.02)


def test_constant_initializers() -> None:
    assert torch.equal(initializers.zeros(torch.empty(3)), torch.zeros(3))
    assert torch.equal(initializers.ones(torch.empty(2, 2)), torch.ones(2, 2))
    assert torch.equal(initializers.Constant(0.5)(torch.empty(2)), torch.full((2,), 0.5))


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 3, 4, 8)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape: tuple[int, ...]) -> None:
    w = initializers.orthogonal(torch.empty(shape)).reshape(-1, shape[-1])
    small = min(w.shape)
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    torch.testing.assert_close(gram, torch.eye(small), atol=1e-5, rtol=0)
    w2 = initializers.Orthogonal(gain=2.0)(torch.empty(5, 5))
    torch.testing.assert_close(w2 @ w2.T, 4 * torch.eye(5), atol=1e-4, rtol=0)


def test_initialization_uses_the_global_rng() -> None:
    torch.manual_seed(5)
    first = initializers.glorot_uniform(torch.empty(4, 4))
    torch.manual_seed(5)
    assert torch.equal(initializers.glorot_uniform(torch.empty(4, 4)), first)


def test_get_accepts_keras_class_names_aliases_and_callables() -> None:
    assert initializers.get("GlorotUniform") is initializers.glorot_uniform
    assert initializers.get("HeNormal") is initializers.he_normal
    assert initializers.get("uniform") is initializers.random_uniform
    assert initializers.get("normal") is initializers.random_normal

    def fill(t: torch.Tensor) -> torch.Tensor:
        return t.fill_(3.0)

    assert initializers.get(fill) is fill


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ArgumentError) as info:
        initializers.get("xavier")
    message = str(info.value)
    assert "Received: initializer='xavier'" in message
    for name in ("glorot_uniform", "he_normal", "orthogonal", "truncated_normal", "zeros"):
        assert name in message


def test_bad_arguments() -> None:
    with pytest.raises(ArgumentTypeError, match="Received: initializer=1 of type int"):
        initializers.get(1)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="RandomUniform: expected `maxval` to be greater"):
        initializers.RandomUniform(0.1, -0.1)
    with pytest.raises(ArgumentError, match="VarianceScaling: expected `mode` to be one of"):
        initializers.VarianceScaling(mode="fan_out_avg")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="RandomNormal: expected `stddev` to be a positive"):
        initializers.RandomNormal(stddev=0)
    with pytest.raises(ArgumentError, match="Orthogonal: expected a tensor with at least 2"):
        initializers.orthogonal(torch.empty(3))


def test_public_names_are_sorted() -> None:
    assert initializers.__all__ == sorted(initializers.__all__)
