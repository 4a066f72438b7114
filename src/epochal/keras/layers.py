"""Keras's layers: epochal's channels-last layers under Keras's names.

Images are ``(N, height, width, channels)`` and sequences ``(N, steps,
features)``, as in Keras; arguments and defaults follow Keras. Layers are
``torch.nn.Module``s, so they also work inside any torch model.

Example:
    >>> from epochal import keras
    >>> from epochal.keras import layers
    >>> model = keras.Sequential([
    ...     keras.Input(shape=(28, 28, 1)),
    ...     layers.Conv2D(16, 3, activation="relu"),
    ...     layers.MaxPooling2D(),
    ...     layers.Flatten(),
    ...     layers.Dense(10, activation="softmax"),
    ... ])
"""

from __future__ import annotations

from epochal.keras._layer import Layer
from epochal.keras._symbolic import Input
from epochal.keras._torch_module import TorchModuleWrapper
from epochal.keras._unavailable import unavailable
from epochal.layers import (
    ELU,
    GRU,
    LSTM,
    Activation,
    ActivityRegularization,
    Add,
    AdditiveAttention,
    Attention,
    Average,
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    BatchNormalization,
    Bidirectional,
    CategoryEncoding,
    Concatenate,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    Cropping1D,
    Cropping2D,
    Dense,
    DepthwiseConv1D,
    DepthwiseConv2D,
    Dot,
    Dropout,
    Embedding,
    Flatten,
    GaussianDropout,
    GaussianNoise,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    GroupNormalization,
    Identity,
    InputLayer,
    Lambda,
    LayerNormalization,
    LeakyReLU,
    Masking,
    Maximum,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
    Minimum,
    MultiHeadAttention,
    Multiply,
    Normalization,
    Permute,
    PReLU,
    ReLU,
    RepeatVector,
    Rescaling,
    Reshape,
    Resizing,
    SeparableConv1D,
    SeparableConv2D,
    SimpleRNN,
    Softmax,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
    Subtract,
    TimeDistributed,
    UnitNormalization,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)

# Keras's alternative spellings.
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
AvgPool3D = AveragePooling3D
MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
MaxPool3D = MaxPooling3D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalMaxPool3D = GlobalMaxPooling3D
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D

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
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
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
    "Convolution1D",
    "Convolution1DTranspose",
    "Convolution2D",
    "Convolution2DTranspose",
    "Convolution3D",
    "Convolution3DTranspose",
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
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GroupNormalization",
    "Identity",
    "Input",
    "InputLayer",
    "LSTM",
    "Lambda",
    "Layer",
    "LayerNormalization",
    "LeakyReLU",
    "Masking",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
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
    "SeparableConvolution1D",
    "SeparableConvolution2D",
    "SimpleRNN",
    "Softmax",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "Subtract",
    "TimeDistributed",
    "TorchModuleWrapper",
    "UnitNormalization",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "add",
    "average",
    "concatenate",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]

# Keras 3's public layer names epochal.keras does not have, with what to do instead.
_WRITE_IT = "wrap a torch.nn.Module in a Lambda layer or write it as a keras.layers.Layer"
_AUGMENT = (
    "augment the data before fit (for example with torchvision.transforms.v2 in a Dataset), "
    "or write the augmentation as a keras.layers.Layer that acts only in training"
)
_ENCODE = "encode the data before fit (for example with scikit-learn or a vocabulary dict)"
_BACKEND = "it belongs to another Keras backend; epochal runs torch: use the torch.nn.Module itself"
_CELLS = (
    "use LSTM, GRU or SimpleRNN (torch's fused kernels), or wrap a torch.nn.Module in a "
    "Lambda layer or write the loop as a keras.layers.Layer"
)
NOT_AVAILABLE: dict[str, str] = {
    **dict.fromkeys(
        ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "EinsumDense", "GroupQueryAttention",
         "SpectralNormalization", "AlphaDropout", "Cropping3D", "UpSampling3D", "ZeroPadding3D",
         "Discretization", "MelSpectrogram", "STFTSpectrogram", "Pipeline", "InputSpec", "Wrapper"],
        _WRITE_IT,
    ),
    **dict.fromkeys(
        ["RNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells"], _CELLS
    ),
    **dict.fromkeys(
        ["AugMix", "AutoContrast", "CenterCrop", "Equalization", "MaxNumBoundingBoxes", "MixUp",
         "RandAugment", "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter",
         "RandomContrast", "RandomCrop", "RandomElasticTransform", "RandomErasing", "RandomFlip",
         "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPerspective",
         "RandomPosterization", "RandomRotation", "RandomSaturation", "RandomSharpness",
         "RandomShear", "RandomTranslation", "RandomZoom", "Solarization"],
        _AUGMENT,
    ),
    **dict.fromkeys(
        ["HashedCrossing", "Hashing", "IntegerLookup", "StringLookup", "TextVectorization"], _ENCODE
    ),
    **dict.fromkeys(["TFSMLayer", "JaxLayer", "FlaxLayer"], _BACKEND),
    "serialize": "use layer.get_config() (and keras.saving to save whole models)",
    "deserialize": "use the layer class's from_config(config) (and keras.saving to load models)",
}  # fmt: skip


def __getattr__(name: str) -> object:
    if name in NOT_AVAILABLE:
        raise unavailable("keras.layers", name, NOT_AVAILABLE[name])
    raise AttributeError(f"module 'epochal.keras.layers' has no attribute {name!r}")
