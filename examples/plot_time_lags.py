"""
Time lags between two series, estimated and undone
==================================================

:func:`~skmmae.datasets.make_lagged`: two series of one hidden signal per
sample, ``"b"`` at half the rate of ``"a"``, delayed behind it by a lag of
up to 16 steps drawn per sample, and recordings of 40 to 64 steps (NaN
after their ends). With ``lags=Lags(reference="a")`` the autoencoder
estimates each sample's lag and reads ``"b"`` shifted back by it; a
lag-ignorant model with the same encoders is the comparison.
"""

import matplotlib.pyplot as plt
import numpy as np

from skmmae import MultimodalAutoencoder
from skmmae.datasets import make_lagged
from skmmae.lags import Lags, shift_series

lagged = make_lagged(1000, max_lag=16, min_length=40, random_state=0)
X, true_lags = lagged.data, lagged.lags
train, test = slice(0, 700), slice(700, None)
kinds = {"a": "timeseries", "b": "timeseries"}

aware = MultimodalAutoencoder(modalities=kinds, lags=Lags(reference="a"), max_epochs=40, random_state=0)
aware.fit(X[train])
ignorant = MultimodalAutoencoder(modalities=kinds, max_epochs=40, random_state=0).fit(X[train])

# %%
# The lags found in the test samples, in steps of ``"a"``:
found = aware.estimate_lags(X[test])["b"]
print(f"mean absolute error of the lags: {np.mean(np.abs(found - true_lags[test])):.2f} steps")

# %%
# ``"b"`` predicted from ``"a"``: the lag-aware model predicts it in the
# frame of ``"a"``, and the estimated lag puts it where it was recorded
# (in steps of ``"b"``, half those of ``"a"``). The lag-ignorant model
# cannot know where the delayed series sits.
from_a = {"a": X["a"][test]}
recorded_b = X["b"][test]
predictions = {
    "lag-aware": shift_series(aware.predict_modality(from_a, "b"), -found / 2),
    "lag-ignorant": ignorant.predict_modality(from_a, "b"),
}
for name, predicted in predictions.items():
    error = np.nanmean((predicted - recorded_b) ** 2) / np.nanvar(X["b"][train])
    print(f"{name}: MSE of b from a over its recorded steps, in units of its variance: {error:.3f}")

# %%
# Left: the lags found against the true ones. Right: one test sample's
# ``"b"`` as recorded, and as each model predicts it from ``"a"``.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.scatter(true_lags[test], found, s=8, alpha=0.5)
left.plot([-16, 16], [-16, 16], color="grey", linewidth=1)
left.set(xlabel="true lag (steps of a)", ylabel="estimated lag", title="estimate_lags")
sample = int(np.flatnonzero(np.abs(true_lags[test]) >= 10)[0])  # a large lag
right.plot(recorded_b[sample, 0], color="black", label="b as recorded")
for name, predicted in predictions.items():
    right.plot(predicted[sample, 0], label=f"{name} prediction")
right.set(xlabel="step of b", title=f"one test sample (lag {true_lags[test][sample]})")
right.legend()
fig.tight_layout()
plt.show()
