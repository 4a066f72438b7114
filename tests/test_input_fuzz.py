"""Fuzz over fit/evaluate/predict arguments: success, or an EpochalError leaving everything as it was."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import epochal as ep
from _util import state_equal
from epochal.errors import EpochalError

FEATURES = 3

DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "uint8", "bool"]
BAD_VALUES = [None, "nan", "inf"]


def trained_model(loss: str) -> ep.Model:
    torch.manual_seed(0)
    out = 3 if loss == "sparse_categorical_crossentropy" else 1
    module = nn.Sequential(nn.Linear(FEATURES, 4), nn.ReLU(), nn.Linear(4, out))
    model = ep.Model(module, device="cpu")
    model.compile(optimizer="adam", loss=loss, seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, FEATURES)).astype(np.float32)
    y = rng.integers(0, out + 1 if out == 1 else out, size=12).clip(0, out if out > 1 else 1)
    model.fit(x, y.astype(np.float32 if out == 1 else np.int64), epochs=1, verbose=0)
    return model


def snapshot(model: ep.Model) -> dict[str, Any]:
    run = model.run
    return {
        "weights": {k: v.clone() for k, v in model.module.state_dict().items()},
        "optimizer": repr(model.optimizer.state_dict()),
        "run": (run.epoch, run.step, repr(model.history.history), run.stopped),
        "rng": run.rng_state.clone(),
        "callbacks": repr(run.callback_states),
    }


def features(rng: np.random.Generator, n: int, width: int, dtype: str, bad: str | None) -> Any:
    x = rng.normal(size=(n, width)).astype(np.float32) * 3
    if bad is not None and x.size:
        x.flat[0] = np.nan if bad == "nan" else np.inf
    if dtype == "bfloat16":
        return torch.from_numpy(x).to(torch.bfloat16)
    if dtype == "bool":
        return x > 0
    if dtype in ("int64", "uint8"):
        return np.nan_to_num(np.abs(x), posinf=9).astype(dtype)
    return x.astype(dtype)


def targets(rng: np.random.Generator, n: int, loss: str, kind: str) -> Any:
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, 3, size=n).astype(np.int64)
        bad = 7
    else:
        y = rng.integers(0, 2, size=n).astype(np.float32)
        bad = 7.0 if loss == "binary_crossentropy" else np.nan
    if kind == "out_of_range" and n:
        y[0] = bad
    elif kind == "nan" and n:
        y = y.astype(np.float32)
        y[0] = np.nan
    elif kind == "short":
        y = y[: max(n - 1, 0)]
    elif kind == "wide":
        y = np.stack([y, y], axis=1)
    return y


def weights(n: int, kind: str | None) -> Any:
    if kind is None:
        return None
    w = np.ones(n, np.float32)
    if kind == "nan" and n:
        w[0] = np.nan
    elif kind == "negative" and n:
        w[0] = -1
    elif kind == "short":
        w = w[: max(n - 1, 0)]
    return w


def as_container(x: Any, y: Any, sw: Any, container: str, batch: int) -> tuple[Any, Any, Any]:
    """numpy as given, torch tensors, or a list of (x, y[, sw]) batches."""
    if container == "numpy":
        return x, y, sw
    tx = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    ty = None if y is None else torch.from_numpy(np.asarray(y))
    tw = None if sw is None else torch.from_numpy(sw)
    if container == "torch":
        return tx, ty, tw
    n = len(tx)
    out = []
    for i in range(0, n, batch):
        item: tuple[Any, ...] = (tx[i : i + batch],)
        if ty is not None:
            item += (ty[i : i + batch],)
            if tw is not None:
                item += (tw[i : i + batch],)
        out.append(item)
    return out, None, None


def maybe(good: list[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    """Mostly a good value (about 1 draw in 12 bad each), so that deep paths are reached too."""
    weight = max(1, round(11 * len(bad) / len(good)))
    return st.sampled_from(good * weight + bad)


calls = st.fixed_dictionaries(
    {
        "call": st.sampled_from(["fit", "fit", "evaluate", "predict"]),
        "loss": st.sampled_from(["binary_crossentropy", "mse", "sparse_categorical_crossentropy"]),
        "n": maybe([1, 5, 17], [0]),
        "width": maybe([FEATURES], [2, 0]),
        "dtype": st.sampled_from(DTYPES),
        "bad_x": maybe([None], ["nan", "inf"]),
        "y": maybe(["good"], ["out_of_range", "nan", "short", "wide"]),
        "container": st.sampled_from(["numpy", "torch", "batches"]),
        "batch_size": maybe([None, 1, 4, 64], [0, -2, 2.5, "8"]),
        "epochs": maybe([0, 1, 2], [-1]),
        "validation_split": maybe([0.0, 0.0, 0.25, 0.5], [1.0, -0.1]),
        "validation": maybe([None, None, "good"], ["narrow", "bad_y"]),
        "sample_weight": maybe([None, None, "good"], ["nan", "negative", "short"]),
        "class_weight": maybe([None, None, "good"], ["nan", "negative"]),
        "steps_per_epoch": maybe([None, None, 1, 100], [0]),
        "validation_freq": maybe([1, 2, [1, 3]], [0, "x"]),
        "initial_epoch": maybe([None, None, 0, 1, 5], [-1]),
        "seed": st.integers(0, 2**16),
    }
)


def call_model(model: ep.Model, a: dict[str, Any]) -> None:
    rng = np.random.default_rng(a["seed"])
    n, loss = a["n"], a["loss"]
    x = features(rng, n, a["width"], a["dtype"], a["bad_x"])
    y = targets(rng, n, loss, a["y"])
    sw = weights(n, a["sample_weight"])
    bs = a["batch_size"] if isinstance(a["batch_size"], int) and a["batch_size"] > 0 else 4
    x, y, sw = as_container(x, y, sw, a["container"], bs)
    if a["call"] == "predict":
        model.predict(x, batch_size=a["batch_size"], verbose=0)
        return
    if a["call"] == "evaluate":
        model.evaluate(x, y, batch_size=a["batch_size"], sample_weight=sw, verbose=0)
        return
    validation = None
    if a["validation"] is not None:
        width = 2 if a["validation"] == "narrow" else FEATURES
        kind = "out_of_range" if a["validation"] == "bad_y" else "good"
        validation = (features(rng, 6, width, "float32", None), targets(rng, 6, loss, kind))
    class_weight = None
    if a["class_weight"] is not None:
        value = {"good": 2.0, "nan": float("nan"), "negative": -1.0}[a["class_weight"]]
        class_weight = {c: value for c in range(3)}
    model.fit(
        x,
        y,
        batch_size=a["batch_size"],
        epochs=a["epochs"],
        verbose=0,
        validation_split=a["validation_split"],
        validation_data=validation,
        class_weight=class_weight,
        sample_weight=sw,
        steps_per_epoch=a["steps_per_epoch"],
        validation_freq=a["validation_freq"],
        initial_epoch=a["initial_epoch"],
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(arguments=calls)
def test_a_call_succeeds_or_raises_an_epochal_error_leaving_the_model_untouched(arguments):
    model = trained_model(arguments["loss"])
    before = snapshot(model)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ran out of data, NaN losses: allowed outcomes
            call_model(model, arguments)
    except EpochalError:
        after = snapshot(model)
        assert state_equal(before["weights"], after["weights"])
        assert before["optimizer"] == after["optimizer"]
        assert before["run"] == after["run"]
        assert torch.equal(before["rng"], after["rng"])
        assert before["callbacks"] == after["callbacks"]
