"""Callbacks: Keras 3's set, with state that belongs to the training run."""

from epochal.callbacks.backup_and_restore import BackupAndRestore
from epochal.callbacks.base import Callback, CallbackList
from epochal.callbacks.csv_logger import CSVLogger
from epochal.callbacks.early_stopping import EarlyStopping
from epochal.callbacks.history import History
from epochal.callbacks.lambda_callback import LambdaCallback
from epochal.callbacks.learning_rate_scheduler import LearningRateScheduler
from epochal.callbacks.mlflow import MLflowLogger
from epochal.callbacks.model_checkpoint import ModelCheckpoint
from epochal.callbacks.progress import ProgbarLogger
from epochal.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from epochal.callbacks.tensorboard import TensorBoard
from epochal.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "MLflowLogger",
    "ModelCheckpoint",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
