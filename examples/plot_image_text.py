"""
Images to words, and words to images
====================================

Sklearn's 8x8 digit images, each paired with its digit's word as character
tokens. One code serves both: the model spells the word of an image it has
not seen, and draws a digit from a word alone.
"""

import matplotlib.pyplot as plt
import numpy as np

from skmmae import MultimodalAutoencoder
from skmmae.datasets import decode_words, load_digits_words

X, y = load_digits_words(return_X_y=True)
train, test = X[:1200], X[1200:]
ae = MultimodalAutoencoder(
    encoding_dim=10, modalities={"image": "image", "text": "tokens"}, max_epochs=20,
    random_state=0,
).fit(train)

words = decode_words(ae.predict_modality({"image": test["image"]}, "text"))
truth = decode_words(test["text"])
print(f"words spelled right from the image alone: {np.mean(words == truth):.2f}")

# %%
# Each word, drawn: the image predicted from the word's tokens alone.
one_of_each = [int(np.flatnonzero(y[1200:] == digit)[0]) for digit in range(10)]
drawn = ae.predict_modality({"text": test["text"][one_of_each]}, "image")
fig, axes = plt.subplots(1, 10, figsize=(10, 1.6))
for ax, picture, word in zip(axes, drawn, truth[one_of_each]):
    ax.imshow(picture.reshape(8, 8), cmap="gray_r")
    ax.set_title(word, fontsize=9)
    ax.set_axis_off()
plt.show()
