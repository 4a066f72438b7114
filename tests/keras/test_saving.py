"""Layer configs, .keras archives, to_json and the registry of custom classes."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from epochal import keras
from epochal.errors import ArgumentError, CheckpointError
from epochal.keras import layers


def data(n=40, features=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    y = (x.sum(axis=1) > features / 2).astype(np.float32)[:, None]
    return x, y


def functional():
    a = keras.Input(shape=(5,), name="a")
    b = keras.Input(shape=(2,), name="b")
    shared = layers.Dense(4, activation="relu")
    merged = torch.cat([shared(a), shared(a * 0.5), b], dim=-1)
    out = layers.Dense(1, activation="sigmoid", name="score")(merged + torch.tensor(0.25))
    return keras.Model({"a": a, "b": b}, out, name="scorer")


@keras.saving.register_keras_serializable(package="tests")
class Scale(layers.Dense):
    """A custom layer: a Dense whose output is scaled (its config includes `factor`)."""

    def __init__(self, units, factor=2.0, **kwargs):
        super().__init__(units, **kwargs)
        self.factor = factor

    def forward(self, x):
        return super().forward(x) * self.factor


class Unregistered(layers.Dense):
    pass


class TwoLayers(keras.Model):
    def __init__(self, units=4, name=None):
        super().__init__(name=name)
        self.hidden = layers.Dense(units, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


# -- configs ------------------------------------------------------------------------------


def test_every_layer_records_its_constructor_arguments():
    dense = layers.Dense(3, activation="relu", name="d")
    config = dense.get_config()
    assert config["units"] == 3 and config["activation"] == "relu" and config["name"] == "d"
    assert config["kernel_initializer"] == "glorot_uniform"  # defaults are filled in
    clone = layers.Dense.from_config(config)
    assert isinstance(clone, layers.Dense) and clone.get_config() == config
    assert layers.Conv2D(4, 3).get_config()["kernel_size"] == 3


def test_subclass_configs_record_the_outermost_arguments():
    config = Scale(3, factor=0.5, activation="tanh").get_config()
    assert config["factor"] == 0.5 and config["units"] == 3 and config["activation"] == "tanh"
    assert TwoLayers(units=6, name="m").get_config() == {"units": 6, "name": "m"}


def test_model_to_json_and_back_rebuilds_the_graph():
    model = functional()
    text = model.to_json()
    assert json.loads(text)["class_name"] == "Functional"
    clone = keras.models.model_from_json(text)
    assert clone.module.code == model.module.code
    assert list(clone.state_dict()) == list(model.state_dict())
    clone.load_state_dict(model.state_dict())
    x = {"a": torch.randn(3, 5), "b": torch.randn(3, 2)}
    assert torch.equal(clone(x), model(x))


def test_sequential_config_round_trip_and_clone_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            layers.Dense(4, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(2),
        ],
        name="seq",
    )
    clone = keras.models.clone_model(model)
    assert isinstance(clone, keras.Sequential) and clone.name == "seq"
    assert [n for n, _ in clone.named_children()] == ["dense", "dropout", "dense_1"]
    assert clone.built and [p.shape for p in clone.parameters()] == [
        p.shape for p in model.parameters()
    ]
    assert keras.Sequential.from_config(model.get_config()).name == "seq"


def test_a_function_that_cannot_be_named_is_a_clear_error():
    x = keras.Input(shape=(2,))
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Dense(2, activation=lambda t: t * 2)])
    with pytest.raises(ArgumentError, match="cannot be saved by name"):
        model.to_json()
    plain = keras.Sequential([x.__class__ and torch.nn.Linear(2, 2)])
    with pytest.raises(ArgumentError, match=r"plain torch.nn.Module"):
        plain.to_json()


def test_unknown_classes_need_custom_objects():
    model = keras.Sequential([keras.Input(shape=(3,)), Unregistered(2)])
    text = model.to_json()
    with pytest.raises(ArgumentError, match=r"Unknown layer class 'Unregistered'.*custom_objects"):
        keras.models.model_from_json(text)
    clone = keras.models.model_from_json(text, custom_objects={"Unregistered": Unregistered})
    assert isinstance(clone.layers[0], Unregistered)
    with keras.saving.custom_object_scope({"Unregistered": Unregistered}):
        assert isinstance(keras.models.model_from_json(text).layers[0], Unregistered)


def test_registered_classes_are_found_by_name():
    assert keras.saving.get_registered_name(Scale) == "tests>Scale"
    assert keras.saving.get_registered_object("tests>Scale") is Scale
    model = keras.Sequential([keras.Input(shape=(3,)), Scale(2, factor=3.0)])
    clone = keras.models.model_from_json(model.to_json())
    assert isinstance(clone.layers[0], Scale) and clone.layers[0].factor == 3.0


# -- .keras files -------------------------------------------------------------------------


def test_keras_file_is_a_zip_of_json_and_safetensors(tmp_path):
    model = functional()
    path = model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"metadata.json", "config.json", "model.weights.safetensors"} <= names
        assert not any(name.endswith((".pkl", ".pt", ".pth")) for name in names)
        assert json.loads(archive.read("metadata.json"))["format"] == "epochal.keras"
    restored = keras.models.load_model(path)
    x = {"a": torch.randn(4, 5), "b": torch.randn(4, 2)}
    assert torch.equal(restored(x), model(x))
    assert keras.saving.load_model(path).name == "scorer"


def test_loaded_model_continues_its_run_bit_for_bit(tmp_path):
    x, y = data()

    def make():
        torch.manual_seed(0)
        return keras.Sequential(
            [
                keras.Input(shape=(5,)),
                layers.Dense(8, activation="relu"),
                layers.Dropout(0.3),
                layers.Dense(1, activation="sigmoid"),
            ]
        )

    straight = make()
    straight.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=7)
    straight.fit(x, y, epochs=4, batch_size=8, verbose=0)

    first = make()
    first.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=7)
    first.fit(x, y, epochs=2, batch_size=8, verbose=0)
    first.save(tmp_path / "run.keras")
    resumed = keras.models.load_model(tmp_path / "run.keras")
    resumed.fit(x, y, epochs=2, batch_size=8, verbose=0)

    assert resumed.history.history["loss"] == straight.history.history["loss"]
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a.cpu(), b.cpu())


def test_functional_model_with_a_run_resumes_too(tmp_path):
    x, y = data(features=5)
    xb = np.zeros((len(x), 2), dtype=np.float32)
    torch.manual_seed(1)
    model = functional()
    model.compile(optimizer="sgd", loss="bce", seed=2)
    model.fit({"a": x, "b": xb}, y, epochs=1, verbose=0)
    model.save(tmp_path / "f.keras")
    restored = keras.models.load_model(tmp_path / "f.keras")
    model.fit({"a": x, "b": xb}, y, epochs=1, verbose=0)
    restored.fit({"a": x, "b": xb}, y, epochs=1, verbose=0)
    assert restored.history.history["loss"] == model.history.history["loss"]


def test_compile_false_loads_only_architecture_and_weights(tmp_path):
    x, y = data()
    model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras", compile=False)
    assert restored.__dict__["_native"] is None
    assert torch.equal(restored.layers[0].weight, model.layers[0].weight.cpu())


def test_custom_layers_load_through_custom_objects(tmp_path):
    model = keras.Sequential([keras.Input(shape=(3,)), Unregistered(2, name="mine")])
    model.save(tmp_path / "c.keras")
    with pytest.raises(CheckpointError, match="Unknown layer class 'Unregistered'"):
        keras.models.load_model(tmp_path / "c.keras")
    restored = keras.models.load_model(
        tmp_path / "c.keras", custom_objects={"Unregistered": Unregistered}
    )
    assert torch.equal(restored(torch.ones(1, 3)), model(torch.ones(1, 3)))


def test_subclassed_model_saves_through_its_recorded_arguments(tmp_path):
    model = TwoLayers(units=3, name="two")
    model(torch.zeros(1, 4))
    model.save(tmp_path / "s.keras")
    restored = keras.models.load_model(
        tmp_path / "s.keras", custom_objects={"TwoLayers": TwoLayers}
    )
    assert isinstance(restored, TwoLayers) and restored.name == "two"
    assert torch.equal(restored(torch.ones(2, 4)), model(torch.ones(2, 4)))


def test_load_weights_from_a_keras_file(tmp_path):
    model = functional()
    model.save(tmp_path / "w.keras")
    other = functional()
    other.load_weights(tmp_path / "w.keras")
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters(), strict=True)
    )
    wrong = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(1)])
    with pytest.raises(CheckpointError, match="do not fit"):
        wrong.load_weights(tmp_path / "w.keras")


def test_other_paths_save_a_checkpoint_directory_and_h5_is_refused(tmp_path):
    x, y = data()
    model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    assert (model.save(tmp_path / "ckpt") / "manifest.json").exists()
    with pytest.raises(ArgumentError, match="HDF5"):
        model.save(tmp_path / "m.h5")
    model.save(tmp_path / "m.keras")
    with pytest.raises(ArgumentError, match="overwrite=False"):
        model.save(tmp_path / "m.keras", overwrite=False)
    with pytest.raises(CheckpointError, match="is a directory"):
        keras.models.load_model(tmp_path / "ckpt")


# -- bad files ----------------------------------------------------------------------------


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def test_bad_files_raise_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match=r"No .keras file"):
        keras.models.load_model(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a zip"):
        keras.models.load_model(tmp_path / "junk.keras")
    path = write_zip(tmp_path / "empty.keras", {"x.txt": "hi"})
    with pytest.raises(CheckpointError, match=r"no 'metadata.json'"):
        keras.models.load_model(path)
    path = write_zip(tmp_path / "foreign.keras", {"metadata.json": '{"keras_version": "3.0"}'})
    with pytest.raises(CheckpointError, match=r"not an epochal.keras archive"):
        keras.models.load_model(path)


def test_damaged_parts_raise_checkpoint_errors(tmp_path):
    model = functional()
    good = model.save(tmp_path / "good.keras")
    with zipfile.ZipFile(good) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    broken = dict(parts, **{"model.weights.safetensors": b"\x00" * 20})
    with pytest.raises(CheckpointError, match="weights are damaged"):
        keras.models.load_model(write_zip(tmp_path / "w.keras", broken))
    deep = dict(parts, **{"config.json": "[" * 1000 + "]" * 1000})
    with pytest.raises(CheckpointError, match="nested 1000 deep"):
        keras.models.load_model(write_zip(tmp_path / "d.keras", deep))
    invalid = dict(parts, **{"config.json": "{"})
    with pytest.raises(CheckpointError, match="not valid JSON"):
        keras.models.load_model(write_zip(tmp_path / "j.keras", invalid))
    config = json.loads(parts["config.json"])
    call = next(n for n in config["config"]["nodes"] if n["kind"] == "function")
    call["target"] = "os.system"
    evil = dict(parts, **{"config.json": json.dumps(config)})
    with pytest.raises(CheckpointError, match="cannot be rebuilt"):
        keras.models.load_model(write_zip(tmp_path / "e.keras", evil))
    call["target"] = "torch.load"  # a torch function, but not one a model's graph may call
    evil = dict(parts, **{"config.json": json.dumps(config)})
    with pytest.raises(CheckpointError, match=r"Unknown function 'torch.load'"):
        keras.models.load_model(write_zip(tmp_path / "t.keras", evil))
    unsafe = dict(parts, **{"run/../../escape": b"x"})
    with pytest.raises(CheckpointError, match="unsafe name"):
        keras.models.load_model(write_zip(tmp_path / "u.keras", unsafe))


def test_an_oversized_member_is_refused(tmp_path, monkeypatch):
    model = functional()
    path = model.save(tmp_path / "big.keras")
    monkeypatch.setattr(keras.saving, "MAX_JSON_BYTES", 10)
    with pytest.raises(CheckpointError, match="at most 10 are read"):
        keras.models.load_model(path)


def test_keras_objects_in_compile_come_back_and_the_run_continues(tmp_path):
    x, y = data()

    def make():
        torch.manual_seed(0)
        model = keras.Sequential(
            [
                keras.Input(shape=(5,)),
                layers.Dense(6, activation="relu"),
                layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(
            keras.optimizers.Adam(learning_rate=0.01),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=[keras.metrics.BinaryAccuracy(name="acc")],
            seed=5,
        )
        return model

    straight = make()
    straight.fit(x, y, epochs=3, batch_size=8, verbose=0)
    first = make()
    first.fit(x, y, epochs=1, batch_size=8, verbose=0)
    first.save(tmp_path / "objects.keras")
    with zipfile.ZipFile(tmp_path / "objects.keras") as archive:
        assert "compile.json" in archive.namelist()
    resumed = keras.models.load_model(tmp_path / "objects.keras")
    resumed.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert resumed.history.history == straight.history.history
    assert "acc" in resumed.history.history


def test_a_callable_loss_loads_the_weights_and_warns(tmp_path):
    x, y = data()
    model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(1)])
    model.compile(
        optimizer="sgd", loss=lambda y_pred, y_true: ((y_pred - y_true) ** 2).mean(), seed=0
    )
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "callable.keras")
    with pytest.warns(RuntimeWarning, match="cannot be restored by name"):
        restored = keras.models.load_model(tmp_path / "callable.keras")
    assert torch.equal(restored.layers[0].weight, model.layers[0].weight.cpu())


class HalfMSE(keras.losses.Loss):
    def call(self, y_true, y_pred):
        return 0.5 * ((y_true - y_pred) ** 2).mean(dim=-1)


def test_compile_settings_of_unknown_classes_warn_and_the_model_still_loads(tmp_path):
    x, y = data()
    model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss=HalfMSE(), seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "loss.keras")
    with pytest.warns(RuntimeWarning) as caught:  # then the run's own: weights only
        restored = keras.models.load_model(tmp_path / "loss.keras")
    assert "compile settings cannot be rebuilt" in str(caught[0].message)
    assert torch.equal(restored.layers[0].weight, model.layers[0].weight.cpu())
    resumed = keras.models.load_model(tmp_path / "loss.keras", custom_objects={"HalfMSE": HalfMSE})
    model.fit(x, y, epochs=1, verbose=0)
    resumed.fit(x, y, epochs=1, verbose=0)
    assert resumed.history.history["loss"] == model.history.history["loss"]


SWEEP = {
    "merge": ((5,), None, lambda i: layers.add([layers.Dense(5)(i), i])),
    "concatenate": ((5,), None, lambda i: layers.Concatenate()([layers.Dense(3)(i), i])),
    "bidirectional": ((6, 4), None, lambda i: layers.Bidirectional(layers.LSTM(3))(i)),
    "attention": ((6, 4), None, lambda i: layers.MultiHeadAttention(num_heads=2, key_dim=2)(i, i)),
    "lstm_state": ((6, 4), None, lambda i: layers.LSTM(3, return_state=True)(i)[1]),
    "embedding": (
        (6,),
        "int64",
        lambda i: layers.GlobalAveragePooling1D()(layers.Embedding(10, 4)(i)),
    ),
    "conv_transpose": ((8, 8, 3), None, lambda i: layers.Conv2DTranspose(4, 3, strides=2)(i)),
}


@pytest.mark.parametrize("case", sorted(SWEEP))
def test_functional_models_of_keras_layers_load_without_their_code(tmp_path, case):
    shape, dtype, body = SWEEP[case]
    inputs = keras.Input(shape=shape, dtype=dtype)
    model = keras.Model(inputs, body(inputs))
    model.eval()
    restored = keras.models.load_model(model.save(tmp_path / "m.keras"))
    restored.eval()
    data = torch.randint(0, 10, (2, *shape)) if dtype else torch.randn(2, *shape)
    assert torch.allclose(restored(data), model(data))


def test_a_lambda_layer_is_named_as_what_cannot_be_saved(tmp_path):
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, layers.Lambda(lambda t: t * 2)(inputs))
    with pytest.raises(ArgumentError, match=r"layer 'lambda'.*cannot be saved by name"):
        model.save(tmp_path / "lambda.keras")
    assert not (tmp_path / "lambda.keras").exists()
