"""`MLflowLogger`: the run's settings, every epoch's logs and its report, in one MLflow run.

A training run is one MLflow run, however it is split into ``fit`` calls or
killed and resumed: the MLflow run id is part of the callback's state, which
belongs to the training run and is checkpointed with it. Each epoch's logs
are logged once, at ``step`` = the run's 0-based epoch; an epoch that a
resumed process trains again (it was logged, then the process died before
its checkpoint) is not logged twice. At the end of every ``fit`` call the
HTML report and the learning curves are (re)written as artifacts.

mlflow is an optional extra: ``pip install 'epochal[mlflow]'``.

Example:
    >>> logger = MLflowLogger(experiment_name="churn", tracking_uri="sqlite:///mlflow.db")
    >>> model.fit(x, y, epochs=20, callbacks=[logger], checkpoint_dir="runs/churn")  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from epochal.callbacks.base import Callback, Logs
from epochal.errors import ArgumentTypeError

__all__ = ["MLflowLogger"]

MISSING_MLFLOW = "MLflowLogger needs mlflow: pip install 'epochal[mlflow]'"

_PARAM_KEYS = (
    "optimizer",
    "learning_rate",
    "batch_size",
    "loss",
    "compiled_metrics",
    "seed",
    "epochs",
    "parameter_count",
    "samples",
    "validation",
)
"""The fit parameters (``Callback.params``) logged as MLflow params."""


def _import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise ModuleNotFoundError(MISSING_MLFLOW, name="mlflow") from exc
    return mlflow


def _check_optional_str(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ArgumentTypeError(
            f"Expected `{name}` to be None or a str. Received: {name} of type "
            f"{type(value).__name__}"
        )


class MLflowLogger(Callback):
    """Logs a training run to MLflow: params, per-epoch metrics, report and curves.

    Args:
        experiment_name: the MLflow experiment (created if missing); ``None``
            uses the active or default experiment.
        tracking_uri: where MLflow stores runs (for example
            ``"sqlite:///mlflow.db"``); ``None`` uses MLflow's own setting.
        run_name: the MLflow run's name when this callback creates it.
        tags: tags set on the MLflow run.
        artifact_location: where a new experiment keeps its artifacts.
        log_artifacts: write the HTML report and the curves (PNG) at the end
            of every ``fit`` call.

    If an MLflow run is active when the training run starts (``with
    mlflow.start_run():``), the logger logs into it and leaves it open;
    otherwise it creates its own and marks it finished at the end of every
    ``fit`` call (a later call, or a resumed process, reopens it).

    Raises:
        ArgumentTypeError: an argument of the wrong type.
    """

    def __init__(
        self,
        experiment_name: str | None = None,
        *,
        tracking_uri: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        artifact_location: str | None = None,
        log_artifacts: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (
            ("experiment_name", experiment_name),
            ("tracking_uri", tracking_uri),
            ("run_name", run_name),
            ("artifact_location", artifact_location),
        ):
            _check_optional_str(name, value)
        if tags is not None and not isinstance(tags, Mapping):
            raise ArgumentTypeError(
                f"Expected `tags` to be None or a mapping. Received: {type(tags).__name__}"
            )
        if not isinstance(log_artifacts, bool):
            raise ArgumentTypeError(
                f"Expected `log_artifacts` to be a bool. Received: {log_artifacts!r}"
            )
        self.experiment_name = experiment_name
        self.tracking_uri = tracking_uri
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.artifact_location = artifact_location
        self.log_artifacts = log_artifacts
        self._client: Any = None
        self._logged_up_to = -1
        self.reset_state()

    # -- state: belongs to the training run ---------------------------------------
    def reset_state(self) -> None:
        self.run_id: str | None = None
        self._owns_run = True
        self._params: dict[str, str] = {}

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "owns_run": self._owns_run, "params": dict(self._params)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.run_id = state.get("run_id")
        self._owns_run = bool(state.get("owns_run", True))
        self._params = {str(k): str(v) for k, v in (state.get("params") or {}).items()}

    # -- MLflow ---------------------------------------------------------------------
    def _client_for_run(self) -> Any:
        mlflow = _import_mlflow()
        if self._client is None:
            self._client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def _experiment_id(self, client: Any) -> str:
        mlflow = _import_mlflow()
        if self.experiment_name is None:
            active = mlflow.active_run()
            if active is not None:
                return str(active.info.experiment_id)
            return "0"
        found = client.get_experiment_by_name(self.experiment_name)
        if found is not None:
            return str(found.experiment_id)
        return str(
            client.create_experiment(self.experiment_name, artifact_location=self.artifact_location)
        )

    def _open_run(self) -> None:
        """Create the MLflow run (or adopt the active one), or reopen the run's own."""
        mlflow = _import_mlflow()
        client = self._client_for_run()
        if self.run_id is None:
            active = mlflow.active_run()
            if active is not None and self.tracking_uri in (None, mlflow.get_tracking_uri()):
                self.run_id, self._owns_run = active.info.run_id, False
            else:
                tags = {str(k): str(v) for k, v in self.tags.items()}
                run = client.create_run(
                    self._experiment_id(client), run_name=self.run_name, tags=tags
                )
                self.run_id, self._owns_run = run.info.run_id, True
            self._logged_up_to = -1
            return
        if self._owns_run:
            client.update_run(self.run_id, status="RUNNING")
        # A resumed process may train again an epoch that was logged before the kill.
        history = client.get_metric_history(self.run_id, "loss")
        self._logged_up_to = max((int(m.step) for m in history), default=-1)

    def _settings(self) -> dict[str, str]:
        """The run's settings from ``self.params``; what is missing is read from the context."""
        params = self.params
        values: dict[str, Any] = {k: params.get(k) for k in _PARAM_KEYS}
        optimizer = getattr(self.model, "optimizer", None)
        if values["optimizer"] is None and optimizer is not None:
            values["optimizer"] = type(optimizer).__name__
        if values["learning_rate"] is None and optimizer is not None:
            values["learning_rate"] = optimizer.param_groups[0].get("lr")
        module = getattr(self.model, "module", None)
        if values["parameter_count"] is None and module is not None:
            values["parameter_count"] = sum(p.numel() for p in module.parameters())
        run = getattr(self.model, "run", None)
        if values["seed"] is None and run is not None:
            values["seed"] = getattr(run, "seed", None)
        return {k: _param_text(v) for k, v in values.items() if v is not None}

    def _log_params(self, client: Any) -> None:
        """Log settings not logged yet; a setting that changed goes to a tag (params are fixed)."""
        new: dict[str, str] = {}
        for key, value in self._settings().items():
            if key not in self._params:
                new[key] = value
            elif self._params[key] != value:
                client.set_tag(self.run_id, f"epochal.latest.{key}", value)
        if new:
            from mlflow.entities import Param

            client.log_batch(self.run_id, params=[Param(k, v) for k, v in new.items()])
            self._params.update(new)

    # -- hooks ------------------------------------------------------------------------
    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._open_run()
        self._log_params(self._client_for_run())

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.run_id is None or epoch <= self._logged_up_to:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(str(k), float(v), now, int(epoch))
            for k, v in (logs or {}).items()
            if _is_number(v)
        ]
        if metrics:
            self._client_for_run().log_batch(self.run_id, metrics=metrics)
        self._logged_up_to = epoch

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.run_id is None:
            return
        client = self._client_for_run()
        if self.log_artifacts:
            self._write_artifacts(client)
        if self._owns_run:
            client.set_terminated(self.run_id)

    def _write_artifacts(self, client: Any) -> None:
        history = getattr(getattr(self.model, "run", None), "history", None)
        if history is None or not getattr(history, "history", None):
            return
        from epochal.report import run_facts, write_report

        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            facts = run_facts(
                self.model,
                batch_size=self.params.get("batch_size"),
                train_samples=self.params.get("samples"),
            )
            write_report(
                folder / "report.html",
                history=history.history,
                epochs=history.epochs_by_key,
                settings=self._settings(),
                events=history.events or None,
                baseline_loss=history.baseline_loss,
                facts=facts,
            )
            try:
                history.plot(folder / "curves.png")
            except ModuleNotFoundError as exc:
                if exc.name != "matplotlib":
                    raise
            for path in sorted(folder.iterdir()):
                client.log_artifact(self.run_id, str(path))


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _param_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.8g}"
    return str(value)
