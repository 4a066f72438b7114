"""`TorchModuleWrapper`: any ``torch.nn.Module`` as a layer of a functional model."""

from __future__ import annotations

from typing import Any

from torch import nn

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.layers._base import Layer

__all__ = ["TorchModuleWrapper"]


class TorchModuleWrapper(Layer):
    """Keras's ``TorchModuleWrapper``: a plain torch module called on ``keras.Input`` tensors.

    A plain ``torch.nn.Module`` (``nn.Linear``, a model of your own) cannot
    record itself into a functional graph; wrapped, it is one layer of it,
    trained and saved with the model's weights. Its architecture cannot go
    into a ``.keras`` file (it is code): rebuild such a model from its code
    and use ``load_weights``.

    Args:
        module: the torch module.
        name: the layer's name.

    Example:
        >>> inputs = keras.Input(shape=(8,))
        >>> outputs = keras.layers.TorchModuleWrapper(torch.nn.Linear(8, 2))(inputs)
        >>> model = keras.Model(inputs, outputs)
    """

    def __init__(self, module: nn.Module, name: str | None = None) -> None:
        if not isinstance(module, nn.Module):
            raise ArgumentTypeError(
                "TorchModuleWrapper: expected `module` to be a torch.nn.Module. "
                f"Received: module={module!r} of type {type(module).__name__}"
            )
        super().__init__(name=name, input_shape=None, owner="TorchModuleWrapper")
        self.module = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        """Raises: a wrapped torch module is code, not a config."""
        raise ArgumentError(
            f"TorchModuleWrapper({type(self.module).__name__}) cannot be saved as a config: "
            "a torch module is code. Save the weights (model.save_weights) and rebuild the "
            "model from its code, or write the module as a keras.layers.Layer subclass"
        )
