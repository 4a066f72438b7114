"""The core layers: `Dense`, `Dropout`, `Flatten`, `Activation`, `Embedding`, `InputLayer`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from epochal import activations, initializers
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.layers import _checks as checks
from epochal.layers import _penalties
from epochal.layers._base import (
    ActivationMixin,
    Layer,
    Shape,
    channels_from,
    join_parts,
    make_weight,
)
from epochal.layers._masking import pass_mask, set_mask


class Dense(ActivationMixin, Layer):
    """A fully connected layer: ``activation(x @ kernel + bias)`` on the last axis.

    Works on inputs of any rank (``(N, features)``, ``(N, steps, features)``,
    ...). Without ``input_shape``/``input_dim`` the layer is lazy: it has no
    parameters until its first call, which reads ``features`` from the input.
    The weight is stored in torch's ``(units, features)`` layout (``weight``,
    ``bias``) and initialized as Keras initializes its ``(features, units)``
    kernel.

    Args:
        units: output size (positive).
        activation: a name from :mod:`epochal.activations`, a callable, or None.
        use_bias: whether to add a bias.
        kernel_initializer: a name from :mod:`epochal.initializers` or a callable.
        bias_initializer: likewise, for the bias.
        kernel_regularizer: a ``keras.regularizers`` penalty on the kernel, added to the loss.
        bias_regularizer: likewise, on the bias.
        activity_regularizer: likewise, on the layer's output.
        kernel_constraint: a ``keras.constraints`` constraint applied to the kernel
            after each optimizer step.
        bias_constraint: likewise, for the bias.
        input_shape: the input shape without the batch dimension, e.g. ``(20,)``;
            builds the weights now.
        input_dim: Keras 2 shorthand for ``input_shape=(input_dim,)``.
        name: the layer's name in a sequential container.

    Example:
        >>> layer = Dense(4, activation="relu")
        >>> layer(torch.zeros(2, 3)).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        units: int,
        activation: str | activations.ActivationFn | None = None,
        *,
        use_bias: bool = True,
        kernel_initializer: str | initializers.Initializer = "glorot_uniform",
        bias_initializer: str | initializers.Initializer = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        input_shape: Shape | None = None,
        input_dim: int | None = None,
        name: str | None = None,
    ) -> None:
        owner = "Dense"
        if input_dim is not None:
            if input_shape is not None:
                raise ArgumentError(
                    "Dense: expected only one of `input_shape` and `input_dim`. "
                    f"Received: input_shape={input_shape!r}, input_dim={input_dim!r}"
                )
            input_shape = (checks.positive_int(owner, "input_dim", input_dim),)
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.units = checks.positive_int(owner, "units", units)
        self.activation_name, self._activation_fn = checks.activation(owner, activation)
        self.use_bias = checks.boolean(owner, "use_bias", use_bias)
        self.kernel_initializer = checks.initializer(
            owner, "kernel_initializer", kernel_initializer
        )
        self.bias_initializer = checks.initializer(owner, "bias_initializer", bias_initializer)
        _penalties.attach(
            self,
            owner,
            {
                "weight": (
                    "kernel_regularizer",
                    kernel_regularizer,
                    "kernel_constraint",
                    kernel_constraint,
                ),
                "bias": ("bias_regularizer", bias_regularizer, "bias_constraint", bias_constraint),
            },
            activity_regularizer,
        )
        self.in_features: int | None = None
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self.built = False
        if self.input_shape is not None:
            self._build_from_shape(self.input_shape, owner)

    def _build(
        self, channels: int, *, device: torch.device, dtype: torch.dtype, initialize: bool
    ) -> None:
        self.in_features = channels
        self.weight = make_weight(
            (channels, self.units),
            self.kernel_initializer,
            lambda k: k.T.contiguous(),
            device=device,
            dtype=dtype,
            initialize=initialize,
        )
        if self.use_bias:
            self.bias = make_weight(
                (self.units,),
                self.bias_initializer,
                lambda b: b,
                device=device,
                dtype=dtype,
                initialize=initialize,
            )
        self.built = True

    def _channels_from_state(self, state_dict: Mapping[str, Any], prefix: str) -> int | None:
        return channels_from(state_dict, prefix + "weight", 1)

    def _keras_layout(self, path: str, tensor: Tensor) -> Tensor:
        # torch's (units, features) weight is Keras's (features, units) kernel transposed.
        return tensor.T if path == "weight" else tensor

    def forward(self, x: Tensor) -> Tensor:
        if not self.built:
            self._build_from_input(x)
        y = F.linear(x, self.weight, self.bias)
        fn = self._activation_fn
        y = y if fn is None else fn(y)
        return pass_mask(x, y) if x.dim() > 2 else y  # sequences keep Keras's mask

    def forward_preactivation(self, x: Tensor) -> Tensor:
        """``x @ kernel + bias``, without the activation."""
        if not self.built:
            self._build_from_input(x)
        return F.linear(x, self.weight, self.bias)

    def _describe(self) -> str:
        return join_parts(
            f"units={self.units}",
            f"in_features={self.in_features}",
            f"activation={self.activation_name!r}",
            "" if self.use_bias else "use_bias=False",
            super()._describe(),
        )


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs during training, scaling the rest by ``1/(1-rate)``.

    Active only in training mode (``module.train()``); the identity in eval mode.
    Randomness comes from torch's global RNG, which an epochal run owns and
    checkpoints, so a run is reproducible from ``compile(seed=...)``.

    Args:
        rate: the fraction to drop, in ``[0, 1]``.
        seed: accepted for Keras compatibility and validated, but not used: the
            run's seed determines dropout masks.
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> layer = Dropout(0.5).eval()
        >>> layer(torch.ones(2, 3)).sum().item()
        6.0
    """

    def __init__(
        self,
        rate: float,
        *,
        seed: int | None = None,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Dropout")
        self.rate = checks.number_in("Dropout", "rate", rate, 0.0, 1.0)
        self.seed = checks.optional_int("Dropout", "seed", seed)

    def forward(self, x: Tensor) -> Tensor:
        y = F.dropout(x, self.rate, self.training)
        return pass_mask(x, y) if x.dim() > 2 else y

    def _describe(self) -> str:
        return join_parts(f"rate={self.rate}", super()._describe())


class Flatten(Layer):
    """Flattens every axis but the batch axis: ``(N, d1, d2, ...) -> (N, d1 * d2 * ...)``.

    Channels-last order is kept, so the result matches Keras's. A 1-D input
    ``(N,)`` becomes ``(N, 1)``.

    Args:
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> Flatten()(torch.zeros(2, 4, 4, 3)).shape
        torch.Size([2, 48])
    """

    def __init__(self, *, input_shape: Shape | None = None, name: str | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Flatten")

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) if x.dim() > 1 else x.unsqueeze(1)


class Activation(ActivationMixin, Layer):
    """Applies an activation function.

    Args:
        activation: a name from :mod:`epochal.activations`, a callable, or None.
        input_shape: the input shape without the batch dimension.
        name: the layer's name in a sequential container.

    Example:
        >>> Activation("relu")(torch.tensor([-1.0, 1.0]))
        tensor([0., 1.])
    """

    def __init__(
        self,
        activation: str | activations.ActivationFn | None,
        *,
        input_shape: Shape | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_shape=input_shape, owner="Activation")
        self.activation_name, self._activation_fn = checks.activation("Activation", activation)

    def forward(self, x: Tensor) -> Tensor:
        fn = self._activation_fn
        if fn is None:
            return x
        return pass_mask(x, fn(x)) if x.dim() > 2 else fn(x)

    def forward_preactivation(self, x: Tensor) -> Tensor:
        """The input unchanged."""
        return x

    def _describe(self) -> str:
        return join_parts(repr(self.activation_name), super()._describe())


class Embedding(Layer):
    """Maps integer ids ``(N, ...)`` to vectors ``(N, ..., output_dim)``.

    Float ids are cast to integers, as Keras does. The table is ``weight`` of
    shape ``(input_dim, output_dim)``, initialized as Keras does
    (``uniform(-0.05, 0.05)``).

    Args:
        input_dim: vocabulary size (ids run from 0 to ``input_dim - 1``).
        output_dim: vector size.
        embeddings_initializer: a name from :mod:`epochal.initializers` or a callable.
        embeddings_regularizer: a ``keras.regularizers`` penalty on the table.
        embeddings_constraint: a ``keras.constraints`` constraint on the table.
        mask_zero: id 0 is padding: the output carries a mask (``ids != 0``) that
            the recurrent and attention layers after it read, as in Keras.
        activity_regularizer: a penalty on the layer's output.
        input_shape: the input shape without the batch dimension, e.g. ``(100,)``.
        input_length: Keras 2 shorthand for ``input_shape=(input_length,)``.
        name: the layer's name in a sequential container.

    Example:
        >>> Embedding(1000, 16)(torch.zeros(2, 7, dtype=torch.long)).shape
        torch.Size([2, 7, 16])
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        *,
        embeddings_initializer: str | initializers.Initializer = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        activity_regularizer: Any = None,
        input_shape: Shape | None = None,
        input_length: int | None = None,
        name: str | None = None,
    ) -> None:
        owner = "Embedding"
        if input_length is not None:
            if input_shape is not None:
                raise ArgumentError(
                    "Embedding: expected only one of `input_shape` and `input_length`. "
                    f"Received: input_shape={input_shape!r}, input_length={input_length!r}"
                )
            input_shape = (checks.positive_int(owner, "input_length", input_length),)
        super().__init__(name=name, input_shape=input_shape, owner=owner)
        self.input_dim = checks.positive_int(owner, "input_dim", input_dim)
        self.output_dim = checks.positive_int(owner, "output_dim", output_dim)
        init = checks.initializer(owner, "embeddings_initializer", embeddings_initializer)
        self.embeddings_initializer = init
        self.mask_zero = checks.boolean(owner, "mask_zero", mask_zero)
        _penalties.attach(
            self,
            owner,
            {
                "weight": (
                    "embeddings_regularizer",
                    embeddings_regularizer,
                    "embeddings_constraint",
                    embeddings_constraint,
                )
            },
            activity_regularizer,
        )
        self.weight = make_weight(
            (self.input_dim, self.output_dim),
            init,
            lambda w: w,
            device=torch.device("cpu"),
            dtype=torch.get_default_dtype(),
            initialize=True,
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype != torch.long and x.dtype != torch.int:
            x = x.long()
        y = F.embedding(x, self.weight)
        if self.mask_zero:
            # Keras's implicit mask: id 0 is padding. Layers that take masks (LSTM, GRU,
            # SimpleRNN, Bidirectional, attention, pooling) read it from the output.
            set_mask(y, x != 0)
        return y

    def compute_mask(self, x: Tensor, mask: Tensor | None = None) -> Tensor | None:
        """Keras's ``compute_mask``: ``x != 0`` with ``mask_zero=True``, else None."""
        return x != 0 if self.mask_zero else None

    def _describe(self) -> str:
        return join_parts(f"{self.input_dim}, {self.output_dim}", super()._describe())


class InputLayer(Layer):
    """Declares the input shape of a sequential container; the identity otherwise.

    Args:
        shape: the input shape without the batch dimension, e.g. ``(784,)``.
        dtype: the input dtype, used for the dry run that builds the container
            (default: torch's default float dtype; integer ids need ``torch.long``).
        name: the layer's name in a sequential container.

    Example:
        >>> InputLayer((784,)).input_shape
        (784,)
    """

    def __init__(
        self, shape: Shape, *, dtype: torch.dtype | None = None, name: str | None = None
    ) -> None:
        if shape is None:
            raise ArgumentTypeError(
                "InputLayer: expected `shape` to be a tuple of positive ints. Received: shape=None"
            )
        super().__init__(name=name, input_shape=None, owner="InputLayer")
        self.input_shape = checks.shape("InputLayer", "shape", shape, allow_scalar=True)
        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise ArgumentTypeError(
                "InputLayer: expected `dtype` to be a torch.dtype or None. "
                f"Received: dtype={dtype!r} of type {type(dtype).__name__}"
            )
        self.dtype = dtype

    def forward(self, x: Tensor) -> Tensor:
        return x

    def _describe(self) -> str:
        return join_parts(f"shape={self.input_shape}", super()._describe())


def Input(  # Keras's spelling
    shape: Shape, *, dtype: torch.dtype | None = None, name: str | None = None
) -> InputLayer:
    """Keras's ``Input(shape=...)`` for the first entry of a sequential model.

    Args:
        shape: the input shape without the batch dimension, e.g. ``(784,)``.
        dtype: the input dtype (``torch.long`` for integer ids).
        name: the layer's name in a sequential container.

    Returns:
        An :class:`InputLayer`.

    Example:
        >>> Input((784,)).input_shape
        (784,)
    """
    return InputLayer(shape, dtype=dtype, name=name)
