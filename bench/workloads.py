"""The benchmark's workloads: synthetic data, a model, a loss and a training schedule.

Every workload is trained the same way by every runner: Adam with learning
rate 1e-3, the batch size and number of epochs below, shuffled every epoch.

- (a) the seed-style model: 1000 x 10 inputs, Dense 128 relu, Dense 1 sigmoid,
  batch 32, 20 epochs given as 20 ``fit(epochs=1)`` calls, loss only;
- (b) the same model and data, one ``fit`` of 30 epochs on the first 800
  samples, validating on the last 200 (``validation_split=0.2``), with accuracy;
- (c) an MNIST-sized MLP: 60000 x 784 inputs, 784-256-256-10, batch 128,
  2 epochs, 10000 validation samples, accuracy;
- (d) a small convolutional network on 32 x 32 x 3 images (CIFAR-sized):
  4000 training and 1000 validation images, batch 64, 2 epochs, accuracy.

The data are synthetic but learnable (labels come from a fixed random
"teacher"), so a correct runner's loss goes down. ``quick=True`` gives tiny
sizes of the same workloads for the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "LEARNING_RATE",
    "Data",
    "Workload",
    "make_fused_optimizer",
    "make_optimizer",
    "workloads",
]

LEARNING_RATE = 1e-3


def make_optimizer(params: object) -> torch.optim.Optimizer:
    """The optimizer every side uses: Adam, learning rate 1e-3, torch's defaults otherwise.

    torch's default kernel is chosen at each step (the for-loop on the CPU,
    foreach on CUDA): the optimizer a user's hand loop gets. Given to epochal
    as this factory, epochal's ``optimizer_impl="auto"`` picks the fused kernel.
    """
    return torch.optim.Adam(params, lr=LEARNING_RATE)  # type: ignore[arg-type]


def make_fused_optimizer(params: object) -> torch.optim.Optimizer:
    """The same Adam with torch's fused kernel: the best hand loop's optimizer."""
    return torch.optim.Adam(params, lr=LEARNING_RATE, fused=True)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Data:
    """A workload's tensors: training inputs and targets, and validation data if separate."""

    x: Tensor
    y: Tensor
    x_val: Tensor | None = None
    y_val: Tensor | None = None

    def to(self, device: torch.device) -> Data:
        """The same data on ``device``, copied there once (pinned, asynchronous on CUDA)."""

        def move(t: Tensor | None) -> Tensor | None:
            if t is None or t.device == device:
                return t
            if device.type == "cuda":
                # Pinned host memory lets the copy run asynchronously; the
                # benchmark synchronizes before it starts a clock.
                return t.pin_memory().to(device, non_blocking=True)
            return t.to(device)

        x, y = move(self.x), move(self.y)
        assert x is not None and y is not None
        return Data(x, y, move(self.x_val), move(self.y_val))


@dataclass(frozen=True)
class Workload:
    """One benchmark workload (see the module docstring).

    Attributes:
        key: the letter used on the command line (``a``..``d``).
        title: a short description for the table.
        task: ``binary`` (one logit, 0/1 targets of shape (N, 1)) or
            ``multiclass`` (logits over classes, integer targets of shape (N,)).
        loss: the loss name given to epochal's ``compile``.
        metrics: the metric names given to epochal's ``compile``.
        batch_size: samples per training (and validation) step.
        epochs: epochs in total.
        fit_calls: how many ``fit`` calls the epochs are split into (a: 20).
        validation_split: hold out this last fraction for validation (b).
        make_data: ``seed -> Data`` on the CPU.
        make_module: ``with_head -> nn.Module``; ``with_head`` adds the final
            sigmoid of a binary model (epochal's side, Keras style). The hand
            loop trains the module without it, on logits, as epochal does.
    """

    key: str
    title: str
    task: Literal["binary", "multiclass"]
    loss: str
    metrics: tuple[str, ...]
    batch_size: int
    epochs: int
    fit_calls: int
    validation_split: float
    make_data: Callable[[int], Data]
    make_module: Callable[[bool], nn.Module]

    @property
    def tracks_accuracy(self) -> bool:
        return "accuracy" in self.metrics

    def split(self, data: Data) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """``(x, y, x_val, y_val)`` as trained on: Keras's split takes the last samples."""
        if self.validation_split:
            split_at = math.ceil(data.x.shape[0] * (1.0 - self.validation_split))
            return data.x[:split_at], data.y[:split_at], data.x[split_at:], data.y[split_at:]
        return data.x, data.y, data.x_val, data.y_val

    def train_steps(self, data: Data) -> int:
        """Optimizer steps in one run: the unit of the per-step times."""
        n_train = self.split(data)[0].shape[0]
        return math.ceil(n_train / self.batch_size) * self.epochs


# -- models --------------------------------------------------------------------
def seed_mlp(with_head: bool, *, features: int = 10, hidden: int = 128) -> nn.Module:
    """Dense(hidden, relu) then Dense(1, sigmoid); without the sigmoid for logits."""
    layers: list[nn.Module] = [nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 1)]
    if with_head:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def mnist_mlp(with_head: bool) -> nn.Module:
    """784-256-256-10, returning logits (the loss is sparse cross-entropy from logits)."""
    del with_head  # multiclass models return logits on both sides
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )


def small_cnn(with_head: bool) -> nn.Module:
    """Two 3x3 conv + max-pool blocks (16, 32 channels) and a linear classifier, for 32x32x3."""
    del with_head
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, 10),
    )


# -- data ----------------------------------------------------------------------
def binary_data(n: int, seed: int, *, features: int = 10) -> Data:
    """Gaussian inputs; 0/1 targets of shape (n, 1) from a noisy linear teacher."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen)
    w = torch.randn(features, generator=gen)
    noise = 0.5 * torch.randn(n, generator=gen)
    y = ((x @ w + noise) > 0).float().unsqueeze(1)
    return Data(x, y)


def mnist_like_data(n: int, n_val: int, seed: int, *, classes: int = 10) -> Data:
    """Gaussian 784-feature inputs; integer labels from a linear teacher."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n + n_val, 784, generator=gen)
    teacher = torch.randn(784, classes, generator=gen)
    y = (x @ teacher).argmax(dim=1)
    return Data(x[:n], y[:n], x[n:], y[n:])


def image_data(n: int, n_val: int, seed: int, *, classes: int = 10) -> Data:
    """Gaussian 3x32x32 images; labels from a linear teacher on 8x8-pooled images."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n + n_val, 3, 32, 32, generator=gen)
    teacher = torch.randn(3 * 4 * 4, classes, generator=gen)
    y = (F.avg_pool2d(x, 8).flatten(1) @ teacher).argmax(dim=1)
    return Data(x[:n], y[:n], x[n:], y[n:])


# -- the workloads ---------------------------------------------------------------
def workloads(*, quick: bool = False) -> dict[str, Workload]:
    """The workloads by key; ``quick`` gives tiny sizes (seconds in all) for the tests."""
    n_seed = 120 if quick else 1000
    n_mlp, n_mlp_val = (512, 128) if quick else (60_000, 10_000)
    n_img, n_img_val = (128, 32) if quick else (4_000, 1_000)
    epochs_a, epochs_b = (3, 3) if quick else (20, 30)
    epochs_cd = 3 if quick else 2
    return {
        "a": Workload(
            key="a",
            title=f"seed MLP {n_seed}x10, bs 32, {epochs_a} x fit(epochs=1)",
            task="binary",
            loss="binary_crossentropy",
            metrics=(),
            batch_size=32,
            epochs=epochs_a,
            fit_calls=epochs_a,
            validation_split=0.0,
            make_data=lambda seed: binary_data(n_seed, seed),
            make_module=seed_mlp,
        ),
        "b": Workload(
            key="b",
            title=f"seed MLP, 80/20 split, {epochs_b} epochs, val + accuracy",
            task="binary",
            loss="binary_crossentropy",
            metrics=("accuracy",),
            batch_size=32,
            epochs=epochs_b,
            fit_calls=1,
            validation_split=0.2,
            make_data=lambda seed: binary_data(n_seed, seed),
            make_module=seed_mlp,
        ),
        "c": Workload(
            key="c",
            title=f"MLP 784-256-256-10, {n_mlp}+{n_mlp_val} val, bs 128, {epochs_cd} epochs",
            task="multiclass",
            loss="sparse_categorical_crossentropy",
            metrics=("accuracy",),
            batch_size=128,
            epochs=epochs_cd,
            fit_calls=1,
            validation_split=0.0,
            make_data=lambda seed: mnist_like_data(n_mlp, n_mlp_val, seed),
            make_module=mnist_mlp,
        ),
        "d": Workload(
            key="d",
            title=f"small CNN 32x32x3, {n_img}+{n_img_val} val, bs 64, {epochs_cd} epochs",
            task="multiclass",
            loss="sparse_categorical_crossentropy",
            metrics=("accuracy",),
            batch_size=64,
            epochs=epochs_cd,
            fit_calls=1,
            validation_split=0.0,
            make_data=lambda seed: image_data(n_img, n_img_val, seed),
            make_module=small_cnn,
        ),
    }
