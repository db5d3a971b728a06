"""The defaults on small data: 40 mfeat samples (4 per class), 649 features.

For ten draws of the samples (drawn as in ``tests/test_quality.py``,
which tests draws 0-2): the training loss at the first and last
epoch (it must fall, not diverge), and leave-one-out accuracy of a
1-nearest-neighbour classifier and of a logistic regression on the codes
(``encoding_dim=10``, defaults otherwise) against the same on PCA's 10
components of the concatenated standardized views. ``tests/test_quality.py``
asserts the 1-NN comparison.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_small_data.py
"""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat


def draw(X, y, seed, per_class=4):
    rows = np.concatenate(
        [
            np.random.RandomState(seed).choice(np.flatnonzero(y == label), per_class, replace=False)
            for label in np.unique(y)
        ]
    )
    return {name: block[rows] for name, block in X.items()}, y[rows]


def standardized_concatenation(X):
    blocks = []
    for block in X.values():
        std = block.std(axis=0)
        blocks.append((block - block.mean(axis=0)) / np.where(std > 0, std, 1.0))
    return np.hstack(blocks)


def leave_one_out(classifier, Z, y):
    return cross_val_score(classifier, Z, y, cv=LeaveOneOut()).mean()


def main():
    X_all, y_all = load_mfeat(return_X_y=True)
    print("| draw | loss first -> last | 1-NN codes | 1-NN PCA | LR codes | LR PCA |")
    print("| --- | --- | --- | --- | --- | --- |")
    table = []
    for seed in range(10):
        X, y = draw(X_all, y_all, seed)
        ae = MultimodalAutoencoder(encoding_dim=10, random_state=0).fit(X)
        losses = np.asarray(ae.net_.history[:, "train_loss"])
        codes = ae.transform(X)
        pca = PCA(n_components=10, random_state=0).fit_transform(standardized_concatenation(X))
        scores = [
            leave_one_out(classifier, Z, y)
            for classifier in (KNeighborsClassifier(n_neighbors=1), LogisticRegression(max_iter=2000))
            for Z in (codes, pca)
        ]
        table.append(scores)
        print(f"| {seed} | {losses[0]:.2f} -> {losses[-1]:.2f} | "
              + " | ".join(f"{score:.3f}" for score in scores) + " |", flush=True)
    print("| mean | | " + " | ".join(f"{score:.3f}" for score in np.mean(table, axis=0)) + " |")


if __name__ == "__main__":
    main()
