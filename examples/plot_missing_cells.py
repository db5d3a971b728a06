"""
Missing cells, learned around and imputed
=========================================

mfeat: six views of 2,000 handwritten digits. A third of the cells of every
view are hidden at random (NaN), in the training and the test digits alike.
The autoencoder trains on what is left, scoring only observed cells; its
codes still classify the digits, and
:func:`~skmmae.imputation.impute` fills every hidden cell from the code of
all that a digit has, in every view. sklearn's ``KNNImputer`` is the
comparison.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat
from skmmae.imputation import impute

X, y = load_mfeat(return_X_y=True)
train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
rng = np.random.default_rng(0)
hidden = {}
for name, block in X.items():
    # Standardized on the training digits, so that errors compare across views.
    block = (block - block[train].mean(axis=0)) / (block[train].std(axis=0) + 1e-12)
    X[name] = block
    hidden[name] = np.where(rng.random(block.shape) < 0.3, np.nan, block)


def rows(data, index):
    return {name: block[index] for name, block in data.items()}


# input_dropout hides more observed cells in training, as if missing, and
# scores them: the model learns to fill cells in (MultimodalImputer's
# estimator does the same).
ae = MultimodalAutoencoder(encoding_dim=32, input_dropout=0.3, max_epochs=40, random_state=0)
ae.fit(rows(hidden, train))

# %%
# Codes of digits with a third of their cells missing still classify them:
classifier = LogisticRegression(max_iter=2000).fit(ae.transform(rows(hidden, train)), y[train])
print("accuracy on the test codes:", classifier.score(ae.transform(rows(hidden, test)), y[test]))

# %%
# The hidden test cells, filled by the model and by KNNImputer on the
# concatenated views; the error is in standardized units.
filled = impute(ae, rows(hidden, test))
knn = KNNImputer().fit(np.hstack(list(rows(hidden, train).values())))
knn_filled = knn.transform(np.hstack(list(rows(hidden, test).values())))
truth = np.hstack(list(rows(X, test).values()))
lost = np.isnan(np.hstack(list(rows(hidden, test).values())))
model_error = np.mean((np.hstack(list(filled.values()))[lost] - truth[lost]) ** 2)
knn_error = np.mean((knn_filled[lost] - truth[lost]) ** 2)
print(f"MSE on the hidden cells: skmmae {model_error:.3f}, KNNImputer {knn_error:.3f}")

# %%
# One digit's 15 x 16 pixel view: as it is, as the model saw it, and
# filled in.
digit = 0
views = (rows(X, test)["pix"][digit], rows(hidden, test)["pix"][digit], filled["pix"][digit])
fig, axes = plt.subplots(1, 3, figsize=(7, 3))
for ax, values, title in zip(axes, views, ("complete", "a third hidden", "filled")):
    ax.imshow(values.reshape(16, 15), cmap="gray_r")
    ax.set_title(title)
    ax.axis("off")
plt.show()
