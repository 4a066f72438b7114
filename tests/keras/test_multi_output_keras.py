"""Multi-output training on the Keras face: functional models whose outputs have names."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

from epochal import keras
from epochal.errors import ArgumentError, DataError
from epochal.keras import layers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RNG = np.random.default_rng(5)
XA = RNG.normal(size=(48, 4)).astype("float32")
XB = RNG.normal(size=(48, 3)).astype("float32")
Y_PRICE = (XA.sum(axis=1, keepdims=True) * 0.5).astype("float32")
Y_KIND = np.digitize(XB[:, 0], [-0.4, 0.4]).astype("int64")
Y_FLAG = (XA[:, :1] > 0).astype("float32")


def two_inputs_three_outputs(flag_activation: str | None = "sigmoid") -> keras.Model:
    keras.utils.set_random_seed(0)
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")
    hidden = layers.Dense(8, activation="relu")(layers.Concatenate()([a, b]))
    price = layers.Dense(1, name="price")(hidden)
    kind = layers.Dense(3, activation="softmax", name="kind")(hidden)
    flag = layers.Dense(1, activation=flag_activation, name="flag")(hidden)
    return keras.Model([a, b], [price, kind, flag])


def compiled(**kwargs) -> keras.Model:
    model = two_inputs_three_outputs()
    options = dict(
        optimizer="adam",
        loss={"price": "mse", "kind": "sparse_categorical_crossentropy", "flag": "bce"},
    )
    options.update(kwargs)
    model.compile(**options)
    return model


TARGETS = {"price": Y_PRICE, "kind": Y_KIND, "flag": Y_FLAG}


def test_outputs_are_named_after_their_layers():
    model = two_inputs_three_outputs()
    assert model.output_names == ["price", "kind", "flag"]
    a = keras.Input((2,), name="x")
    outputs = {"left": layers.Dense(1)(a), "right": layers.Dense(2)(a)}
    assert keras.Model(a, outputs).output_names == ["left", "right"]


def test_logs_are_named_as_keras_names_them():
    model = compiled(
        loss_weights={"price": 1.0, "kind": 0.5, "flag": 2.0},
        metrics={"kind": ["accuracy"], "flag": ["accuracy", "auc"]},
    )
    history = model.fit(
        [XA, XB], TARGETS, epochs=2, batch_size=16, validation_split=0.25, verbose=0
    )
    keys = set(history.history)
    expected = {
        "loss",
        "price_loss",
        "kind_loss",
        "flag_loss",
        "kind_accuracy",
        "flag_accuracy",
        "flag_auc",
    }
    assert expected <= keys
    assert {f"val_{k}" for k in expected} <= keys
    logs = model.evaluate({"a": XA, "b": XB}, TARGETS, verbose=0, return_dict=True)
    total = logs["price_loss"] + logs["kind_loss"] + logs["flag_loss"]
    assert logs["loss"] == pytest.approx(total, rel=1e-5)
    assert set(model.metrics_names) == set(logs)


def test_loss_weights_weigh_each_output_in_the_total():
    plain = compiled()
    weighted = compiled(loss_weights=[1.0, 0.0, 3.0])
    a = plain.evaluate([XA, XB], TARGETS, verbose=0, return_dict=True)
    b = weighted.evaluate([XA, XB], TARGETS, verbose=0, return_dict=True)
    assert b["kind_loss"] == 0.0
    assert b["flag_loss"] == pytest.approx(3.0 * a["flag_loss"], rel=1e-5)
    assert b["loss"] == pytest.approx(a["price_loss"] + 3.0 * a["flag_loss"], rel=1e-5)


def test_losses_as_a_list_by_position_and_targets_as_a_list():
    by_list = two_inputs_three_outputs()
    by_list.compile(
        optimizer="adam",
        loss=["mse", keras.losses.SparseCategoricalCrossentropy(), "binary_crossentropy"],
    )
    by_list.fit([XA, XB], [Y_PRICE, Y_KIND, Y_FLAG], epochs=1, batch_size=16, verbose=0)
    by_dict = compiled()
    by_dict.fit([XA, XB], TARGETS, epochs=1, batch_size=16, verbose=0)
    for p, q in zip(by_list.parameters(), by_dict.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_logits_output_gets_the_logits_loss():
    model = two_inputs_three_outputs(flag_activation=None)
    model.compile(
        optimizer="adam",
        loss={"flag": keras.losses.BinaryCrossentropy(from_logits=True)},
        metrics={"flag": ["accuracy"]},
    )
    logs = model.evaluate([XA, XB], {"flag": Y_FLAG}, verbose=0, return_dict=True)
    logits = model.predict([XA, XB], verbose=0)[2]
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(logits), torch.from_numpy(Y_FLAG)
    ).item()
    assert logs["flag_loss"] == pytest.approx(expected, rel=1e-5)
    assert logs["flag_accuracy"] == pytest.approx(((logits > 0) == Y_FLAG).mean())


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"loss": {"prize": "mse"}}, r"key 'prize' does not correspond to any model output"),
        ({"loss": ["mse", "mse"]}, r"3 output\(s\), `loss` given as a list"),
        ({"loss": "mse", "loss_weights": {"kind": 1.0, "colour": 2.0}}, r"key 'colour'"),
        ({"loss": "mse", "loss_weights": [1.0, 2.0]}, r"`loss_weights` given as a list"),
        ({"loss": "mse", "metrics": ["mae"]}, r"3 outputs, `metrics` given as a list"),
        ({"loss": "mse", "metrics": {"kinds": ["accuracy"]}}, r"key 'kinds'"),
    ],
)
def test_bad_specs_fail_at_compile_for_named_outputs(kwargs, pattern):
    model = two_inputs_three_outputs()
    with pytest.raises(ArgumentError, match=pattern):
        model.compile(optimizer="adam", **kwargs)


def test_targets_by_unknown_name_are_a_data_error_before_any_step():
    model = compiled()
    with pytest.raises(DataError, match=r"key 'prices'.*\['price', 'kind', 'flag'\]"):
        model.fit([XA, XB], {**TARGETS, "prices": Y_PRICE}, epochs=1, verbose=0)
    assert model.run.step == 0


def test_dict_outputs_of_a_functional_model():
    keras.utils.set_random_seed(0)
    a = keras.Input((4,), name="a")
    hidden = layers.Dense(6, activation="relu")(a)
    model = keras.Model(a, {"mean": layers.Dense(1)(hidden), "spread": layers.Dense(1)(hidden)})
    model.compile(optimizer="sgd", loss="mae", metrics={"mean": ["mse"]})
    history = model.fit(XA, {"mean": Y_PRICE, "spread": Y_FLAG}, epochs=1, verbose=0)
    assert {"loss", "mean_loss", "spread_loss", "mean_mse"} <= set(history.history)
    out = model.predict(XA, verbose=0)
    assert isinstance(out, dict) and set(out) == {"mean", "spread"}


def test_the_multi_output_example_trains_as_a_keras_user_expects(capsys):
    torch.set_num_threads(1)
    accuracy = runpy.run_path(str(EXAMPLES / "multi_output_tickets.py"), run_name="example")[
        "main"
    ]()
    out = capsys.readouterr().out
    assert accuracy > 0.85
    for key in ["priority_loss", "department_loss", "department_accuracy", "val_department_loss"]:
        assert key in out
    # the logged total is the weighted sum of the (already weighted) per-output losses
    test_line = next(line for line in out.splitlines() if line.startswith("test:"))
    values = dict(item.split("=") for item in test_line[len("test: ") :].split(", "))
    parts = float(values["priority_loss"]) + float(values["department_loss"])
    assert float(values["loss"]) == pytest.approx(parts, abs=2e-4)


def test_one_named_output_takes_its_loss_weights_and_metrics_by_name():
    def single() -> keras.Model:
        keras.utils.set_random_seed(0)
        a = keras.Input((4,))
        return keras.Model(a, layers.Dense(1, activation="sigmoid", name="flag")(a))

    plain = single()
    plain.compile(optimizer="sgd", loss="bce", metrics=["accuracy"])
    named = single()
    named.compile(
        optimizer="sgd",
        loss={"flag": "bce"},
        loss_weights={"flag": 2.0},
        metrics={"flag": ["accuracy"]},
    )
    a = plain.evaluate(XA, Y_FLAG, verbose=0, return_dict=True)
    b = named.evaluate(XA, Y_FLAG, verbose=0, return_dict=True)
    assert list(b) == ["loss", "accuracy"]
    assert b["loss"] == pytest.approx(2 * a["loss"], rel=1e-6)
    assert b["accuracy"] == a["accuracy"]
    with pytest.raises(ArgumentError, match=r"key 'flags'.*one output named 'flag'"):
        single().compile(optimizer="sgd", loss={"flags": "bce"})


def test_a_plain_function_given_alone_applies_to_every_named_output_as_in_keras():
    seen = []

    def squared(a, b):
        seen.append((tuple(a.shape), tuple(b.shape)))
        return ((a - b) ** 2).mean()

    keras.utils.set_random_seed(0)
    a = keras.Input((4,))
    model = keras.Model(a, [layers.Dense(1, name="p")(a), layers.Dense(2, name="q")(a)])
    model.compile(optimizer="sgd", loss=squared)
    y2 = np.stack([Y_PRICE[:, 0], Y_PRICE[:, 0]], axis=1)
    logs = model.evaluate(XA, [Y_PRICE, y2], batch_size=48, verbose=0, return_dict=True)
    assert {((48, 1), (48, 1)), ((48, 2), (48, 2))} <= set(seen)
    assert logs["loss"] == pytest.approx(logs["p_loss"] + logs["q_loss"], rel=1e-6)


def test_train_and_test_on_batch_report_the_per_output_keys():
    model = compiled(metrics={"kind": ["accuracy"]})
    logs = model.train_on_batch([XA, XB], TARGETS, return_dict=True)
    assert {"loss", "price_loss", "kind_loss", "flag_loss", "kind_accuracy"} <= set(logs)
    assert model.run.step == 1
    logs = model.test_on_batch([XA, XB], TARGETS, return_dict=True)
    total = logs["price_loss"] + logs["kind_loss"] + logs["flag_loss"]
    assert logs["loss"] == pytest.approx(total, rel=1e-5)
    values = model.evaluate([XA, XB], TARGETS, verbose=0)
    assert isinstance(values, list) and len(values) == len(model.metrics_names)
    assert model.metrics_names[:2] == ["loss", "kind_accuracy"]  # Keras 3's order
