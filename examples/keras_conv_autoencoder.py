"""Convolutional denoising autoencoder (Conv2D / Conv2DTranspose), as Keras's guide writes it.

The Keras example "Convolutional autoencoder for image denoising", shrunk to
scikit-learn's bundled 8x8 digits: noisy images in, clean images out. Only
the imports differ from the Keras program.

Run it: ``python examples/keras_conv_autoencoder.py`` (a few seconds on a CPU).
"""

import numpy as np
from sklearn.datasets import load_digits

from epochal import keras
from epochal.keras import layers


def noise(array, rng):
    """Add Gaussian noise to each image, clipped to [0, 1]."""
    noisy = array + 0.4 * rng.normal(size=array.shape)
    return np.clip(noisy, 0.0, 1.0).astype("float32")


keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)

images = (load_digits().images / 16.0).astype("float32").reshape(-1, 8, 8, 1)
train_data, test_data = images[:1500], images[1500:]
noisy_train_data, noisy_test_data = noise(train_data, rng), noise(test_data, rng)

input = layers.Input(shape=(8, 8, 1))

# Encoder
x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(input)
x = layers.MaxPooling2D((2, 2), padding="same")(x)
x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
x = layers.MaxPooling2D((2, 2), padding="same")(x)

# Decoder
x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)

autoencoder = keras.Model(input, x)
autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
autoencoder.summary()

history = autoencoder.fit(
    x=noisy_train_data,
    y=train_data,
    epochs=10,
    batch_size=64,
    shuffle=True,
    validation_data=(noisy_test_data, test_data),
    verbose=2,
)

predictions = autoencoder.predict(noisy_test_data, verbose=0)
noisy_mse = float(np.mean((noisy_test_data - test_data) ** 2))
denoised_mse = float(np.mean((predictions - test_data) ** 2))
loss, val_loss = history.history["loss"], history.history["val_loss"]
print(f"reconstruction loss: first epoch {loss[0]:.4f}, last epoch {loss[-1]:.4f}")
print(f"validation loss: first epoch {val_loss[0]:.4f}, last epoch {val_loss[-1]:.4f}")
print("predictions shape:", predictions.shape)
print(f"test MSE to the clean images: noisy {noisy_mse:.4f}, denoised {denoised_mse:.4f}")
