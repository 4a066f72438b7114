"""keras.random: Keras's samplers, drawing from the run's random state (continuity holds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _util import make_binary, state_equal
from epochal import keras
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import layers, ops
from epochal.keras import random as krandom


def test_normal_and_uniform_shapes_dtypes_and_moments():
    x = krandom.normal((4000,), mean=2.0, stddev=0.5)
    assert x.shape == (4000,) and x.dtype == torch.float32
    assert abs(float(x.mean()) - 2.0) < 0.05 and abs(float(x.std()) - 0.5) < 0.05
    u = krandom.uniform((2, 3000), minval=-1.0, maxval=3.0, dtype="float64")
    assert u.dtype == torch.float64 and float(u.min()) >= -1.0 and float(u.max()) < 3.0
    assert krandom.uniform(5).shape == (5,)
    assert krandom.uniform((3,), minval=0, maxval=4, dtype="int32").dtype == torch.int32


def test_truncated_normal_stays_within_two_deviations():
    x = krandom.truncated_normal((5000,), mean=1.0, stddev=2.0)
    assert float(x.min()) >= -3.0 and float(x.max()) <= 5.0
    assert abs(float(x.mean()) - 1.0) < 0.1


def test_randint_range_and_dtype():
    x = krandom.randint((1000,), 3, 7)
    assert x.dtype == torch.int32 and set(x.tolist()) == {3, 4, 5, 6}
    assert krandom.randint((2,), 0, 2, dtype="int64").dtype == torch.int64
    with pytest.raises(ArgumentError, match="minval < maxval"):
        krandom.randint((2,), 5, 5)


def test_an_int_seed_repeats_and_leaves_the_global_generator_alone():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    a = krandom.normal((3,), seed=42)
    b = krandom.normal((3,), seed=42)
    assert torch.equal(a, b)
    assert not torch.equal(a, krandom.normal((3,), seed=43))
    assert torch.equal(before, torch.get_rng_state())
    assert torch.equal(
        krandom.dropout(torch.ones(50), 0.5, seed=1), krandom.dropout(torch.ones(50), 0.5, seed=1)
    )


@pytest.mark.parametrize("seed", [None, krandom.SeedGenerator(1337), krandom.SeedGenerator()])
def test_no_seed_or_a_seed_generator_draws_from_torchs_global_generator(seed):
    torch.manual_seed(5)
    a = krandom.normal((3,), seed=seed)
    b = krandom.normal((3,), seed=seed)
    assert not torch.equal(a, b)
    torch.manual_seed(5)
    assert torch.equal(krandom.normal((3,), seed=seed), a)


def test_seed_generator_validates_and_reports_its_seed():
    gen = krandom.SeedGenerator(7)
    assert gen.get_config()["seed"] == 7
    assert gen.next().shape == (2,)
    with pytest.raises(ArgumentTypeError, match="seed"):
        krandom.SeedGenerator("7")
    with pytest.raises(ArgumentTypeError, match="seed"):
        krandom.normal((2,), seed=1.5)


def test_dropout_drops_a_fraction_and_scales_the_rest():
    torch.manual_seed(0)
    x = torch.ones(20000)
    y = krandom.dropout(x, 0.25)
    kept = y != 0
    assert abs(float(kept.float().mean()) - 0.75) < 0.02
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.75))
    assert torch.equal(krandom.dropout(x, 0.0), x)
    z = krandom.dropout(torch.ones(4, 100), 0.5, noise_shape=(None, 1), seed=3)
    assert all(len(set(row.tolist())) == 1 for row in z)  # one mask value per row
    for rate in (1.0, -0.1, "0.5"):
        with pytest.raises(ArgumentError, match="rate"):
            krandom.dropout(x, rate)


def test_shuffle_permutes_along_an_axis_and_categorical_samples_classes():
    x = torch.arange(12).reshape(3, 4)
    s = krandom.shuffle(x, axis=1, seed=0)
    assert sorted(s[0].tolist()) == [0, 1, 2, 3]
    assert torch.equal(torch.sort(s, dim=1).values, x)  # rows keep their elements
    assert sorted(krandom.shuffle(x).reshape(-1).tolist()) == list(range(12))
    logits = torch.tensor([[0.0, 50.0], [50.0, 0.0]])
    draws = krandom.categorical(logits, 6, seed=1)
    assert draws.dtype == torch.int32 and draws.shape == (2, 6)
    assert draws[0].tolist() == [1] * 6 and draws[1].tolist() == [0] * 6


def test_bad_shapes_and_dtypes_are_named():
    with pytest.raises(ArgumentTypeError, match="shape"):
        krandom.normal((2, -1))
    with pytest.raises(ArgumentError, match="floating"):
        krandom.normal((2,), dtype="int32")


def test_a_sampler_keras_has_and_epochal_does_not_is_named():
    with pytest.raises(
        AttributeError, match=r"keras\.random\.gamma is not available in epochal\.keras"
    ):
        krandom.gamma  # noqa: B018


# -- a model drawing noise in a custom layer ----------------------------------------
class NoisyDense(layers.Layer):
    """Dense + Gaussian noise and dropout from keras.random while training."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.seed_generator = krandom.SeedGenerator(1337)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs, training=None):
        x = ops.relu(ops.matmul(inputs, self.kernel) + self.bias)
        if training:
            x = x + krandom.normal(ops.shape(x), stddev=0.1, seed=self.seed_generator)
            x = krandom.dropout(x, 0.3, seed=self.seed_generator)
        return x


_X, _Y = make_binary(n=96, features=6, seed=3)
X, Y, XV, YV = _X[:64], _Y[:64], _X[64:], _Y[64:]


def noisy_model() -> keras.Model:
    keras.utils.set_random_seed(0)  # the initial weights
    model = keras.Sequential(
        [keras.Input(shape=(6,)), NoisyDense(12), layers.Dense(1, activation="sigmoid")],
        device="cpu",
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=9)
    return model


def fit_in(chunks: list[int]) -> keras.Model:
    model = noisy_model()
    for n in chunks:
        model.fit(X, Y, epochs=n, batch_size=16, verbose=0, validation_data=(XV, YV))
        torch.rand(5)  # the user's draws between calls
        krandom.normal((3,))
        model.predict(XV, verbose=0)
    return model


def test_keras_random_in_a_layer_keeps_a_split_run_bit_for_bit():
    whole, split = fit_in([5]), fit_in([3, 2])
    assert state_equal(whole.module.state_dict(), split.module.state_dict())
    assert whole.history.history == split.history.history


def test_keras_random_noise_is_drawn_only_in_training():
    model = noisy_model()
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    assert np.array_equal(model.predict(XV, verbose=0), model.predict(XV, verbose=0))


class Sampling(layers.Layer):
    """Keras's VAE example: z = mean + exp(log_var / 2) * epsilon."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = krandom.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
        epsilon = krandom.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon + ops.zeros((batch, dim))


def vae_like(chunks: list[int]) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(6,))
    h = layers.Dense(8, activation="relu")(inputs)
    z = Sampling()([layers.Dense(2)(h), layers.Dense(2)(h)])
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(z))
    model.compile(optimizer="adam", loss="binary_crossentropy", seed=4)
    for n in chunks:
        model.fit(X, Y, epochs=n, batch_size=16, verbose=0)
        model.predict(XV, verbose=0)  # draws from the user's generator, not the run's
    return model


def test_a_sampling_layer_in_a_functional_model_draws_from_the_run():
    whole, split = vae_like([4]), vae_like([1, 3])
    assert state_equal(whole.state_dict(), split.state_dict())
    assert whole.history.history == split.history.history
    torch.manual_seed(0)
    a = whole.predict(XV, verbose=0)
    torch.manual_seed(0)
    assert np.array_equal(a, whole.predict(XV, verbose=0))  # sampling also at inference, as Keras


def test_inside_a_layer_call_new_tensors_follow_the_inputs_device():
    out = Sampling()([torch.zeros(3, 2, device="meta"), torch.zeros(3, 2, device="meta")])
    assert out.device.type == "meta" and out.shape == (3, 2)
    assert ops.zeros((2,)).device == torch.get_default_device()


def test_random_exports_are_sorted_and_there():
    assert krandom.__all__ == sorted(krandom.__all__)
    for name in krandom.__all__:
        assert callable(getattr(krandom, name)), name
