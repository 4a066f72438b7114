"""The demo: a Dense network on scikit-learn's bundled breast-cancer data.

Trains with a validation split, EarlyStopping(restore_best_weights=True) and
the progress bar, then reports the epochs run, the best epoch and the test
accuracy. No download: the data ships inside scikit-learn.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = ["DemoResult", "run_demo"]

BATCH_SIZE = 32
VALIDATION_SPLIT = 0.2
MISSING_SKLEARN = (
    "epochal demo needs scikit-learn (the demo's data ships with it): pip install 'epochal[demo]'"
)


@dataclass(frozen=True)
class DemoResult:
    epochs_run: int
    best_epoch: int  # 1-based, as printed
    test_accuracy: float
    seconds: float
    verdict: str
    run_dir: Path | None
    report: Path | None


def _load_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_breast_cancer
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise ModuleNotFoundError(MISSING_SKLEARN, name="sklearn") from exc
    data = load_breast_cancer()
    x = data.data.astype(np.float32)
    y = data.target.astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = len(x) // 5
    x_train, y_train, x_test, y_test = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    # Standardize with training statistics only.
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


def run_demo(
    *,
    seed: int = 0,
    verbose: Literal[0, 1, 2] = 1,
    epochs: int = 200,
    run_dir: str | Path | None = None,
) -> DemoResult:
    """Train the demo model; with ``run_dir``, save the run there with an HTML report."""
    import torch

    import epochal as ep
    from epochal import layers

    start = time.perf_counter()
    x_train, y_train, x_test, y_test = _load_data(seed)
    torch.manual_seed(seed)
    model = ep.Sequential(
        [
            layers.Dense(32, activation="relu", input_shape=(x_train.shape[1],)),
            layers.Dropout(0.2),
            layers.Dense(16, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ],
        device="cpu",
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], seed=seed)
    early = ep.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True, verbose=1)
    fit_start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        validation_split=VALIDATION_SPLIT,
        callbacks=[early],
        verbose=verbose,
    )
    fit_seconds = time.perf_counter() - fit_start
    test = model.evaluate(x_test, y_test, verbose=0)
    assert isinstance(test, dict)
    report_path = None
    if run_dir is not None:
        from epochal.report import report_checkpoint, run_facts

        model.save(Path(run_dir) / "model")
        n_train = math.ceil(len(x_train) * (1 - VALIDATION_SPLIT))
        facts = run_facts(
            model,
            batch_size=BATCH_SIZE,
            train_samples=n_train,
            validation_samples=len(x_train) - n_train,
            wall_time_s=round(fit_seconds, 2),
            test={f"test {k}": float(v) for k, v in test.items()},
        )
        report_path, _ = report_checkpoint(run_dir, facts=facts)
    return DemoResult(
        epochs_run=len(history.epoch),
        best_epoch=early.best_epoch + 1,
        test_accuracy=float(test["accuracy"]),
        seconds=time.perf_counter() - start,
        verdict=model.history.diagnose().summary,
        run_dir=Path(run_dir) if run_dir is not None else None,
        report=report_path,
    )


def main(verbose: Literal[0, 1, 2] = 1, run_dir: str | Path | None = "runs/demo") -> int:
    """Run the demo and print its results; returns the exit status (1: scikit-learn missing)."""
    try:
        import sklearn  # noqa: F401  # the demo's data ships with it
    except ImportError:
        print(MISSING_SKLEARN, file=sys.stderr)
        return 1
    print(
        "epochal demo: breast-cancer classification "
        "(569 samples, 30 features, bundled with scikit-learn)"
    )
    result = run_demo(verbose=verbose, run_dir=run_dir)
    print(f"epochs run:    {result.epochs_run}")
    print(f"best epoch:    {result.best_epoch} (weights restored from it)")
    print(f"test accuracy: {result.test_accuracy:.4f}")
    print(f"time:          {result.seconds:.1f}s")
    if result.report is not None:
        print(f"run saved in:  {result.run_dir}")
        print(f"report:        {result.report} (rebuild it: epochal report {result.run_dir})")
    return 0
