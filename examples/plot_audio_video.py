"""
Speech and video paired with text
=================================

Two more pairings shipped with the package: spoken digits (log-mel
spectrograms made with espeak-ng) with their words, and clips of moving
digits with captions such as "seven left". Each model predicts the text
from the other modality alone.
"""

import matplotlib.pyplot as plt
import numpy as np

from skmmae import MultimodalAutoencoder
from skmmae.datasets import decode_captions, decode_words, load_moving_digits, load_spoken_digits

X, _ = load_spoken_digits(return_X_y=True)
rows = np.random.RandomState(0).permutation(len(X["text"]))
train, test = X[rows[:800]], X[rows[800:]]
speech = MultimodalAutoencoder(
    encoding_dim=10, modalities={"audio": "timeseries", "text": "tokens"}, max_epochs=15,
    random_state=0,
).fit(train)
heard = decode_words(speech.predict_modality({"audio": test["audio"]}, "text"))
print(f"words right from speech alone: {np.mean(heard == decode_words(test['text'])):.2f}")

# %%
clips, _ = load_moving_digits(return_X_y=True)
clips = clips[:600]
video = MultimodalAutoencoder(
    encoding_dim=10, modalities={"video": "video", "caption": "tokens"}, max_epochs=3,
    batch_size=32, random_state=0,
).fit(clips[:500])
said = decode_captions(video.predict_modality({"video": clips["video"][500:]}, "caption"))
truth = decode_captions(clips["caption"][500:])
direction = np.mean([a.split()[-1:] == b.split()[-1:] for a, b in zip(said, truth)])
print(f"motion named right from the clip alone, after 3 epochs: {direction:.2f}")
digit = np.mean([a.split()[:1] == b.split()[:1] for a, b in zip(said, truth)])
# The clips' codes carry the motion better than the digit's shape.
print(f"digit named right: {digit:.2f}")

# %%
# A spectrogram and a clip, with the text each model read from it.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3))
left.imshow(test["audio"][0], aspect="auto", origin="lower")
left.set_title(f"heard: '{heard[0]}'")
right.imshow(np.hstack(list(clips["video"][500])), cmap="gray_r")
right.set_title(f"read: '{said[0]}' (true: '{truth[0]}')")
for ax in (left, right):
    ax.set_axis_off()
plt.show()
