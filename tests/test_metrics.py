"""Metrics: exact over the whole epoch and validation set, task inferred from the outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
from torch import nn

import epochal as ep
from _util import make_binary, make_multiclass, mlp
from epochal import metrics


def fitted_binary(metric_names):
    x, y = make_binary(n=403)  # not a multiple of the batch size: the last batch is short
    model = ep.Model(mlp(final=nn.Sigmoid()), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=metric_names, seed=0)
    model.fit(x, y, epochs=2, verbose=0)
    return model, x, y


def test_binary_metrics_are_exact_over_the_whole_set():
    model, x, y = fitted_binary(["accuracy", "precision", "recall", "auc", "f1"])
    logs = model.evaluate(x, y, batch_size=32, verbose=0)
    probs = model.predict(x, verbose=0)[:, 0]
    labels = (probs > 0.5).astype(int)
    assert logs["accuracy"] == pytest.approx(float((labels == y).mean()), abs=1e-6)
    assert logs["precision"] == pytest.approx(precision_score(y, labels), abs=1e-6)
    assert logs["recall"] == pytest.approx(recall_score(y, labels), abs=1e-6)
    assert logs["f1"] == pytest.approx(f1_score(y, labels), abs=1e-6)
    assert logs["auc"] == pytest.approx(roc_auc_score(y, probs), abs=1e-4)


def test_multiclass_accuracy_with_sparse_and_one_hot_targets():
    x, y = make_multiclass(n=301)
    model = ep.Model(mlp(features=8, out=3), device="cpu")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"], seed=0)
    model.fit(x, y, epochs=3, verbose=0)
    logs = model.evaluate(x, y, batch_size=50, verbose=0)
    pred = model.predict(x, verbose=0).argmax(axis=1)
    assert logs["acc"] == pytest.approx(float((pred == y).mean()), abs=1e-6)
    one_hot = np.eye(3, dtype=np.float32)[y]
    m = metrics.build(
        metrics.request("categorical_accuracy"), torch.zeros(2, 3), torch.device("cpu")
    )
    m.update(torch.from_numpy(np.eye(3, dtype=np.float32)[pred]), torch.from_numpy(one_hot))
    assert float(m.compute()) == pytest.approx(float((pred == y).mean()))


def test_training_metric_is_over_the_epoch_not_a_batch_average():
    """With lr=0, the epoch's accuracy equals the accuracy on the whole training set."""
    x, y = make_binary(n=403)
    model = ep.Model(mlp(final=nn.Sigmoid()), device="cpu")
    model.compile(
        optimizer=lambda p: torch.optim.SGD(p, lr=0.0), loss="bce", metrics=["accuracy"], seed=0
    )
    history = model.fit(x, y, epochs=1, batch_size=100, verbose=0)
    labels = model.predict(x, verbose=0)[:, 0] > 0.5
    assert history.history["accuracy"][0] == pytest.approx(float((labels == y).mean()), abs=1e-6)


def test_regression_metrics():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = rng.normal(size=120).astype(np.float32)
    model = ep.Model(mlp(features=4), device="cpu")
    model.compile(optimizer="adam", loss="mse", metrics=["mae", "rmse", "mse", "r2"], seed=0)
    logs = model.evaluate(x, y, batch_size=7, verbose=0)
    pred = model.predict(x, verbose=0)[:, 0]
    assert logs["mae"] == pytest.approx(float(np.abs(pred - y).mean()), rel=1e-5)
    assert logs["mse"] == pytest.approx(float(((pred - y) ** 2).mean()), rel=1e-5)
    assert logs["rmse"] == pytest.approx(float(np.sqrt(((pred - y) ** 2).mean())), rel=1e-5)
    r2 = 1 - ((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert logs["r2"] == pytest.approx(float(r2), rel=1e-4)


def test_metric_for_the_wrong_task_is_a_clear_error():
    x, y = make_binary(n=40)
    model = ep.Model(mlp(), device="cpu")
    model.compile(optimizer="adam", loss="bce", metrics=["categorical_accuracy"])
    with pytest.raises(
        ep.errors.ArgumentError, match=r"Metric 'categorical_accuracy' is for multiclass outputs"
    ):
        model.fit(x, y, verbose=0)


def test_directions_are_known_for_names():
    assert metrics.request("auc").direction == "max"
    assert metrics.request("mae").direction == "min"
    assert metrics.request("r2").direction == "max"


# -- counts-only metrics updated on many batches at once ------------------------


def test_counts_only_marks_the_metrics_whose_state_is_whole_counts():
    out = torch.zeros(4, 1)
    built = {
        name: metrics.build(metrics.request(name), out, torch.device("cpu"))
        for name in ("accuracy", "precision", "recall", "f1", "auc", "mse", "mae")
    }
    flags = {name: m.counts_only for name, m in built.items()}
    assert flags == {
        "accuracy": True,
        "precision": True,
        "recall": True,
        "f1": True,
        "auc": False,  # stores the outputs themselves
        "mse": False,  # a float sum: its rounding depends on the grouping
        "mae": False,
    }


def test_chunked_updates_concatenate_until_the_limit_then_update(monkeypatch):
    calls = []
    monkeypatch.setattr(metrics.ChunkedUpdates, "LIMIT", 10)
    chunks = metrics.ChunkedUpdates(lambda out, y: calls.append((out.clone(), y.clone())))
    for i in range(5):  # 4 elements a batch: an update every third batch
        chunks.add(torch.full((2, 2), float(i)), torch.full((2,), i))
    assert [c[0].shape[0] for c in calls] == [6]
    assert torch.equal(calls[0][1], torch.tensor([0, 0, 1, 1, 2, 2]))
    chunks.flush()
    chunks.flush()  # nothing left: no update
    assert [c[0].shape[0] for c in calls] == [6, 4]
    assert torch.equal(calls[1][0][:, 0], torch.tensor([3.0, 3.0, 4.0, 4.0]))


def test_chunked_updates_pass_other_outputs_through_in_order():
    calls = []
    chunks = metrics.ChunkedUpdates(lambda out, y: calls.append(out))
    first = torch.ones(2, 1)
    chunks.add(first, torch.ones(2))
    chunks.add((torch.zeros(1),), torch.ones(1))  # not a tensor: the held batch first
    assert calls[0] is first and isinstance(calls[1], tuple)


class _EveryBatch(ep.callbacks.Callback):
    """A test-batch hook: evaluate then updates the metrics batch by batch."""

    def on_test_batch_end(self, batch, logs=None):
        pass


@pytest.mark.parametrize("limit", [1 << 16, 7])
@pytest.mark.parametrize(
    ("task", "loss", "names", "chunked"),
    [
        # precision etc. on a sigmoid model see probabilities: batch by batch
        ("binary", "bce", ["accuracy", "precision", "recall", "f1"], False),
        ("binary", "bce", ["accuracy"], True),
        ("multiclass", "sparse_categorical_crossentropy", ["accuracy", "f1", "precision"], False),
        ("multiclass", "sparse_categorical_crossentropy", ["accuracy"], True),
        ("onehot", "categorical_crossentropy", ["accuracy", "categorical_accuracy"], True),
        ("binary_logits", "bce", ["accuracy", "binary_accuracy"], True),
        # metrics of a cross-entropy see probabilities, from a sigmoid applied batch by batch
        ("binary_logits", "bce", ["accuracy", "precision"], False),
        # no cross-entropy: the counts see the outputs as they are, in chunks
        ("binary", "mse", ["precision", "recall", "accuracy"], True),
        ("binary_logits", "bce", ["accuracy", "mae"], False),
    ],
)
def test_evaluate_gives_the_bits_of_batch_by_batch_updates(
    monkeypatch, limit, task, loss, names, chunked
):
    monkeypatch.setattr(metrics.ChunkedUpdates, "LIMIT", limit)
    flushes = []
    original_flush = metrics.ChunkedUpdates.flush

    def counting_flush(self):
        flushes.append(len(self._outs))
        original_flush(self)

    monkeypatch.setattr(metrics.ChunkedUpdates, "flush", counting_flush)
    if task.startswith("binary"):
        x, y = make_binary(n=203)
        final = nn.Sigmoid() if task == "binary" else nn.Identity()
        net = mlp(final=final)
        if task == "binary_logits":
            loss = ep.losses.get("binary_crossentropy", from_logits=True)
    else:
        x, y = make_multiclass(n=203)
        net = mlp(features=8, out=3, final=nn.Softmax(dim=-1))
        if task == "onehot":
            y = np.eye(3, dtype=np.float32)[y]
    model = ep.Model(net, device="cpu")
    model.compile(optimizer="adam", loss=loss, metrics=names, seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    flushes.clear()
    together = model.evaluate(x, y, batch_size=16, verbose=0)
    assert bool(flushes) is chunked
    if chunked:  # 13 batches, in one chunk or, with 7 elements at most, a chunk or two each
        assert sum(flushes) == 13 and (max(flushes) > 1) is (limit > 16 * 3)
    flushes.clear()
    one_by_one = model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[_EveryBatch()])
    assert not flushes
    assert together == one_by_one
    assert set(together) == {"loss", *names}
