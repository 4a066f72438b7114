"""Keras 3's public names, per ``keras`` module, for the errors about the ones epochal lacks.

Each ``epochal.keras`` module ends with ``__getattr__ = module_getattr("keras.x")``:
a Keras name the module does not define raises `NotAvailableError` naming it
and saying what to do instead; any other missing name is a plain
``AttributeError``. Python calls a module's ``__getattr__`` only for names it
does not have, so a name epochal adds later simply stops being reported.
"""

from __future__ import annotations

from collections.abc import Callable

from epochal.keras._unavailable import unavailable

__all__ = ["KERAS_NAMES", "module_getattr"]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SERIALIZE = "serialize deserialize get"

# (names, what to do instead)
KERAS_NAMES: dict[str, tuple[frozenset[str], str]] = {
    "keras": (
        _names(
            "Function Initializer InputSpec KerasTensor Layer Loss Metric Operation Optimizer "
            "Quantizer Regularizer RematScope StatelessScope SymbolicScope Variable DTypePolicy "
            "FloatDTypePolicy device name_scope version remat applications backend config datasets "
            "distribution dtype_policies export legacy mixed_precision ops preprocessing quantizers "
            "random saving tree visualization wrappers"
        ),
        "use the torch equivalent (epochal.keras models are torch.nn.Modules)",
    ),
    "keras.activations": (
        _names(
            "celu elu exponential gelu glu hard_shrink hard_sigmoid hard_silu hard_swish hard_tanh "
            "leaky_relu linear log_sigmoid log_softmax mish relu relu6 selu sigmoid silu soft_shrink "
            f"softmax softplus softsign sparse_plus sparsemax squareplus swish tanh tanh_shrink "
            f"threshold {_SERIALIZE}"
        ),
        "pass a function Tensor -> Tensor as the activation (torch.nn.functional has most)",
    ),
    "keras.callbacks": (
        _names(
            "BackupAndRestore CSVLogger Callback CallbackList EarlyStopping History LambdaCallback "
            "LearningRateScheduler ModelCheckpoint ProgbarLogger ReduceLROnPlateau RemoteMonitor "
            "SwapEMAWeights TensorBoard TerminateOnNaN"
        ),
        "subclass keras.callbacks.Callback (BackupAndRestore: epochal checkpoints and resumes "
        "runs itself, see ModelCheckpoint and Model.load)",
    ),
    "keras.initializers": (
        _names(
            "Constant GlorotNormal GlorotUniform HeNormal HeUniform Identity IdentityInitializer "
            "Initializer LecunNormal LecunUniform Ones Orthogonal OrthogonalInitializer "
            "RandomNormal RandomUniform STFTInitializer TruncatedNormal VarianceScaling Zeros "
            "constant glorot_normal glorot_uniform he_normal he_uniform identity lecun_normal "
            "lecun_uniform ones orthogonal random_normal random_uniform truncated_normal "
            f"variance_scaling zeros {_SERIALIZE}"
        ),
        "pass a function that fills a tensor in place and returns it (fn(tensor) -> tensor)",
    ),
    "keras.losses": (
        _names(
            "BinaryCrossentropy BinaryFocalCrossentropy CTC CategoricalCrossentropy "
            "CategoricalFocalCrossentropy CategoricalHinge Circle CosineSimilarity Dice Hinge "
            "Huber KLDivergence LogCosh Loss MeanAbsoluteError MeanAbsolutePercentageError "
            "MeanSquaredError MeanSquaredLogarithmicError Poisson SparseCategoricalCrossentropy "
            "SquaredHinge Tversky binary_crossentropy binary_focal_crossentropy "
            "categorical_crossentropy categorical_focal_crossentropy categorical_hinge circle "
            "cosine_similarity ctc dice hinge huber kl_divergence log_cosh mean_absolute_error "
            "mean_absolute_percentage_error mean_squared_error mean_squared_logarithmic_error "
            f"poisson sparse_categorical_crossentropy squared_hinge tversky {_SERIALIZE}"
        ),
        "subclass keras.losses.Loss and implement call(y_true, y_pred), or pass a function",
    ),
    "keras.metrics": (
        _names(
            "AUC Accuracy BinaryAccuracy BinaryCrossentropy BinaryIoU CategoricalAccuracy "
            "CategoricalCrossentropy CategoricalHinge ConcordanceCorrelation CosineSimilarity "
            "F1Score FBetaScore FalseNegatives FalsePositives Hinge IoU KLDivergence LogCoshError "
            "Mean MeanAbsoluteError MeanAbsolutePercentageError MeanIoU MeanMetricWrapper "
            "MeanSquaredError MeanSquaredLogarithmicError Metric OneHotIoU OneHotMeanIoU "
            "PearsonCorrelation Poisson Precision PrecisionAtRecall R2Score Recall "
            "RecallAtPrecision RootMeanSquaredError SensitivityAtSpecificity "
            "SparseCategoricalAccuracy SparseCategoricalCrossentropy "
            "SparseTopKCategoricalAccuracy SpecificityAtSensitivity SquaredHinge Sum "
            "TopKCategoricalAccuracy TrueNegatives TruePositives binary_accuracy "
            "binary_crossentropy binary_focal_crossentropy categorical_accuracy "
            "categorical_crossentropy categorical_focal_crossentropy categorical_hinge hinge huber "
            "kl_divergence log_cosh mean_absolute_error mean_absolute_percentage_error "
            "mean_squared_error mean_squared_logarithmic_error poisson sparse_categorical_accuracy "
            "sparse_categorical_crossentropy sparse_top_k_categorical_accuracy squared_hinge "
            f"top_k_categorical_accuracy {_SERIALIZE}"
        ),
        "pass a torchmetrics.Metric or a function (y_true, y_pred) -> value, or subclass "
        "keras.metrics.Metric",
    ),
    "keras.models": (
        _names("Model Sequential clone_model load_model model_from_json save_model"),
        "build the model again from its code (or from model.get_config()) and copy weights "
        "with set_weights",
    ),
    "keras.optimizers": (
        _names(
            "Adadelta Adafactor Adagrad Adam AdamW Adamax Ftrl Lamb Lion LossScaleOptimizer Muon "
            f"Nadam Optimizer RMSprop SGD schedules legacy {_SERIALIZE}"
        ),
        "pass a torch.optim optimizer, or a function params -> optimizer, to compile "
        "(mixed precision: compile(precision='16-mixed'))",
    ),
    "keras.utils": (
        _names(
            "Config CustomObjectScope FeatureSpace Progbar PyDataset Sequence array_to_img "
            "audio_dataset_from_directory clear_session custom_object_scope "
            "deserialize_keras_object disable_interactive_logging enable_interactive_logging "
            "get_custom_objects get_file get_registered_name get_registered_object "
            "get_source_inputs image_dataset_from_directory img_to_array "
            "is_interactive_logging_enabled is_keras_tensor legacy load_img normalize "
            "pack_x_y_sample_weight pad_sequences plot_model model_to_dot "
            "register_keras_serializable save_img serialize_keras_object set_random_seed "
            "split_dataset standardize_dtype text_dataset_from_directory "
            "timeseries_dataset_from_array to_categorical unpack_x_y_sample_weight bounding_boxes"
        ),
        "use numpy or torch for it (datasets: a torch.utils.data.Dataset, a DataLoader or "
        "arrays, which fit takes directly)",
    ),
}

# Advice more precise than the module's, for names programs often reach for.
_SPECIFIC: dict[str, str] = {
    "keras.applications": "use torchvision.models or timm networks (wrap them with "
    "keras.layers.TorchModuleWrapper or train them with epochal.Model)",
    "keras.datasets": "load the data with torchvision.datasets, sklearn.datasets or numpy, "
    "and pass the arrays to fit",
    "keras.mixed_precision": "use compile(precision='bf16-mixed' or '16-mixed')",
    "keras.preprocessing": "preprocess the data with numpy/torch (keras.layers has Rescaling, "
    "Normalization, Resizing, CategoryEncoding)",
    "keras.backend": "epochal.keras runs torch: use torch directly",
    "keras.utils.pad_sequences": "pad with numpy, e.g. out = np.zeros((len(seqs), maxlen), "
    "int); out[i, -len(s):] = s[-maxlen:] (Keras's default pre-padding)",
    "keras.utils.plot_model": "print model.summary() instead",
    "keras.utils.image_dataset_from_directory": "use torchvision.datasets.ImageFolder and "
    "pass the Dataset (or a DataLoader) to fit",
    "keras.utils.PyDataset": "subclass torch.utils.data.Dataset and pass it to fit",
    "keras.utils.Sequence": "subclass torch.utils.data.Dataset and pass it to fit",
    "keras.callbacks.BackupAndRestore": "epochal resumes runs itself: use "
    "ModelCheckpoint and Model.load (see the README's resume section)",
}


def module_getattr(module: str) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``module`` (``"keras.layers"``, ...) reporting Keras's missing names."""
    names, advice = KERAS_NAMES[module]
    real = "epochal." + module

    def __getattr__(name: str) -> object:
        if name in names:
            raise unavailable(module, name, _SPECIFIC.get(f"{module}.{name}", advice))
        raise AttributeError(f"module {real!r} has no attribute {name!r}")

    return __getattr__
