"""Text classification with a Transformer block, as Keras's example writes it.

The Keras example "Text classification with Transformer" (a custom
``TransformerBlock`` layer: MultiHeadAttention, LayerNormalization, a Dense
feed-forward network, residual adds; then GlobalAveragePooling1D), on
generated token sequences instead of IMDB reviews: each sequence (4 to 10
tokens, padded with ``keras.utils.pad_sequences``) holds the tokens 1 and 2
once among random others, and is labelled 1 when the 1 comes first -- an
order that only attention over positions can see.
Only the imports differ from the Keras program.

Run it: ``python examples/keras_transformer_classifier.py`` (a few seconds on a CPU).
"""

import numpy as np

from epochal import keras
from epochal.keras import layers, ops


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def make_sequences(count, maxlen, rng):
    """Token lists of 4 to ``maxlen`` tokens holding 1 and 2 once each; label 1 when 1 comes first."""
    sequences, labels = [], []
    for _ in range(count):
        tokens = list(rng.integers(3, vocab_size, size=rng.integers(4, maxlen + 1)))
        first, second = rng.choice(len(tokens), size=2, replace=False)
        tokens[first], tokens[second] = 1, 2
        sequences.append(tokens)
        labels.append(int(first < second))
    return sequences, np.array(labels)


vocab_size = 20  # Token ids 1..19; 0 is kept for padding, as in Keras's text examples
maxlen = 10
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x_train, y_train = make_sequences(2000, maxlen, rng)
x_val, y_val = make_sequences(500, maxlen, rng)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

embed_dim = 16  # Embedding size for each token
num_heads = 2  # Number of attention heads
ff_dim = 16  # Hidden layer size in feed forward network inside transformer

inputs = layers.Input(shape=(maxlen,))
embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
x = embedding_layer(inputs)
transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
x = transformer_block(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dropout(0.1)(x)
x = layers.Dense(20, activation="relu")(x)
x = layers.Dropout(0.1)(x)
outputs = layers.Dense(2, activation="softmax")(x)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(
    x_train, y_train, batch_size=32, epochs=8, validation_data=(x_val, y_val), verbose=2
)

probabilities = model.predict(x_val, verbose=0)
print("predictions shape:", probabilities.shape)
print(f"validation accuracy: {history.history['val_accuracy'][-1]:.4f}")
