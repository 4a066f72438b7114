"""Run by tests/distributed/test_fit.py (under torchrun, or plainly): one fit, results to JSON.

Usage: fit_script.py OUT_DIR SCENARIO [EPOCHS]. Every rank writes
``OUT_DIR/result-<rank>.json`` (history, weights, evaluate, predict).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from torch import nn

import epochal as ep
from epochal import distributed as d

out = Path(sys.argv[1])
scenario = sys.argv[2]
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 3


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(53, 4, generator=g)  # 53 rows: batches of 8 leave a last batch of 5
    y = (x[:, :1] + 0.3 * torch.randn(53, 1, generator=g) > 0).float()
    return x, y


class StopOnRank1(ep.Callback):
    """Asks to stop on rank 1 only: at an epoch end, or at a step."""

    def __init__(self, epoch: int | None = None, batch: int | None = None) -> None:
        super().__init__()
        self.epoch, self.batch = epoch, batch

    def on_epoch_end(self, epoch, logs=None):
        if self.epoch is not None and epoch == self.epoch and d.world().rank == 1:
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if self.batch is not None and batch == self.batch and d.world().rank == 1:
            self.model.stop_training = True


class FailOnRank1(ep.Callback):
    """Rank 1 fails at the end of epoch 2, once (a marker file remembers it failed)."""

    def on_epoch_end(self, epoch, logs=None):
        marker = out / "failed-once"
        if epoch == 1 and d.world().rank == 1 and not marker.exists():
            marker.write_text("x")
            if os.environ.get("FAIL_HOW") == "kill":
                os._exit(9)
            raise RuntimeError("rank 1 failed on purpose")


torch.manual_seed(d.world().rank + 100)  # each rank builds different weights: DDP aligns them
module = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1), nn.Sigmoid())
model = ep.Model(module)
model.compile(optimizer="sgd", loss="bce", metrics=["accuracy", "auc"], learning_rate=0.1, seed=0)
x, y = data()
callbacks: list[ep.Callback] = [ep.CSVLogger(str(out / "log.csv"))]
kwargs = {}
if scenario == "stop_epoch":
    callbacks.append(StopOnRank1(epoch=1))
elif scenario == "stop_batch":
    callbacks.append(StopOnRank1(batch=3))
elif scenario == "fail":
    callbacks.append(FailOnRank1())
elif scenario == "early":
    callbacks.append(ep.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.05))
if scenario in ("checkpointed", "fail"):
    kwargs = {"checkpoint_dir": str(out / "ckpt"), "checkpoint_steps": 4}
calls = [1] * epochs if scenario == "split" else [epochs]
for n in calls:
    model.fit(
        x,
        y,
        epochs=n,
        batch_size=8,
        validation_data=(x[:21], y[:21]),
        callbacks=callbacks,
        verbose=2,
        **kwargs,
    )
result = {
    "rank": d.world().rank,
    "size": d.world().size,
    "history": model.history.history,
    "epochs": len(model.history.history["loss"]),
    "step": model.run.step,
    "weights": {k: v.tolist() for k, v in model.module.state_dict().items()},
    "evaluate": model.evaluate(x[:13], y[:13], batch_size=4, verbose=0),
    "predict": model.predict(x[:7], batch_size=2, verbose=0).tolist(),
}
if scenario == "basic":
    # A map-style Dataset is sharded like arrays; a DataLoader is evaluated whole by every rank.
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(d.world().rank + 100)
    other = ep.Model(nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
    other.compile(optimizer="sgd", loss="bce", metrics=["accuracy"], learning_rate=0.1, seed=3)
    other.fit(TensorDataset(x, y), epochs=2, batch_size=7, verbose=0)
    result["dataset_history"] = other.history.history
    result["dataset_weights"] = {k: v.tolist() for k, v in other.module.state_dict().items()}
    loader = DataLoader(TensorDataset(x[:13], y[:13]), batch_size=4)
    result["evaluate_loader"] = model.evaluate(loader, verbose=0)
    if d.world().distributed:  # each rank reads its own batches through a DistributedSampler
        from torch.utils.data import DistributedSampler

        ds = TensorDataset(x, y)
        sampled = DataLoader(ds, batch_size=4, sampler=DistributedSampler(ds, seed=5))
        third = ep.Model(nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
        third.compile(optimizer="sgd", loss="bce", metrics=["accuracy"], seed=4)
        third.fit(sampled, epochs=2, verbose=0)
        result["sampler_history"] = third.history.history
        result["sampler_weights"] = {k: v.tolist() for k, v in third.module.state_dict().items()}
        result["sampler_evaluate"] = third.evaluate(sampled, verbose=0)
(out / f"result-{d.world().rank}.json").write_text(json.dumps(result))
