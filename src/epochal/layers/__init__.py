"""Keras-style layers as ``torch.nn.Module``s, on Keras's channels-last data.

Argument names and defaults follow Keras. Layers with weights are lazy unless
given an ``input_shape``: they create their parameters on the first call, from
the input's channel count. Layers with an ``activation`` expose
``activation_name`` and ``forward_preactivation(x)``, which the training loop
uses to hand logits to a loss that wants them instead of applying a final
sigmoid/softmax twice.

Example:
    >>> import torch
    >>> from epochal import layers
    >>> net = layers.SequentialModule([
    ...     layers.Dense(64, activation="relu", input_shape=(20,)),
    ...     layers.Dropout(0.2),
    ...     layers.Dense(1, activation="sigmoid"),
    ... ])
    >>> net(torch.zeros(8, 20)).shape
    torch.Size([8, 1])
"""

from epochal.layers._activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from epochal.layers._attention import AdditiveAttention, Attention, MultiHeadAttention
from epochal.layers._conv import Conv1D, Conv2D, Conv3D
from epochal.layers._conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from epochal.layers._core import Activation, Dense, Dropout, Embedding, Flatten, Input, InputLayer
from epochal.layers._dryrun import is_built
from epochal.layers._masking import Masking
from epochal.layers._merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from epochal.layers._noise import (
    ActivityRegularization,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from epochal.layers._normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    UnitNormalization,
)
from epochal.layers._penalties import apply_constraints, regularization_loss
from epochal.layers._pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from epochal.layers._preprocessing import CategoryEncoding, Normalization, Rescaling, Resizing
from epochal.layers._recurrent import GRU, LSTM, SimpleRNN
from epochal.layers._reshaping import (
    Cropping1D,
    Cropping2D,
    Identity,
    Permute,
    RepeatVector,
    Reshape,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from epochal.layers._separable import (
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from epochal.layers._sequential import SequentialModule, ensure_built
from epochal.layers._wrappers import Bidirectional, Lambda, TimeDistributed

__all__ = [
    "Activation",
    "ActivityRegularization",
    "Add",
    "AdditiveAttention",
    "Attention",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "BatchNormalization",
    "Bidirectional",
    "CategoryEncoding",
    "Concatenate",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "Cropping1D",
    "Cropping2D",
    "Dense",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "Dot",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "GRU",
    "GaussianDropout",
    "GaussianNoise",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GroupNormalization",
    "Identity",
    "Input",
    "InputLayer",
    "LSTM",
    "Lambda",
    "LayerNormalization",
    "LeakyReLU",
    "Masking",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "Maximum",
    "Minimum",
    "MultiHeadAttention",
    "Multiply",
    "Normalization",
    "PReLU",
    "Permute",
    "ReLU",
    "RepeatVector",
    "Rescaling",
    "Reshape",
    "Resizing",
    "SeparableConv1D",
    "SeparableConv2D",
    "SequentialModule",
    "SimpleRNN",
    "Softmax",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "Subtract",
    "TimeDistributed",
    "UnitNormalization",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "add",
    "apply_constraints",
    "average",
    "concatenate",
    "dot",
    "ensure_built",
    "is_built",
    "maximum",
    "minimum",
    "multiply",
    "regularization_loss",
    "subtract",
]
