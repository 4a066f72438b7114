"""The functional API: keras.Input, recorded calls, keras.Model(inputs, outputs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from epochal import keras
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import layers


def two_input_model():
    a = keras.Input(shape=(6,), name="a")
    b = keras.Input(shape=(3,), name="b")
    shared = layers.Dense(4, activation="relu", name="shared")
    ha, hb = shared(a), shared(a * 0.5)
    merged = torch.cat([ha, hb, b], dim=-1)
    out1 = layers.Dense(1, activation="sigmoid", name="score")(merged)
    out2 = layers.Dense(2, name="extra")(merged)
    return keras.Model([a, b], [out1, out2], name="two"), shared


# -- symbolic tensors ---------------------------------------------------------------------


def test_input_is_a_symbolic_tensor_with_keras_shape_and_dtype():
    x = keras.Input(shape=(28, 28, 1), name="image")
    assert isinstance(x, keras.KerasTensor)
    assert x.shape == (None, 28, 28, 1) and x.dtype == torch.float32 and x.name == "image"
    assert x.ndim == 4
    assert keras.Input(shape=(5,), dtype="int64").dtype == torch.int64
    assert keras.Input(shape=(None, 8)).shape == (None, None, 8)
    assert keras.Input(batch_shape=(16, 3)).shape == (16, 3)


def test_layer_calls_infer_shapes_without_computing():
    x = keras.Input(shape=(None, 12))
    y = layers.LSTM(5, return_sequences=True)(x)
    assert y.shape == (None, None, 5)
    z = layers.Conv2D(8, 3, strides=2)(keras.Input(shape=(32, 32, 3)))
    assert z.shape == (None, 15, 15, 8)


def test_a_lazy_layer_called_symbolically_is_built_as_an_eager_call_builds_it():
    dense = layers.Dense(3)
    torch.manual_seed(0)
    dense(keras.Input(shape=(4,)))
    torch.manual_seed(0)
    eager = layers.Dense(3)
    eager(torch.zeros(2, 4))
    assert dense.built and torch.equal(dense.weight, eager.weight)
    assert dense.weight.device.type == "cpu"


def test_torch_functions_methods_and_operators_are_recorded():
    x = keras.Input(shape=(6,))
    assert (x + 1).shape == (None, 6)
    assert (2 * x).shape == (None, 6)
    assert (1 - x)._node.kind == "rfunction"
    assert x.reshape(-1, 2, 3).shape == (None, 2, 3)
    assert x[:, :2].shape == (None, 2)
    assert torch.cat([x, x], dim=1).shape == (None, 12)
    assert torch.nn.functional.relu(x).shape == (None, 6)
    assert x.mean(dim=-1, keepdim=True).shape == (None, 1)
    assert (x > 0).dtype == torch.bool
    assert (x @ torch.ones(6, 2)).shape == (None, 2)


def test_a_symbolic_tensor_has_no_values():
    x = keras.Input(shape=(3,))
    with pytest.raises(TypeError, match="no truth value"):
        bool(x)
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(x)
    with pytest.raises(TypeError, match="holds no values"):
        x.numpy()
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        x.nonsense  # noqa: B018


def test_a_size_that_depends_on_the_batch_is_a_clear_error():
    x = keras.Input(shape=(3,))
    with pytest.raises(ArgumentError, match="depends on the batch"):
        x.numel()


def test_a_call_that_does_not_fit_the_shapes_fails_with_the_shapes():
    x = keras.Input(shape=(3,))
    with pytest.raises(ArgumentError, match=r"\(None, 3\)"):
        x.reshape(-1, 2, 2, 5)


def test_a_plain_torch_module_needs_the_wrapper():
    x = keras.Input(shape=(4,))
    with pytest.raises(ArgumentTypeError, match="TorchModuleWrapper"):
        nn.Linear(4, 2)(x)
    wrapped = layers.TorchModuleWrapper(nn.Linear(4, 2))
    y = wrapped(x)
    model = keras.Model(x, y)
    data = torch.randn(5, 4)
    assert torch.equal(model(data), wrapped.module(data))
    assert len(list(model.parameters())) == 2


def test_parameterless_torch_modules_are_recorded_as_their_functions():
    x = keras.Input(shape=(4,))
    y = nn.ReLU()(x)
    model = keras.Model(x, y)
    data = torch.randn(3, 4)
    assert torch.equal(model(data), torch.relu(data))


# -- keras.Model(inputs, outputs) ----------------------------------------------------------


def test_functional_model_is_a_torch_module_running_generated_code():
    model, _ = two_input_model()
    assert isinstance(model, keras.Model) and isinstance(model, nn.Module)
    code = model.module.code
    assert "self.shared(a)" in code and "torch.cat" in code
    a, b = torch.randn(5, 6), torch.randn(5, 3)
    score, extra = model(a, b)
    shared = model.get_layer("shared")
    merged = torch.cat([shared(a), shared(a * 0.5), b], dim=-1)
    assert torch.allclose(score, model.get_layer("score")(merged))
    assert torch.allclose(extra, model.get_layer("extra")(merged))


def test_inputs_as_list_dict_or_keywords():
    model, _ = two_input_model()
    a, b = torch.randn(2, 6), torch.randn(2, 3)
    expected = model(a, b)
    for result in (model([a, b]), model({"a": a, "b": b}), model(a=a, b=b)):
        assert all(torch.equal(x, y) for x, y in zip(expected, result, strict=True))
    with pytest.raises(ArgumentError, match="expected inputs named"):
        model({"a": a, "c": b})
    with pytest.raises(ArgumentError, match="expected 2 input"):
        model(a)


def test_dict_inputs_and_outputs_keep_their_keys():
    a = keras.Input(shape=(2,))
    b = keras.Input(shape=(2,))
    model = keras.Model({"left": a, "right": b}, {"sum": a + b, "diff": a - b})
    out = model({"left": torch.ones(1, 2), "right": torch.ones(1, 2)})
    assert set(out) == {"sum", "diff"}
    assert torch.equal(out["sum"], torch.full((1, 2), 2.0))


def test_shared_layer_is_one_module_called_twice():
    model, shared = two_input_model()
    assert [name for name, _ in model.named_children()] == ["shared", "score", "extra"]
    assert model.module.code.count("self.shared(") == 2
    assert sum(p.numel() for p in model.parameters()) == (6 * 4 + 4) + (11 * 1 + 1) + (11 * 2 + 2)
    with pytest.raises(ArgumentError, match="called 2 times"):
        shared.output  # noqa: B018


def test_inputs_outputs_layers_and_get_layer():
    model, _ = two_input_model()
    assert [t.name for t in model.inputs] == ["a", "b"]
    assert [t.shape for t in model.outputs] == [(None, 1), (None, 2)]
    names = ["a", "b", "shared", "score", "extra"]
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer",
        "InputLayer",
        "Dense",
        "Dense",
        "Dense",
    ]
    assert model.get_layer(index=3) is model.get_layer("score")
    assert model.get_layer("score").output.shape == (None, 1)
    assert model.get_layer("score").input.shape == (None, 11)
    with pytest.raises(ArgumentError, match="no layer named 'nope'.*" + ", ".join(names)):
        model.get_layer("nope")
    with pytest.raises(ArgumentError, match="exactly one of"):
        model.get_layer()
    with pytest.raises(ArgumentError, match="index"):
        model.get_layer(index=9)


def test_unnamed_layers_get_keras_names():
    x = keras.Input(shape=(3,))
    y = layers.Dense(2)(layers.Dropout(0.1)(layers.Dense(4)(x)))
    model = keras.Model(x, y)
    assert model.name == "functional"
    assert [name for name, _ in model.named_children()] == ["dense", "dropout", "dense_1"]


def test_feature_extractor_from_layer_outputs():
    x = keras.Input(shape=(5,))
    hidden = layers.Dense(3, name="hidden")(x)
    model = keras.Model(x, layers.Dense(1)(hidden))
    features = keras.Model(model.inputs, model.get_layer("hidden").output)
    data = torch.randn(4, 5)
    assert torch.equal(features(data), model.get_layer("hidden")(data))
    assert features.get_layer("hidden") is model.get_layer("hidden")


def test_nested_models_are_layers():
    inner_in = keras.Input(shape=(4,))
    encoder = keras.Model(inner_in, layers.Dense(2, name="code")(inner_in), name="encoder")
    head = keras.Sequential([layers.Dense(3), layers.Dense(1)], name="head")
    x = keras.Input(shape=(4,))
    model = keras.Model(x, head(encoder(x)), name="outer")
    assert [name for name, _ in model.named_children()] == ["encoder", "head"]
    data = torch.randn(6, 4)
    assert torch.equal(model(data), head(encoder(data)))
    assert "encoder.code.weight" in model.state_dict()
    assert "self.encoder(input_layer)" in model.module.code


def test_two_default_named_nested_models_get_unique_names():
    def block():
        i = keras.Input(shape=(2,))
        return keras.Model(i, layers.Dense(2)(i))

    x = keras.Input(shape=(2,))
    model = keras.Model(x, block()(block()(x)))
    assert [name for name, _ in model.named_children()] == ["functional", "functional_1"]


def test_duplicate_explicit_names_are_an_error():
    x = keras.Input(shape=(2,))
    y = layers.Dense(2, name="same")(layers.Dense(2, name="same")(x))
    with pytest.raises(ArgumentError, match="unique layer names"):
        keras.Model(x, y)


def test_inputs_and_outputs_are_checked():
    x = keras.Input(shape=(2,))
    other = keras.Input(shape=(2,), name="other")
    with pytest.raises(ArgumentError, match=r"not in `inputs`.*other"):
        keras.Model(x, x + other)
    with pytest.raises(ArgumentTypeError, match=r"keras.Input tensor"):
        keras.Model(torch.zeros(2), x)
    with pytest.raises(ArgumentTypeError, match="symbolic tensors"):
        keras.Model(x, torch.zeros(2))
    with pytest.raises(ArgumentError, match="not computed ones"):
        keras.Model(x + 1, x)
    with pytest.raises(ArgumentError, match="given twice"):
        keras.Model([x, x], x)


def test_model_from_a_subset_of_inputs_that_reach_the_outputs():
    a = keras.Input(shape=(2,))
    b = keras.Input(shape=(2,))
    model = keras.Model([a, b], a * 2)
    assert torch.equal(model(torch.ones(1, 2), torch.zeros(1, 2)), torch.full((1, 2), 2.0))


def test_constants_are_buffers_that_follow_the_model():
    x = keras.Input(shape=(3,))
    offset = torch.tensor([1.0, 2.0, 3.0])
    model = keras.Model(x, x + offset)
    assert "_constant_0" in dict(model.named_buffers())
    model.double()
    assert model(torch.zeros(1, 3, dtype=torch.float64)).dtype == torch.float64


def test_training_argument_sets_the_mode_for_the_call_only():
    x = keras.Input(shape=(50,))
    model = keras.Model(x, layers.Dropout(0.5)(x))
    model.eval()
    data = torch.ones(4, 50)
    assert torch.equal(model(data), data)
    assert not torch.equal(model(data, training=True), data)
    assert not model.training


def test_summary_shows_the_connections(capsys):
    model, _ = two_input_model()
    text = model.summary()
    assert 'Model: "two"' in text
    assert "Connected to" in text
    assert text.count("shared (Dense)") == 1  # one row per layer, each call connected
    assert "a[0][0]" in text and "mul[0][0]" in text and "shared[1][0]" in text
    assert "Total params: 64" in text
    assert text in capsys.readouterr().out


def test_functional_model_trains_predicts_and_evaluates():
    rng = np.random.default_rng(0)
    x = rng.random((64, 6), dtype=np.float32)
    y = (x.sum(axis=1) > 3).astype(np.float32)[:, None]
    inputs = keras.Input(shape=(6,))
    hidden = layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=0)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert len(history.history["loss"]) == 3
    loss, accuracy = model.evaluate(x, y, verbose=0)  # Keras's form: [loss, *metrics]
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": loss, "accuracy": accuracy}
    assert model.predict(x[:5], verbose=0).shape == (5, 1)


def test_a_sigmoid_head_is_split_off_for_the_loss():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(layers.Dense(4)(inputs)))
    assert model.activation_name == "sigmoid"
    data = torch.randn(2, 3)
    assert torch.allclose(torch.sigmoid(model.forward_preactivation(data)), model(data))


def test_multi_input_data_by_name_and_by_position_trains_the_same():
    rng = np.random.default_rng(1)
    xa = rng.random((32, 6), dtype=np.float32)
    xb = rng.random((32, 3), dtype=np.float32)
    y = rng.random((32, 1), dtype=np.float32)

    def run(data):
        torch.manual_seed(0)
        a = keras.Input(shape=(6,), name="a")
        b = keras.Input(shape=(3,), name="b")
        out = layers.Dense(1)(torch.cat([layers.Dense(4)(a), b], dim=-1))
        model = keras.Model([a, b], out)
        model.compile(optimizer="sgd", loss="mse", seed=0)
        return model.fit(data, y, epochs=2, batch_size=8, verbose=0).history["loss"]

    assert run((xa, xb)) == run({"a": xa, "b": xb})


def test_deepcopy_and_pickle_give_independent_working_models():
    import copy
    import io

    x = keras.Input(shape=(4,), name="x")
    model = keras.Model(x, layers.Dense(2)(layers.Dense(3)(x) + torch.ones(3)))
    data = torch.randn(2, 4)
    clone = copy.deepcopy(model)
    assert torch.equal(clone(data), model(data)) and clone.get_layer(
        "dense"
    ) is not model.get_layer("dense")
    with torch.no_grad():
        clone.get_layer("dense").weight.zero_()
    assert not torch.equal(clone(data), model(data))
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    assert torch.equal(torch.load(buffer, weights_only=False)(data), model(data))


def test_an_identity_model_and_integer_inputs():
    x = keras.Input(shape=(4,))
    data = torch.randn(2, 4)
    assert keras.Model(x, x)(data) is data
    ids = keras.Input(shape=(None,), dtype="int32")
    out = layers.Dense(1)(layers.LSTM(4)(layers.Embedding(50, 8)(ids)))
    model = keras.Model(ids, out)
    assert model(torch.randint(0, 50, (3, 7))).shape == (3, 1)


def test_layers_may_still_name_their_own_attributes_output_and_input():
    from epochal.layers._base import Layer

    class Block(Layer):
        def __init__(self):
            super().__init__(name=None, input_shape=None, owner="Block")
            self.output = layers.Dense(2)
            self.input = "plain value"

        def forward(self, x):
            return self.output(x)

    block = Block()
    assert isinstance(block.output, layers.Dense) and block.input == "plain value"
    assert block(torch.zeros(1, 3)).shape == (1, 2)


def test_training_argument_of_a_layer_call_is_kept_in_the_graph():
    dropout = layers.Dropout(0.5)
    data = torch.ones(4, 50)
    dropout.eval()
    assert not torch.equal(dropout(data, training=True), data) and not dropout.training
    x = keras.Input(shape=(50,))
    always = keras.Model(x, layers.Dropout(0.5)(x, training=True))
    always.eval()
    assert "training = True" in always.module.code
    assert not torch.equal(always(data), data)
    frozen = keras.Model(x, layers.BatchNormalization()(x, training=False))
    frozen.train()
    before = [b.clone() for b in frozen.buffers()]
    frozen(torch.randn(8, 50) + 3)  # inference mode: the moving statistics stay
    assert all(torch.equal(a, b) for a, b in zip(before, frozen.buffers(), strict=True))


class Residual(keras.Model):
    def __init__(self, units=4, name=None):
        super().__init__(name=name)
        self.inner = layers.Dense(units)

    def call(self, inputs):
        return inputs + self.inner(inputs)


def test_a_subclassed_model_is_a_layer_of_a_functional_model():
    x = keras.Input(shape=(4,))
    block = Residual()
    model = keras.Model(x, layers.Dense(1)(block(x)))
    assert block.built and block.output.shape == (None, 4)
    data = torch.randn(3, 4)
    assert torch.equal(model(data), model.get_layer("dense")(data + block.inner(data)))
    assert [name for name, _ in model.named_children()] == ["residual", "dense"]
