"""Subclassing keras.layers.Layer, keras.metrics.Metric and keras.losses.Loss: they train, save and resume."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import epochal as ep
from _util import make_binary, state_equal
from epochal import keras
from epochal.errors import ArgumentError, ArgumentTypeError, CheckpointError
from epochal.keras import layers, ops


# -- the user's classes -----------------------------------------------------------------
class NoisyLinear(keras.layers.Layer):
    """A dense layer with a non-trainable call counter and keras.random dropout."""

    def __init__(self, units=8, rate=0.2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.rate = rate
        self.builds = 0
        self.seed_generator = keras.random.SeedGenerator(1337)

    def build(self, input_shape):
        self.builds += 1
        self.input_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.steps = self.add_weight(shape=(), initializer="zeros", trainable=False, name="steps")

    def call(self, inputs, training=None):
        x = ops.relu(ops.matmul(inputs, self.kernel) + self.bias)
        if training:
            self.steps.assign_add(1.0)
            x = keras.random.dropout(x, self.rate, seed=self.seed_generator)
        return x


class TruePositiveRate(keras.metrics.Metric):
    """Recall as Keras's guides write it: variables updated with assign_add."""

    def __init__(self, name="tp_rate", **kwargs):
        super().__init__(name=name, **kwargs)
        self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")
        self.positives = self.add_weight(name="positives", shape=(), initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true > 0.5, "float32")
        hits = ops.cast(ops.logical_and(y_true > 0.5, y_pred > 0.5), "float32")
        self.tp.assign_add(ops.sum(hits))
        self.positives.assign_add(ops.sum(y_true))

    def result(self):
        return ops.divide_no_nan(self.tp, self.positives)


class WeightedBCE(keras.losses.Loss):
    """Binary cross-entropy with positives weighted twice, written with keras.ops."""

    def __init__(self, pos_weight=2.0, name="weighted_bce", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pos_weight = pos_weight

    def call(self, y_true, y_pred):
        per = ops.binary_crossentropy(y_true, y_pred)
        weights = ops.where(y_true > 0.5, self.pos_weight, 1.0)
        return ops.mean(per * weights, axis=-1)


_X, _Y = make_binary(n=112, features=6, seed=17)
X, Y, XV, YV = _X[:80], _Y[:80], _X[80:], _Y[80:]


def custom_module(input_layer: bool = True) -> torch.nn.Module:
    keras.utils.set_random_seed(4)
    stack = [NoisyLinear(10), layers.Dense(1, activation="sigmoid")]
    if input_layer:
        stack.insert(0, keras.Input(shape=(6,)))
    return keras.Sequential(stack, device="cpu").module


def compiled(module: torch.nn.Module | None = None) -> ep.Model:
    model = ep.Model(module if module is not None else custom_module(), device="cpu")
    model.compile(
        optimizer="adam",
        loss=WeightedBCE(),
        metrics=[TruePositiveRate(), "accuracy"],
        learning_rate=0.02,
        seed=3,
    )
    return model


FIT = dict(batch_size=16, verbose=0, validation_data=(XV, YV))


def assert_same(a: ep.Model, b: ep.Model) -> None:
    assert state_equal(a.module.state_dict(), b.module.state_dict())
    assert a.history.history == b.history.history
    assert repr(a.optimizer.state_dict()) == repr(b.optimizer.state_dict())


# -- training ---------------------------------------------------------------------------
def test_custom_layer_metric_and_loss_train_and_log_under_their_names():
    model = compiled()
    history = model.fit(X, Y, epochs=6, **FIT)
    logs = history.history
    assert {"loss", "tp_rate", "accuracy", "val_loss", "val_tp_rate"} <= set(logs)
    assert logs["loss"][-1] < logs["loss"][0]
    layer = model.module.noisy_linear
    assert layer.builds == 1
    assert float(layer.steps) == 6 * 5  # trained steps only: validation runs in eval mode
    assert not layer.steps.requires_grad and "noisy_linear.steps" in model.module.state_dict()


def test_custom_metric_is_exact_over_the_validation_set():
    model = compiled()
    history = model.fit(X, Y, epochs=2, **FIT)
    pred = model.predict(XV, verbose=0).reshape(-1)
    hits = ((pred > 0.5) & (YV > 0.5)).sum()
    assert history.history["val_tp_rate"][-1] == pytest.approx(hits / (YV > 0.5).sum(), abs=1e-7)


def test_custom_loss_is_what_training_minimizes():
    model = compiled()
    model.fit(X, Y, epochs=1, **FIT)
    pred = torch.as_tensor(model.predict(XV, verbose=0))
    want = float(WeightedBCE()(torch.as_tensor(YV).reshape(-1, 1), pred))
    assert model.history.history["val_loss"][-1] == pytest.approx(want, rel=1e-5)


def test_a_split_run_with_custom_classes_is_the_same_run():
    whole = compiled()
    whole.fit(X, Y, epochs=5, **FIT)
    split = compiled()
    split.fit(X, Y, epochs=3, **FIT)
    torch.rand(3)
    split.predict(XV, verbose=0)
    split.fit(X, Y, epochs=2, **FIT)
    assert_same(whole, split)


class Crash(ep.Callback):
    def __init__(self, at_step: int) -> None:
        super().__init__()
        self.at_step = at_step

    def on_train_batch_end(self, batch, logs=None):
        if self.model.run.step == self.at_step:
            raise KeyboardInterrupt("killed")


def script(ckdir: Path, crash: Crash | None = None) -> ep.Model:
    model = compiled()
    model.fit(
        X,
        Y,
        epochs=4,
        callbacks=[crash] if crash else [],
        checkpoint_dir=ckdir,
        checkpoint_steps=2,
        **FIT,
    )
    return model


@pytest.mark.parametrize("at_step", [3, 7, 12])
def test_a_killed_run_with_custom_classes_resumes_to_the_same_bits(tmp_path, at_step):
    reference = compiled()
    reference.fit(X, Y, epochs=4, **FIT)
    with pytest.raises(KeyboardInterrupt):
        script(tmp_path / "run", Crash(at_step))
    assert_same(reference, script(tmp_path / "run"))


def test_save_and_load_continue_a_run_with_a_custom_layer(tmp_path):
    whole = compiled()
    whole.fit(X, Y, epochs=4, **FIT)
    first = compiled()
    first.fit(X, Y, epochs=2, **FIT)
    first.save(tmp_path / "saved")
    torch.rand(10)
    loaded = ep.Model.load(
        tmp_path / "saved",
        module=custom_module(),
        optimizer="adam",
        loss=WeightedBCE(),
        metrics=[TruePositiveRate(), "accuracy"],
        learning_rate=0.02,
    )
    loaded.fit(X, Y, epochs=2, **FIT)
    assert_same(whole, loaded)


def test_a_lazy_custom_layer_takes_a_checkpoint_loaded_before_its_first_call():
    built = custom_module()
    lazy = custom_module(input_layer=False)
    assert not lazy.noisy_linear.built
    lazy.load_state_dict(built.state_dict())
    x = torch.as_tensor(XV)
    built.eval(), lazy.eval()
    assert torch.equal(lazy(x), built(x))
    assert state_equal(lazy.state_dict(), built.state_dict())


def test_a_lazy_custom_layer_builds_at_fit_from_the_run_seed():
    def run(draws: int) -> ep.Model:
        model = compiled(custom_module(input_layer=False))
        torch.rand(draws)  # the user's generator does not decide the weights: the run's seed does
        model.fit(X, Y, epochs=2, **FIT)
        return model

    a, b = run(1), run(9)
    assert a.module.noisy_linear.builds == 1
    assert state_equal(a.module.state_dict(), b.module.state_dict())


def test_keras_initializer_objects_and_dtype_names():
    class Init(keras.layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight(
                shape=(50, 40), initializer=keras.initializers.RandomNormal(stddev=0.01)
            )
            self.b = self.add_weight(shape=(4,), initializer=keras.initializers.Constant(2.0))

        def call(self, inputs):
            return inputs

    layer = Init()
    layer(torch.zeros(1, 2))
    assert float(layer.a.detach().std()) == pytest.approx(0.01, rel=0.1)
    assert layer.b.tolist() == [2.0] * 4
    assert (layer.dtype, layer.compute_dtype, layer.variable_dtype) == ("float32",) * 3
    with pytest.raises(ArgumentError, match="initializer"):
        layer.add_weight(shape=(2,), initializer="no_such_initializer")


def test_a_checkpoint_that_build_does_not_fit_is_refused():
    lazy = custom_module(input_layer=False)
    state = custom_module().state_dict()
    state["noisy_linear.extra"] = torch.zeros(2)
    lazy.load_state_dict(state)
    with pytest.raises(CheckpointError, match="extra"):
        lazy(torch.zeros(2, 6))


# -- Layer ------------------------------------------------------------------------------
class Scale(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2.0


class Counter(keras.layers.Layer):
    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.total = self.add_weight(shape=(dim,), initializer="zeros", trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return inputs


def test_build_gets_the_input_shape_once_and_call_gets_training():
    seen = []

    class Probe(keras.layers.Layer):
        def build(self, input_shape):
            seen.append(input_shape)

        def call(self, inputs, training=None, mask=None):
            seen.append(training)
            return inputs

    probe = Probe()
    probe(torch.zeros(2, 3))
    probe.eval()
    probe(torch.zeros(4, 3))
    probe(torch.zeros(4, 3), training=True)
    assert seen == [(2, 3), True, False, True]
    assert probe.built


def test_build_sees_lists_of_shapes_and_numpy_inputs_become_tensors():
    class Pair(keras.layers.Layer):
        def build(self, input_shape):
            self.shapes = input_shape

        def call(self, inputs):
            a, b = inputs
            return ops.concatenate([a, b], axis=-1)

    pair = Pair()
    out = pair([np.zeros((2, 3), np.float32), torch.ones(2, 1)])
    assert out.shape == (2, 4) and pair.shapes == [(2, 3), (2, 1)]
    assert isinstance(Scale()(np.ones((1, 2))), torch.Tensor)


def test_weights_made_in_init_and_non_trainable_state():
    layer = Counter(3)
    layer(torch.ones(4, 3))
    assert layer.total.tolist() == [4.0, 4.0, 4.0]
    assert list(layer.state_dict()) == ["total"]
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1


def test_add_weight_initializers_dtypes_and_names():
    class Many(keras.layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight(shape=(2, 3), initializer="ones")
            self.b = self.add_weight(shape=(2,), initializer=0.5, dtype="float64")
            self.c = self.add_weight(shape=(4,), initializer=torch.nn.init.zeros_, name="c_weight")
            self.counts = self.add_weight(shape=(2,), dtype="int64", trainable=False)
            self.listed = [self.add_weight(shape=(1,), initializer="zeros") for _ in range(2)]

        def call(self, inputs):
            return inputs

    many = Many()
    many(torch.zeros(1, 2))
    assert many.a.tolist() == [[1.0] * 3] * 2
    assert many.b.dtype == torch.float64 and many.b.tolist() == [0.5, 0.5]
    assert many.c.name == "c_weight" and many.counts.dtype == torch.int64
    assert many.counts.tolist() == [0, 0]
    assert set(many.state_dict()) == {"a", "b", "c", "counts", "variable", "variable_1"}
    assert len(many.weights) == 6


def test_trainable_false_freezes_every_weight_and_set_weights_round_trips():
    layer = NoisyLinear(4)
    layer(torch.zeros(2, 3))
    layer.trainable = False
    assert layer.trainable_weights == []
    layer.trainable = True
    assert [w.requires_grad for w in layer.weights] == [True, True, False]
    values = [np.full(w.shape, 0.25, np.float32) for w in layer.get_weights()]
    layer.set_weights(values)
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), values, strict=True))
    with pytest.raises(ArgumentError, match="expected 3 arrays"):
        layer.set_weights(values[:1])
    with pytest.raises(ArgumentError, match="shape"):
        layer.set_weights([np.zeros((9, 9), np.float32), *values[1:]])


def test_frozen_layer_does_not_train():
    module = custom_module()
    module.noisy_linear.trainable = False
    before = module.noisy_linear.kernel.detach().clone()
    model = ep.Model(module, device="cpu")
    model.compile(optimizer="adam", loss="binary_crossentropy", seed=0)
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    assert torch.equal(module.noisy_linear.kernel.detach(), before)


def test_get_config_holds_the_constructor_arguments_and_from_config_rebuilds():
    layer = NoisyLinear(units=5, rate=0.1, name="noisy")
    config = layer.get_config()
    assert config == {
        "name": "noisy",
        "trainable": True,
        "dtype": "float32",
        "units": 5,
        "rate": 0.1,
    }
    clone = NoisyLinear.from_config(config)
    assert (clone.units, clone.rate, clone.name) == (5, 0.1, "noisy")

    class NoKwargs(keras.layers.Layer):
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

    config = NoKwargs(3.0).get_config()
    assert config["factor"] == 3.0
    config["name"] = "renamed"
    config["trainable"] = False
    rebuilt = NoKwargs.from_config(config)
    assert (rebuilt.factor, rebuilt.name, rebuilt.trainable) == (3.0, "renamed", False)


def test_bad_layer_arguments_are_named():
    with pytest.raises(ArgumentTypeError, match="units_typo"):
        NoisyLinear(units_typo=3)
    layer = Scale()
    with pytest.raises(ArgumentTypeError, match="shape"):
        layer.add_weight(shape=(2, -1))
    with pytest.raises(ArgumentTypeError, match="shape"):
        layer.add_weight(shape="big")


def test_a_layer_without_call_says_so():
    with pytest.raises(NotImplementedError, match="call"):
        keras.layers.Layer()(torch.zeros(1))


def test_add_loss_and_weight_regularizers_are_listed_in_losses():
    class Penalized(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(2,), initializer="ones", regularizer=lambda w: 0.5 * ops.sum(w)
            )

        def call(self, inputs):
            self.add_loss(ops.mean(inputs))
            return inputs * self.w

    layer = Penalized()
    layer(torch.full((2, 2), 3.0))
    assert [float(v.detach()) for v in layer.losses] == [3.0, 1.0]


def test_custom_layer_in_a_keras_sequential_names_and_summary():
    module = custom_module()
    assert [name for name, _ in module.named_children()] == ["noisy_linear", "dense"]
    assert isinstance(module.noisy_linear, keras.layers.Layer)
    assert isinstance(module.noisy_linear, torch.nn.Module)


# -- Metric -----------------------------------------------------------------------------
def test_a_custom_metric_works_standalone_as_in_keras():
    metric = TruePositiveRate()
    metric.update_state(np.array([1.0, 1.0, 0.0, 1.0]), np.array([0.9, 0.2, 0.8, 0.7]))
    assert float(metric.result()) == pytest.approx(2 / 3)
    metric.update_state(np.array([1.0]), np.array([0.1]))
    assert float(metric.result()) == pytest.approx(2 / 4)
    metric.reset_state()
    assert [float(v) for v in metric.variables] == [0.0, 0.0]
    assert float(metric(torch.tensor([1.0]), torch.tensor([0.9]))) == 1.0
    assert metric.name == "tp_rate" and metric.get_config()["name"] == "tp_rate"


def test_compile_copies_the_metric_for_training_and_validation():
    metric = TruePositiveRate()
    model = compiled()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[metric], seed=1)
    model.fit(X, Y, epochs=1, **FIT)
    assert [float(v) for v in metric.variables] == [0.0, 0.0]  # the user's instance is untouched
    assert "val_tp_rate" in model.history.history


def test_a_metric_direction_lets_early_stopping_pick_its_mode():
    class Hits(TruePositiveRate):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._direction = "up"  # Keras's convention

    model = compiled()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[Hits()], seed=1)
    stop = ep.EarlyStopping(monitor="val_tp_rate", patience=1)
    model.fit(X, Y, epochs=2, callbacks=[stop], **FIT)
    assert Hits().direction == "max" and TruePositiveRate().direction is None
    undeclared = compiled()
    with pytest.raises(ArgumentError, match="mode="):
        undeclared.fit(X, Y, epochs=1, callbacks=[ep.EarlyStopping(monitor="val_tp_rate")], **FIT)


def test_mean_sum_and_mean_metric_wrapper():
    mean = keras.metrics.Mean(name="loss")
    mean.update_state([1.0, 3.0])
    mean.update_state(5.0, sample_weight=2.0)
    assert float(mean.result()) == pytest.approx((1 + 3 + 10) / 4)
    total = keras.metrics.Sum()
    total.update_state([1.0, 2.0], sample_weight=[1.0, 0.0])
    assert float(total.result()) == 1.0
    wrapped = keras.metrics.MeanMetricWrapper(lambda t, p: ops.abs(t - p), name="mae_like")
    wrapped.update_state(np.array([1.0, 2.0]), np.array([2.0, 2.0]))
    assert float(wrapped.result()) == 0.5
    assert isinstance(keras.metrics.AUC(), keras.metrics.Metric)


def test_a_metric_wrapper_compiles_and_logs_its_name():
    model = compiled()
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=[keras.metrics.MeanMetricWrapper(lambda t, p: ops.abs(t - p), name="abs_err")],
        seed=1,
    )
    model.fit(X, Y, epochs=1, **FIT)
    pred = model.predict(XV, verbose=0).reshape(-1)
    assert model.history.history["val_abs_err"][-1] == pytest.approx(
        np.abs(YV - pred).mean(), rel=1e-5
    )


def test_metric_errors_are_named():
    class Incomplete(keras.metrics.Metric):
        pass

    with pytest.raises(NotImplementedError, match="update_state"):
        Incomplete().update_state([1.0], [1.0])
    with pytest.raises(ArgumentTypeError, match="name"):
        TruePositiveRate(name="")


# -- Loss -------------------------------------------------------------------------------
def test_a_custom_loss_reduces_as_keras_and_takes_integer_targets():
    loss = WeightedBCE()
    y_true = np.array([[1], [0]])  # integers: cast to the outputs' float dtype, as Keras does
    y_pred = np.array([[0.8], [0.4]], np.float32)
    per = np.array([-np.log(0.8) * 2.0, -np.log(0.6)])
    assert float(loss(y_true, y_pred)) == pytest.approx(per.mean(), rel=1e-6)
    summed = WeightedBCE(reduction="sum")
    assert float(summed(y_true, y_pred)) == pytest.approx(per.sum(), rel=1e-6)
    none = WeightedBCE(reduction=None)
    assert none(y_true, y_pred).shape == (2,)
    weighted = float(loss(y_true, y_pred, sample_weight=np.array([1.0, 0.0])))
    assert weighted == pytest.approx(per[0] / 2, rel=1e-6)
    assert loss.get_config() == {"name": "weighted_bce", "reduction": "sum_over_batch_size"}


def test_a_custom_loss_trains_with_sample_weights():
    model = compiled()
    weights = np.where(Y > 0.5, 1.0, 0.5).astype(np.float32)
    model.fit(X, Y, sample_weight=weights, epochs=2, batch_size=16, verbose=0)
    assert np.isfinite(model.history.history["loss"]).all()


def test_loss_dtype_is_a_dtype():
    assert WeightedBCE(dtype="float64")(np.array([[1.0]]), np.array([[0.5]])).dtype == torch.float64
    with pytest.raises(ArgumentError, match="dtype"):
        WeightedBCE(dtype="float8")


# -- composition, training=..., functional models ------------------------------------------
class Block(keras.layers.Layer):
    """Keras's guide pattern: sublayers made in __init__, `training` passed on by hand."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(8, activation="relu")
        self.drop = layers.Dropout(0.5)
        self.out = layers.Dense(units)

    def call(self, inputs, training=None):
        return self.out(self.drop(self.hidden(inputs), training=training))


def test_sublayers_are_tracked_and_take_training_from_the_call():
    block = Block()
    x = torch.ones(64, 3)
    block(x)  # builds
    assert [n for n, _ in block.named_parameters()] == [
        "hidden.weight",
        "hidden.bias",
        "out.weight",
        "out.bias",
    ]
    block.eval()
    assert torch.equal(block(x), block(x))
    assert not torch.equal(block(x, training=True), block(x, training=True))
    assert not block.training and not block.drop.training  # the mode is back after the call
    block.train()
    assert torch.equal(block(x, training=False), block(x, training=False))
    assert block.drop.training
    # epochal's own layers take Keras's `training=` too
    dropout = layers.Dropout(0.5)
    assert torch.equal(dropout(x, training=False), x)
    assert dropout.training


def test_a_custom_layer_in_a_functional_model_trains_splits_and_saves(tmp_path):
    def build() -> keras.Model:
        keras.utils.set_random_seed(1)
        inputs = keras.Input(shape=(6,))
        h = NoisyLinear(10)(inputs)
        h = ops.concatenate([h, Block(3)(h)], axis=-1)
        outputs = layers.Dense(1, activation="sigmoid")(h)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss=WeightedBCE(), metrics=[TruePositiveRate()], seed=2)
        return model

    whole = build()
    whole.fit(X, Y, epochs=4, **FIT)
    split = build()
    split.fit(X, Y, epochs=2, **FIT)
    split.fit(X, Y, epochs=2, **FIT)
    assert state_equal(whole.state_dict(), split.state_dict())
    assert whole.history.history == split.history.history
    whole.save(tmp_path / "m.keras")
    with warnings.catch_warnings():
        # Whether the run (compiled with a custom loss) comes back too is .keras loading's
        # business; here: the custom layers rebuild from their configs with their weights.
        warnings.simplefilter("ignore", RuntimeWarning)
        loaded = keras.saving.load_model(
            tmp_path / "m.keras",
            custom_objects={"NoisyLinear": NoisyLinear, "Block": Block, "WeightedBCE": WeightedBCE},
        )
    np.testing.assert_array_equal(loaded.predict(XV, verbose=0), whole.predict(XV, verbose=0))


def test_weight_regularizers_constraints_and_add_loss_follow_the_layers_penalty_protocol():
    penalties = pytest.importorskip("epochal.layers._penalties")

    class Penalized(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(2,),
                initializer="ones",
                regularizer=lambda w: 0.5 * ops.sum(w),
                constraint=lambda w: ops.clip(w, -0.5, 0.5),
            )

        def call(self, inputs):
            return inputs * self.w

    class AddsLoss(keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(ops.sum(inputs))
            return inputs

    net = torch.nn.Sequential(Penalized(), AddsLoss())
    net(torch.full((2, 2), 3.0))
    assert float(penalties.regularization_loss(net).detach()) == pytest.approx(1.0 + 12.0)
    penalties.apply_constraints(net)
    assert net[0].w.tolist() == [0.5, 0.5]


class Regularized(keras.layers.Layer):
    def __init__(self, reg=None, constraint=None, extra=0.0, **kwargs):
        super().__init__(**kwargs)
        self.reg, self.constraint, self.extra = reg, constraint, extra

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 1), regularizer=self.reg, constraint=self.constraint
        )

    def call(self, inputs):
        if self.extra:
            self.add_loss(self.extra * ops.mean(ops.square(inputs)))
        return ops.matmul(inputs, self.kernel)


@pytest.mark.parametrize(
    "reg", ["l2", keras.regularizers.L2(0.5), lambda w: 0.5 * ops.sum(ops.square(w))]
)
def test_fit_adds_a_custom_layers_penalties_to_the_logged_loss(reg):
    def run(layer_reg, extra=0.0):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input(shape=(6,)), Regularized(layer_reg, extra=extra)])
        model.compile(optimizer="sgd", loss="mse", seed=0)
        kernel = model.layers[0].kernel.detach().clone()
        return kernel, model.fit(X, Y, epochs=1, batch_size=80, verbose=0).history["loss"][0]

    kernel, with_penalty = run(reg)
    _, without = run(None)
    factor = 0.01 if reg == "l2" else 0.5  # Keras's default l2 factor
    assert with_penalty == pytest.approx(without + factor * float(kernel.square().sum()), rel=1e-5)
    _, with_added = run(None, extra=2.0)
    assert with_added == pytest.approx(without + 2.0 * float(np.square(X).mean()), rel=1e-5)


def test_fit_applies_a_custom_layers_constraint_after_each_step():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input(shape=(6,)), Regularized(constraint=keras.constraints.NonNeg())]
    )
    model.compile(optimizer="adam", loss="mse", learning_rate=0.1, seed=0)
    model.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    assert float(model.layers[0].kernel.detach().min()) >= 0.0


def test_masks_reach_call_and_pass_on_with_supports_masking():
    class MaskedMean(keras.layers.Layer):
        def call(self, inputs, mask=None):
            weights = ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
            return ops.sum(inputs * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

    class Double(keras.layers.Layer):
        supports_masking = True

        def call(self, inputs):
            return inputs * 2

    class Drops(keras.layers.Layer):
        def call(self, inputs):
            return inputs + 1.0

    ids = torch.tensor([[1, 2, 0, 0], [3, 0, 0, 0]])
    embedded = layers.Embedding(10, 3, mask_zero=True)(ids)
    doubled = Double()(embedded)
    assert doubled._keras_mask.tolist() == [[True, True, False, False], [True, False, False, False]]
    assert getattr(Drops()(embedded), "_keras_mask", None) is None
    means = MaskedMean()(doubled)
    torch.testing.assert_close(means[0], 2 * embedded[0, :2].mean(0))
    torch.testing.assert_close(means[1], 2 * embedded[1, 0])
    explicit = MaskedMean()(embedded, mask=torch.ones(2, 4, dtype=torch.bool))
    torch.testing.assert_close(explicit, embedded.mean(1))


def test_adding_weights_before_super_init_is_named():
    class Early(keras.layers.Layer):
        def __init__(self):
            self.w = self.add_weight(shape=(2,))
            super().__init__()

    class EarlyMetric(keras.metrics.Metric):
        def __init__(self):
            self.v = self.add_variable(shape=())
            super().__init__()

    with pytest.raises(ArgumentError, match=r"super\(\)\.__init__"):
        Early()
    with pytest.raises(ArgumentError, match=r"super\(\)\.__init__"):
        EarlyMetric()
    with pytest.raises(ArgumentTypeError, match="shape"):
        TruePositiveRate().add_variable(shape=(-1,), initializer="zeros")


def test_custom_layers_inside_a_keras_model_subclass_split_bit_for_bit():
    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.noisy = NoisyLinear(10)
            self.block = Block(3)
            self.head = layers.Dense(1, activation="sigmoid")

        def call(self, inputs, training=None):
            h = self.noisy(inputs, training=training)
            return self.head(ops.concatenate([h, self.block(h, training=training)], axis=-1))

    def run(chunks: list[int]) -> keras.Model:
        keras.utils.set_random_seed(0)
        model = Net()
        model.compile(optimizer="adam", loss=WeightedBCE(), metrics=[TruePositiveRate()], seed=3)
        for n in chunks:
            model.fit(X, Y, epochs=n, **FIT)
        return model

    whole, split = run([3]), run([1, 2])
    assert state_equal(whole.state_dict(), split.state_dict())
    assert whole.history.history == split.history.history
    assert "noisy.steps" in whole.state_dict() and "val_tp_rate" in whole.history.history
