"""Keras metrics beyond accuracy: hinge, cross-entropies, confusion counts, top-k, MeanIoU,
precision/recall at a fixed point; `name=` everywhere (hand computations)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchmetrics
from torch import nn

import epochal as ep
from epochal.errors import ArgumentError
from epochal.keras import metrics


def _value(metric, y_true, y_pred):
    metric.update_state(np.asarray(y_true, "float32"), np.asarray(y_pred, "float32"))
    return float(metric.result())


def test_hinge_and_squared_hinge_map_zero_one_targets_to_signs():
    y_true, y_pred = [[0.0], [1.0]], [[0.3], [0.4]]
    # targets -1, 1: max(1 + 0.3, 0) = 1.3 and max(1 - 0.4, 0) = 0.6
    assert _value(metrics.Hinge(), y_true, y_pred) == pytest.approx((1.3 + 0.6) / 2)
    assert _value(metrics.SquaredHinge(), y_true, y_pred) == pytest.approx((1.69 + 0.36) / 2)


def test_crossentropy_metrics():
    p = [[0.9], [0.2]]
    bce = -(math.log(0.9) + math.log(0.8)) / 2
    assert _value(metrics.BinaryCrossentropy(), [[1.0], [0.0]], p) == pytest.approx(bce, rel=1e-5)
    probs = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]
    cce = -(math.log(0.7) + math.log(0.8)) / 2
    one_hot = [[1, 0, 0], [0, 0, 1]]
    assert _value(metrics.CategoricalCrossentropy(), one_hot, probs) == pytest.approx(cce, rel=1e-5)
    sparse = metrics.SparseCategoricalCrossentropy()
    assert _value(sparse, [0, 2], probs) == pytest.approx(cce, rel=1e-5)
    with pytest.raises(ArgumentError, match="from_logits"):
        metrics.BinaryCrossentropy(from_logits=True)


def test_confusion_counts_and_thresholds():
    y_true = [1, 1, 0, 0, 1]
    y_pred = [0.9, 0.4, 0.6, 0.1, 0.7]
    assert _value(metrics.TruePositives(), y_true, y_pred) == 2
    assert _value(metrics.FalseNegatives(), y_true, y_pred) == 1
    assert _value(metrics.FalsePositives(), y_true, y_pred) == 1
    assert _value(metrics.TrueNegatives(), y_true, y_pred) == 1
    assert _value(metrics.TruePositives(thresholds=0.8), y_true, y_pred) == 1
    with pytest.raises(ArgumentError, match="thresholds"):
        metrics.TruePositives(thresholds=[0.3, 0.5])


def test_top_k_accuracy_one_hot_and_sparse():
    probs = [[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]
    labels = [1, 0, 2]  # second in row 0; last in rows 1, 2
    assert _value(metrics.SparseTopKCategoricalAccuracy(k=2), labels, probs) == pytest.approx(1 / 3)
    one_hot = np.eye(3)[labels]
    assert _value(metrics.TopKCategoricalAccuracy(k=3), one_hot, probs) == pytest.approx(1.0)
    assert _value(metrics.TopKCategoricalAccuracy(k=1), one_hot, probs) == pytest.approx(0.0)
    with pytest.raises(ArgumentError, match="`k`"):
        metrics.TopKCategoricalAccuracy(k=0)


def test_mean_iou_from_class_ids_and_scores():
    # Keras's documented example: IoU per class 1/3 and 1/3 -> mean 0.33
    m = metrics.MeanIoU(num_classes=2)
    assert _value(m, [0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(1 / 3)
    scores = metrics.MeanIoU(num_classes=3, sparse_y_pred=False)
    probs = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]
    assert _value(scores, [0, 1, 1], probs) == pytest.approx((1 + 0.5 + 0) / 3)
    with pytest.raises(ArgumentError, match="num_classes"):
        metrics.MeanIoU(num_classes=1)


def test_precision_at_recall_and_recall_at_precision_are_exact():
    y_true = [0, 0, 1, 1, 1, 0]
    y_pred = [0.1, 0.4, 0.35, 0.8, 0.9, 0.7]
    expected = torchmetrics.classification.BinaryPrecisionAtFixedRecall(min_recall=0.6)(
        torch.tensor(y_pred), torch.tensor(y_true)
    )[0]
    assert _value(metrics.PrecisionAtRecall(0.6), y_true, y_pred) == pytest.approx(float(expected))
    expected = torchmetrics.classification.BinaryRecallAtFixedPrecision(min_precision=0.9)(
        torch.tensor(y_pred), torch.tensor(y_true)
    )[0]
    assert _value(metrics.RecallAtPrecision(0.9), y_true, y_pred) == pytest.approx(float(expected))
    with pytest.raises(ArgumentError, match="recall"):
        metrics.PrecisionAtRecall(1.5)


def test_metrics_by_name_log_keras_keys_and_are_exact_over_the_epoch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype("float32")
    y = rng.integers(0, 3, size=50)
    model = ep.Model(nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=-1)))
    model.compile(
        optimizer="sgd",
        loss="sparse_categorical_crossentropy",
        metrics=[
            "sparse_top_k_categorical_accuracy",
            metrics.SparseTopKCategoricalAccuracy(k=1, name="top1"),
            "sparse_categorical_crossentropy",
        ],
        seed=0,
    )
    logs = model.evaluate(x, y, batch_size=7, verbose=0)
    probs = model.predict(x, verbose=0)
    top1 = (probs.argmax(axis=1) == y).mean()
    assert logs["top1"] == pytest.approx(top1)
    assert logs["sparse_top_k_categorical_accuracy"] == pytest.approx(1.0)  # 3 classes, k=5
    ce = -np.log(probs[np.arange(50), y]).mean()
    assert logs["sparse_categorical_crossentropy"] == pytest.approx(ce, rel=1e-5)
    assert logs["loss"] == pytest.approx(ce, rel=1e-4)


def test_two_metrics_of_one_class_with_different_names_and_named_torchmetrics():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = ep.Model(nn.Sequential(nn.Linear(3, 1), nn.Sigmoid()))
    tm = torchmetrics.classification.BinaryAccuracy()
    tm.name = "tm_acc"
    model.compile(
        optimizer="sgd",
        loss="bce",
        metrics=[
            metrics.TruePositives(name="tp_low", thresholds=0.3),
            metrics.TruePositives(name="tp_high", thresholds=0.7),
            tm,
        ],
        seed=0,
    )
    history = model.fit(x, y, epochs=1, verbose=0, validation_split=0.25)
    assert {"tp_low", "tp_high", "tm_acc", "val_tp_low"} <= set(history.history)
    assert history.history["tp_low"][0] >= history.history["tp_high"][0]
    probs = model.predict(x, verbose=0)
    logs = model.evaluate(x, y, verbose=0)
    assert logs["tp_low"] == ((probs[:, 0] > 0.3) & (y[:, 0] > 0.5)).sum()
