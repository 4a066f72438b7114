"""scikit-learn estimators over `epochal.Model`: `Classifier` and `Regressor`.

They follow scikit-learn's estimator contract (parameters stored as given in
``__init__``, checked in ``fit``; fitted attributes end in ``_``), so they
work in ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and ``clone``,
and pass scikit-learn's own estimator checks. The network is by default an
MLP (``hidden_layer_sizes=(100,)``, as ``MLPClassifier``/``MLPRegressor``),
or any ``module``: an ``nn.Module`` class or a factory called as
``module(n_features_in, n_outputs)``.

A fit with the same ``random_state`` gives the same bits (the weights are
initialized from it and the run is seeded with it). With ``warm_start=True``
a second ``fit`` continues the same run: ``epochs`` more epochs, with the
optimizer state and the callbacks' state, as ``Model.fit`` does.

scikit-learn is an optional extra: ``pip install 'epochal[sklearn]'``.

Example:
    >>> from epochal.sklearn import Classifier
    >>> from sklearn.model_selection import cross_val_score
    >>> cross_val_score(Classifier(epochs=50, random_state=0), X, y, cv=5)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ModuleNotFoundError(
        "epochal.sklearn needs scikit-learn >= 1.6: pip install 'epochal[sklearn]'",
        name="sklearn",
    ) from exc

from epochal.callbacks.base import Callback
from epochal.model import Model

__all__ = ["Classifier", "Regressor"]

PREDICT_CHUNK = 256
"""Rows per forward pass in ``predict`` (see ``_outputs``)."""

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
    "gelu": nn.GELU,
}


def _mlp(
    n_features_in: int, n_outputs: int, hidden: Sequence[int], activation: str
) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features_in
    for size in hidden:
        layers += [nn.Linear(width, size), _ACTIVATIONS[activation]()]
        width = size
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def _check_hidden(hidden: Any) -> tuple[int, ...]:
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(
            "Expected `hidden_layer_sizes` to be a tuple of positive ints such as (100,). "
            f"Received: {hidden!r}"
        )
    sizes = tuple(hidden)
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0 for s in sizes):
        raise ValueError(
            "Expected `hidden_layer_sizes` to hold positive ints such as (100,). "
            f"Received: {hidden!r}"
        )
    return tuple(int(s) for s in sizes)


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Expected `{name}` to be a positive int. Received: {name}={value!r}")
    return int(value)


def _seed(random_state: Any) -> int:
    """An int seed from ``random_state`` (None draws one, as scikit-learn does)."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state) % (2**62)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


class _EpochalEstimator(BaseEstimator):
    """The parameters and the fitting shared by `Classifier` and `Regressor`."""

    _default_loss = "mse"
    model_: Model | None
    module_: nn.Module
    history_: Any

    def __init__(
        self,
        module: Any = None,
        *,
        hidden_layer_sizes: Sequence[int] = (100,),
        activation: str = "relu",
        optimizer: Any = "adam",
        learning_rate: float | None = 1e-3,
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        epochs: int = 200,
        batch_size: int = 32,
        validation_split: float = 0.0,
        callbacks: Sequence[Callback] | None = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        device: str | None = "cpu",
    ) -> None:
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.device = device

    # -- the network ------------------------------------------------------------
    def _build_module(self, n_features_in: int, n_outputs: int) -> nn.Module:
        """The network, initialized from the run's seed (torch's global RNG is left alone)."""
        if self.module is None:
            hidden = _check_hidden(self.hidden_layer_sizes)
            if self.activation not in _ACTIVATIONS:
                raise ValueError(
                    f"Expected `activation` to be one of {sorted(_ACTIVATIONS)}. "
                    f"Received: activation={self.activation!r}"
                )
            return _mlp(n_features_in, n_outputs, hidden, self.activation)
        if isinstance(self.module, nn.Module):
            return copy.deepcopy(self.module)  # every fit starts from the given weights
        if not callable(self.module):
            raise TypeError(
                "Expected `module` to be None (an MLP), an nn.Module class, or a factory "
                "module(n_features_in, n_outputs) -> nn.Module. "
                f"Received: module of type {type(self.module).__name__}"
            )
        built = self.module(n_features_in, n_outputs)
        if not isinstance(built, nn.Module):
            raise TypeError(
                "Expected `module(n_features_in, n_outputs)` to return an nn.Module. "
                f"Received: {type(built).__name__}"
            )
        return built

    def _new_model(self, n_features_in: int, n_outputs: int, seed: int) -> Model:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = self._build_module(n_features_in, n_outputs)
        model = Model(module, device=self.device)
        model.compile(
            optimizer=self.optimizer,
            loss=self.loss if self.loss is not None else self._default_loss,
            metrics=list(self.metrics or []),
            learning_rate=self.learning_rate,
            seed=seed,
        )
        return model

    def _check_fit_params(self) -> None:
        _check_positive_int("epochs", self.epochs)
        _check_positive_int("batch_size", self.batch_size)
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"Expected `verbose` to be 0, 1 or 2. Received: {self.verbose!r}")
        split = self.validation_split
        if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 <= split < 1:
            raise ValueError(
                f"Expected `validation_split` to be a float in [0, 1). Received: {split!r}"
            )

    def _fit_arrays(self, x: np.ndarray, y: np.ndarray, n_outputs: int) -> None:
        """Fit the network on checked arrays: a new run, or the same one with warm_start."""
        self._check_fit_params()
        model = getattr(self, "model_", None)
        continuing = self.warm_start and hasattr(self, "module_")
        if continuing and model is None:  # unpickled: the weights, in a new run
            model = Model(self.module_, device=self.device)
            model.compile(
                optimizer=self.optimizer,
                loss=self.loss if self.loss is not None else self._default_loss,
                metrics=list(self.metrics or []),
                learning_rate=self.learning_rate,
                seed=_seed(self.random_state),
            )
        if not continuing or model is None:
            model = self._new_model(x.shape[1], n_outputs, _seed(self.random_state))
        model.fit(
            x,
            y,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            validation_split=float(self.validation_split),
            callbacks=list(self.callbacks or []),
            verbose=self.verbose,  # type: ignore[arg-type]  # checked above
        )
        self.model_ = model
        self.module_ = model.module
        self.history_ = model.history

    def _outputs(self, x: np.ndarray) -> np.ndarray:
        """The network's raw outputs for ``x``, as float64.

        The rows go through in chunks of one fixed size (the last one padded),
        so a sample's prediction does not depend on how many samples were
        predicted with it: matrix kernels choose their summation order by shape.
        """
        module = self.module_
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        was_training = module.training
        module.eval()
        chunks = []
        try:
            with torch.no_grad():
                for start in range(0, len(x), PREDICT_CHUNK):
                    part = torch.from_numpy(x[start : start + PREDICT_CHUNK])
                    rows = len(part)
                    if rows < PREDICT_CHUNK:
                        pad = part.new_zeros((PREDICT_CHUNK - rows, *part.shape[1:]))
                        part = torch.cat([part, pad])
                    out = module(part.to(device))[:rows]
                    chunks.append(out.detach().to("cpu", torch.float64))
        finally:
            module.train(was_training)
        return torch.cat(chunks).numpy()

    def _checked_x(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "module_")
        x = validate_data(self, X, reset=False, dtype=np.float32)
        return np.array(x, dtype=np.float32, order="C", copy=True)

    def __getstate__(self) -> dict[str, Any]:
        # The Model holds closures (the bound loss and forward) that cannot be
        # pickled; the trained module and the history can. A warm start after
        # unpickling continues from the weights in a new run.
        state = self.__dict__.copy()
        state.pop("model_", None)
        return state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _training_arrays(estimator: BaseEstimator, X: Any, y: Any, **kwargs: Any) -> tuple[Any, Any]:
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None"
        )
    return validate_data(estimator, X, y, dtype=np.float32, **kwargs)


class Classifier(ClassifierMixin, _EpochalEstimator):
    """A scikit-learn classifier training a torch network with epochal.

    The network outputs one logit per class and is trained with the sparse
    categorical cross-entropy; ``predict_proba`` is its softmax.

    Args:
        module: ``None`` for an MLP, an ``nn.Module`` class or a factory
            called as ``module(n_features_in, n_outputs)``, or an
            ``nn.Module`` instance (copied at every fresh fit).
        hidden_layer_sizes: the MLP's hidden widths (used when ``module`` is None).
        activation: the MLP's activation: ``"relu"``, ``"tanh"``,
            ``"logistic"``, ``"identity"`` or ``"gelu"``.
        optimizer: an epochal optimizer name or factory (see ``Model.compile``).
        learning_rate: the optimizer's learning rate (``None``: its default).
        loss: an epochal loss; ``None`` is ``"sparse_categorical_crossentropy"``.
        metrics: epochal metrics to log in ``history_``.
        epochs: epochs per ``fit`` (with ``warm_start``, epochs more).
        batch_size: samples per step.
        validation_split: the last fraction of the training data held out
            for validation (``val_loss`` in ``history_``, for EarlyStopping).
        callbacks: epochal callbacks (EarlyStopping, ...); their state belongs to the run.
        random_state: seed of the weights and the run; an int gives the same bits every fit.
        warm_start: a second ``fit`` continues the run instead of starting anew.
        verbose: 0 silent, 1 progress bar, 2 one line per epoch.
        device: where to train (``None``: CUDA when available).

    Attributes:
        classes_: the class labels, sorted.
        n_features_in_: the number of features seen in ``fit``.
        history_: the run's `History` (every epoch, across warm-started fits).
        model_: the `epochal.Model` (not kept by pickling).
        module_: the trained ``nn.Module``.
    """

    _default_loss = "sparse_categorical_crossentropy"
    classes_: np.ndarray

    def fit(self, X: Any, y: Any) -> Classifier:
        """Train on ``X`` (n_samples, n_features) and class labels ``y``; returns self.

        Raises:
            ValueError: bad data (NaN, empty, mismatched lengths), fewer than
                two classes, or new classes or features in a warm start.
        """
        x, y = _training_arrays(self, X, y, reset=not self._warm())
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                "Classifier needs samples of at least 2 classes in the data; the data "
                f"contains only one class: {classes[0]!r}"
            )
        if self._warm() and not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start=True continues the run, which needs the same classes. "
                f"Received classes {classes.tolist()}, expected {self.classes_.tolist()}"
            )
        self.classes_ = classes
        self._fit_arrays(
            np.array(x, dtype=np.float32, order="C", copy=True),
            encoded.astype(np.int64),
            len(classes),
        )
        return self

    def _warm(self) -> bool:
        return bool(self.warm_start) and hasattr(self, "module_")

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), in the order of ``classes_``."""
        logits = self._outputs(self._checked_x(X))
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample (labels from ``classes_``)."""
        logits = self._outputs(self._checked_x(X))
        return self.classes_[np.argmax(logits, axis=1)]


class Regressor(RegressorMixin, _EpochalEstimator):
    """A scikit-learn regressor training a torch network with epochal.

    Takes the same parameters as `Classifier`; ``loss`` defaults to ``"mse"``.
    ``y`` may be 1-D (one output) or 2-D (one column per output).

    Attributes:
        n_features_in_: the number of features seen in ``fit``.
        n_outputs_: the number of targets.
        history_: the run's `History`.
        model_: the `epochal.Model` (not kept by pickling).
        module_: the trained ``nn.Module``.
    """

    _default_loss = "mse"
    n_outputs_: int
    _y_1d: bool

    def fit(self, X: Any, y: Any) -> Regressor:
        """Train on ``X`` (n_samples, n_features) and targets ``y``; returns self.

        Raises:
            ValueError: bad data (NaN, empty, mismatched lengths), or other
                features or outputs in a warm start.
        """
        warm = bool(self.warm_start) and hasattr(self, "module_")
        x, y = _training_arrays(self, X, y, reset=not warm, multi_output=True, y_numeric=True)
        y = np.asarray(y)
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if warm and n_outputs != self.n_outputs_:
            raise ValueError(
                "warm_start=True continues the run, which needs the same number of outputs. "
                f"Received y with {n_outputs}, expected {self.n_outputs_}"
            )
        self.n_outputs_ = n_outputs
        self._y_1d = y.ndim == 1
        targets = y.reshape(len(y), -1).astype(np.float32)
        self._fit_arrays(np.array(x, dtype=np.float32, order="C", copy=True), targets, n_outputs)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets: shape (n_samples,) for a 1-D ``y``, else (n_samples, n_outputs)."""
        out = self._outputs(self._checked_x(X))
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
