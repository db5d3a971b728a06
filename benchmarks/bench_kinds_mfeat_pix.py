"""mfeat's pixel view as images: conv Image modality against the continuous default.

What is compared
----------------
mfeat (all six views, 649 features), stratified 70/30 split
(``random_state=0``), ``MultimodalAutoencoder(encoding_dim=10,
max_epochs=--epochs, random_state=0)`` with all other parameters at their
defaults, fitted twice:

(a) continuous  every view a ``Continuous`` modality (the default): ``pix``
                is a flat block of 240 features, MLP encoder and decoder.
(b) pix image   ``modalities={"pix": "image"}`` with ``pix`` reshaped to
                (n, 15, 16) images (row-major, as the UCI files store them).
                Its values are 0..6, so ``Image``'s ``pixel_loss="auto"``
                resolves to per-pixel standardized MSE: the same loss as (a)
                in the same units, only the architecture differs
                (convolutions with ``channels=(16, 32)`` before the MLP).

For each: the accuracy of ``LogisticRegression(max_iter=2000)`` trained on
the codes of the training part and scored on those of the test part, the
reconstruction MSE over all 649 features of the test part in units
standardized with the training part's per-feature mean and standard
deviation (the image reconstruction is flattened back to 240 features), the
same error over the 240 ``pix`` features alone ("pix MSE"), and the wall time of the autoencoder's ``fit`` (after a 1-epoch warm-up fit).

Usage::

    python benchmarks/bench_kinds_mfeat_pix.py            # 100 epochs
    python benchmarks/bench_kinds_mfeat_pix.py --epochs 5 # a quick check

On a CPU shared with other work, set ``OMP_NUM_THREADS=1``: oversubscribed
torch threads made the fits ten times slower on a 2-core VM.
"""

import argparse
import platform
import time

import numpy as np
import sklearn
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import skmmae
from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat
from skmmae.demo import standardized_mse

__all__ = ["main"]

PIX_SHAPE = (15, 16)


def as_images(X):
    """The views as a dict, ``pix`` reshaped to (n, 15, 16) images."""
    data = dict(X)
    data["pix"] = data["pix"].reshape(-1, *PIX_SHAPE)
    return data


def flatten_pix(X):
    """The inverse of :func:`as_images`, for the reconstruction error."""
    data = dict(X)
    data["pix"] = data["pix"].reshape(len(data["pix"]), -1)
    return data


def evaluate(name, autoencoder, train, test, y_train, y_test, flat_test, mean, scale):
    """Fit, then test accuracy of a logistic regression on codes and recon MSE."""
    # A 1-epoch warm-up fit first, so that one-off costs (lazy imports, kernel
    # selection, CUDA context) are not charged to the timed fit.
    clone(autoencoder).set_params(max_epochs=1).fit(train)
    start = time.perf_counter()
    autoencoder.fit(train)
    fit_seconds = time.perf_counter() - start
    codes_train, codes_test = autoencoder.transform(train), autoencoder.transform(test)
    classifier = LogisticRegression(max_iter=2000).fit(codes_train, y_train)
    reconstruction = flatten_pix(autoencoder.inverse_transform(codes_test))
    return {
        "setting": name,
        "accuracy": classifier.score(codes_test, y_test),
        "recon_mse": standardized_mse(flat_test, reconstruction, mean, scale),
        "pix_mse": standardized_mse(
            {"pix": flat_test["pix"]}, {"pix": reconstruction["pix"]}, mean, scale
        ),
        "fit_s": fit_seconds,
    }


def main(argv=None):
    """Run both fits and print one row each; returns the rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100, help="max_epochs of each fit")
    parser.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda'")
    args = parser.parse_args(argv)

    X, y = load_mfeat(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    flat_train, flat_test = dict(X_train), dict(X_test)
    mean = {m: block.mean(axis=0) for m, block in flat_train.items()}
    # Constant training features keep scale 1, as the demo does.
    scale = {
        m: np.where(block.std(axis=0) > 0, block.std(axis=0), 1.0)
        for m, block in flat_train.items()
    }

    def autoencoder(**params):
        return MultimodalAutoencoder(
            encoding_dim=10, max_epochs=args.epochs, device=args.device, random_state=0, **params
        )

    common = (y_train, y_test, flat_test, mean, scale)
    rows = [
        evaluate("(a) all continuous", autoencoder(), flat_train, flat_test, *common),
        evaluate(
            "(b) pix as 15x16 image",
            autoencoder(modalities={"pix": "image"}),
            as_images(flat_train),
            as_images(flat_test),
            *common,
        ),
    ]
    print(f"mfeat: {len(y_train)} train / {len(y_test)} test, encoding_dim=10, "
          f"{args.epochs} epochs, skmmae {skmmae.__version__}, torch {torch.__version__}, "
          f"scikit-learn {sklearn.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'setting':<26}{'test accuracy':>15}{'recon MSE':>11}{'pix MSE':>9}{'fit (s)':>9}")
    for row in rows:
        print(f"{row['setting']:<26}{row['accuracy']:>15.3f}{row['recon_mse']:>11.3f}"
              f"{row['pix_mse']:>9.3f}{row['fit_s']:>9.1f}")
    return rows


if __name__ == "__main__":
    main()
