"""Fakes for unit-testing callbacks by calling their hooks directly.

`FakeModel` has exactly the part of the model contract callbacks may rely on:
``optimizer``, ``stop_training`` and ``metric_direction(name)``.
`LazyLogs` stands for the training loop's batch logs: a read-only mapping
whose values are computed on demand, recording which keys were read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import torch

_DIRECTIONS = {"accuracy": "max", "auc": "max", "mae": "min", "mse": "min"}


class FakeModel:
    """The model contract callbacks rely on, and nothing else."""

    def __init__(
        self,
        lr: float | list[float] = 0.1,
        directions: Mapping[str, str] | None = None,
    ) -> None:
        rates = lr if isinstance(lr, list) else [lr]
        groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": rate} for rate in rates]
        self.optimizer = torch.optim.SGD(groups, lr=rates[0])
        self.stop_training = False
        self._directions = {**_DIRECTIONS, **(directions or {})}

    def metric_direction(self, name: str) -> str | None:
        return self._directions.get(name)

    @property
    def lrs(self) -> list[float]:
        return [float(group["lr"]) for group in self.optimizer.param_groups]


class LazyLogs(Mapping[str, float]):
    """Read-only batch logs that record every key read (each read is a device sync)."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = dict(values)
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> float:
        self.reads.append(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


PARAMS: dict[str, Any] = {
    "epochs": 10,
    "steps": 4,
    "verbose": 0,
    "metrics": ["loss", "val_loss"],
}


@pytest.fixture
def make_model() -> Callable[..., FakeModel]:
    """``make_model(lr=..., directions=...)`` builds a `FakeModel`."""
    return FakeModel


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def lazy_logs() -> type[LazyLogs]:
    """``lazy_logs({"loss": 0.5})`` builds batch logs that record reads."""
    return LazyLogs


@pytest.fixture
def params() -> dict[str, Any]:
    """Fit parameters as the loop passes them (a fresh copy per test)."""
    return {**PARAMS, "metrics": list(PARAMS["metrics"])}
