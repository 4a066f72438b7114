"""Regularizers join the training loss; constraints hold after every optimizer step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from epochal import keras, layers
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import constraints, regularizers
from epochal.layers._penalties import penalty_fn, regularization_loss


def test_regularizer_formulas_and_keras_defaults():
    w = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    assert float(regularizers.l1(0.5)(w)) == pytest.approx(3.0)
    assert float(regularizers.L2()(w)) == pytest.approx(0.01 * 14)
    assert float(regularizers.l1_l2(l1=0.1, l2=0.2)(w)) == pytest.approx(0.6 + 2.8)
    assert float(regularizers.L1L2()(w)) == 0.0
    assert regularizers.get("l2").get_config() == {"l2": 0.01}
    assert regularizers.get({"class_name": "L1", "config": {"l1": 0.3}}).l1 == 0.3
    with pytest.raises(ArgumentError, match="l1"):
        regularizers.L1(-1.0)
    with pytest.raises(ArgumentError, match="regularizer name"):
        regularizers.get("l3")


def test_constraint_formulas_use_keras_axis():
    w = torch.tensor([[3.0, 0.3], [4.0, 0.4]])  # columns: norms 5 and 0.5
    assert torch.allclose(
        constraints.MaxNorm(1.0)(w), torch.tensor([[0.6, 0.3], [0.8, 0.4]]), atol=1e-6
    )
    assert torch.allclose(
        constraints.UnitNorm()(w), torch.tensor([[0.6, 0.6], [0.8, 0.8]]), atol=1e-5
    )
    clipped = constraints.MinMaxNorm(1.0, 2.0)(w)
    assert torch.allclose(clipped.norm(dim=0), torch.tensor([2.0, 1.0]), atol=1e-5)
    assert constraints.NonNeg()(torch.tensor([-1.0, 1.0])).tolist() == [0.0, 1.0]
    with pytest.raises(ArgumentError, match="constraint name"):
        constraints.get("positive")


def test_layer_penalty_is_the_keras_layout_sum():
    dense = layers.Dense(
        3, kernel_regularizer=regularizers.l2(0.1), bias_regularizer="l1", input_shape=(4,)
    )
    expected = 0.1 * dense.weight.square().sum() + 0.01 * dense.bias.abs().sum()
    assert torch.allclose(regularization_loss(dense), expected)
    assert dense.kernel_regularizer.l2 == 0.1
    assert penalty_fn(layers.Dense(3)) is None  # nothing declared: no per-step cost
    with pytest.raises(ArgumentTypeError, match="kernel_regularizer"):
        layers.Dense(3, kernel_regularizer=5)


def test_activity_regularizer_counts_the_training_output_once():
    dense = layers.Dense(2, activity_regularizer=regularizers.l1(1.0), input_shape=(2,))
    x = torch.ones(3, 2)
    y = dense(x)
    assert torch.allclose(regularization_loss(dense), y.abs().sum())
    assert float(regularization_loss(dense)) == 0.0  # consumed
    dense.eval()
    dense(x)
    assert float(regularization_loss(dense)) == 0.0


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(1, keepdims=True) > 0).astype("float32")
    return x, y


def test_fit_adds_the_penalty_to_the_logged_loss():
    x, y = _data()

    def run(reg):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([layers.Dense(1, input_shape=(4,), kernel_regularizer=reg)])
        model.compile(optimizer="sgd", loss="mse", seed=0)
        kernel = model.module[0].weight.detach().clone()
        # One batch: the logged loss is the one computed before the step.
        return kernel, model.fit(x, y, epochs=1, batch_size=64, verbose=0).history["loss"][0]

    kernel, with_penalty = run(regularizers.l2(0.5))
    _, without = run(None)
    assert with_penalty == pytest.approx(without + 0.5 * float(kernel.square().sum()), rel=1e-5)


def test_fit_applies_constraints_after_each_step():
    x, y = _data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            layers.Dense(8, input_shape=(4,), kernel_constraint=constraints.MaxNorm(0.5)),
            layers.Dense(1, kernel_constraint=constraints.NonNeg()),
        ]
    )
    model.compile(optimizer="adam", loss="mse", learning_rate=0.1, seed=0)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first, second = model.module[0], model.module[1]
    assert (
        float(first.weight.detach().norm(dim=1).max()) <= 0.5 + 1e-5
    )  # Keras's axis 0 of (in, units)
    assert float(second.weight.detach().min()) >= 0.0


@pytest.mark.parametrize(
    ("make", "x", "kernels"),
    [
        (lambda r: layers.Conv2D(3, 2, kernel_regularizer=r), torch.randn(1, 4, 4, 2), ["weight"]),
        (
            lambda r: layers.Conv1DTranspose(3, 2, kernel_regularizer=r),
            torch.randn(1, 4, 2),
            ["weight"],
        ),
        (
            lambda r: layers.LSTM(3, kernel_regularizer=r, recurrent_regularizer=r),
            torch.randn(1, 4, 2),
            ["rnn.weight_ih_l0", "rnn.weight_hh_l0"],
        ),
        (
            lambda r: layers.Embedding(5, 3, embeddings_regularizer=r),
            torch.tensor([[1, 2]]),
            ["weight"],
        ),
        (
            lambda r: layers.SeparableConv2D(
                3, 2, depthwise_regularizer=r, pointwise_regularizer=r
            ),
            torch.randn(1, 4, 4, 2),
            ["weight", "pointwise_weight"],
        ),
        (lambda r: layers.LayerNormalization(gamma_regularizer=r), torch.randn(2, 3), ["weight"]),
        (lambda r: layers.PReLU(alpha_regularizer=r), torch.randn(2, 3), ["alpha"]),
    ],
)
def test_layers_declare_their_keras_regularizers(make, x, kernels):
    layer = make(regularizers.L1(1.0))
    if isinstance(layer, layers.PReLU):
        with torch.no_grad():
            layer(x)
            layer.alpha.fill_(0.5)
    else:
        layer(x)
    expected = sum(layer.get_parameter(k).abs().sum() for k in kernels)
    assert torch.allclose(regularization_loss(layer), expected)


def test_multi_head_attention_constraints_see_keras_kernel_shapes():
    seen = []

    def record(w):
        seen.append(tuple(w.shape))
        return w

    mha = layers.MultiHeadAttention(2, 3, kernel_constraint=record)
    mha(torch.zeros(1, 4, 5), torch.zeros(1, 4, 5))
    from epochal.layers._penalties import apply_constraints

    apply_constraints(mha)
    assert seen == [(5, 2, 3), (5, 2, 3), (5, 2, 3), (2, 3, 5)]


def test_batch_normalization_gamma_and_beta_penalties():
    bn = layers.BatchNormalization(
        gamma_regularizer=regularizers.L2(1.0), beta_constraint="non_neg"
    )
    bn(torch.randn(4, 3))
    assert float(regularization_loss(bn).detach()) == pytest.approx(3.0)  # gamma starts at ones
    from epochal.layers._penalties import apply_constraints

    with torch.no_grad():
        bn.bias.fill_(-1.0)
    apply_constraints(bn)
    assert bn.bias.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.slow
def test_compiled_step_adds_the_same_penalty_as_eager():
    import epochal as ep

    x, y = _data()

    def run(compile_step: bool):
        torch.manual_seed(0)
        net = layers.SequentialModule(
            [
                layers.Dense(4, input_shape=(4,), kernel_regularizer=regularizers.l2(0.5)),
                layers.Dense(1),
            ]
        )
        model = ep.Model(net, device="cpu")
        model.compile(optimizer="sgd", loss="mse", seed=0, compile=compile_step)
        model.fit(x, y, epochs=1, batch_size=64, verbose=0)
        return model.history.history["loss"][0]

    assert run(True) == pytest.approx(run(False), rel=1e-5)
