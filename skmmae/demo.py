"""The main job: a multimodal code for the mfeat digits, chosen by grid search.

Run it with ``make demo`` or ``python -m skmmae.demo [--device cuda]``. On a
held-out split of :func:`skmmae.datasets.load_mfeat` it grid-searches the
code size of a ``MultimodalAutoencoder -> LogisticRegression`` pipeline,
then prints, for each code size, the test accuracy and the reconstruction
error beside PCA on the concatenated standardized views. With matplotlib
(the ``plot`` extra) it also writes a figure, the map of the test codes and
some test digits' ``pix`` view beside its reconstruction, to a PNG
(``--figure``), and prints its path.
"""

import argparse
import time

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from .autoencoder import MultimodalAutoencoder
from .datasets import load_mfeat

__all__ = ["main", "standardized_mse"]


def standardized_mse(X_true, X_rec, mean, scale):
    """Mean squared error over all features of all modalities, in standardized units.

    Parameters
    ----------
    X_true, X_rec : dict of str -> ndarray
        Data and its reconstruction, in original units.
    mean, scale : dict of str -> ndarray
        Per-feature statistics of the training part.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae.demo import standardized_mse
    >>> X = {"a": np.array([[0.0, 2.0]])}
    >>> R = {"a": np.array([[1.0, 2.0]])}
    >>> standardized_mse(X, R, {"a": np.zeros(2)}, {"a": np.array([2.0, 1.0])})
    0.125
    """
    errors = [((X_true[m] - X_rec[m]) / scale[m]) ** 2 for m in X_true]
    return float(np.concatenate(errors, axis=1).mean())


def _concat_standardized(X, mean, scale):
    return np.concatenate([(X[m] - mean[m]) / scale[m] for m in X], axis=1)


def _evaluate_autoencoder(pipe, X_test, y_test, mean, scale):
    autoencoder = pipe[0]
    X_rec = autoencoder.inverse_transform(autoencoder.transform(X_test))
    return pipe.score(X_test, y_test), standardized_mse(X_test, X_rec, mean, scale)


def _evaluate_pca(dim, X_train, y_train, X_test, y_test, mean, scale, seed):
    train = _concat_standardized(X_train, mean, scale)
    test = _concat_standardized(X_test, mean, scale)
    pca = PCA(n_components=dim, random_state=seed).fit(train)
    classifier = LogisticRegression(max_iter=2000).fit(pca.transform(train), y_train)
    codes = pca.transform(test)
    recon = float(((pca.inverse_transform(codes) - test) ** 2).mean())
    return classifier.score(codes, y_test), recon


def _write_figure(path, autoencoder, X_test, y_test, n=8):
    """The code map and ``n`` digits' pix view against its reconstruction, as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: no window, no global state

    from .plotting import plot_codes

    figure = Figure(figsize=(12, 5), layout="constrained")
    codes, digits = figure.subplots(1, 2, width_ratios=(1, 1.3))
    plot_codes(autoencoder, X_test, labels=y_test, ax=codes, s=8)
    codes.set_title("test codes (PCA of the code), by digit")
    given = X_test[:n]
    rebuilt = autoencoder.inverse_transform(autoencoder.transform(given))["pix"]
    rows = [np.asarray(block)[:n].reshape(-1, 16, 15) for block in (given["pix"], rebuilt)]
    gap = np.full((2 * 16 + 1, 1), np.nan)
    tiles = [np.vstack([top, np.full((1, 15), np.nan), bottom]) for top, bottom in zip(*rows)]
    digits.imshow(np.hstack([part for tile in tiles for part in (tile, gap)]), cmap="gray_r")
    digits.set_title("the pix view of test digits (top) and their reconstructions (bottom)")
    digits.set_axis_off()
    figure.savefig(path, dpi=100)
    return path


def main(argv=None):
    """Run the demo; ``argv`` as on the command line (see ``--help``).

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    rows : list of dict
        One row of the printed table per method and code size.

    Examples
    --------
    >>> import contextlib, io
    >>> from skmmae.demo import main
    >>> with contextlib.redirect_stdout(io.StringIO()) as printed:
    ...     rows = main(["--dims", "2", "--max-epochs", "1", "--n-samples", "200",
    ...                  "--cv", "2", "--quiet", "--figure", ""])
    >>> [(row["method"], row["dim"]) for row in rows]
    [('MultimodalAutoencoder', 2), ('PCA (concatenated views)', 2)]
    >>> "test accuracy" in printed.getvalue()
    True
    """
    parser = argparse.ArgumentParser(prog="python -m skmmae.demo", description=__doc__)
    parser.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda'")
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 32], help="code sizes")
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=None, help="use a random subset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    parser.add_argument("--figure", default="skmmae_demo.png",
                        help="where to write the figure (PNG; needs matplotlib); '' for none")
    args = parser.parse_args(argv)
    say = (lambda *a: None) if args.quiet else print
    start = time.perf_counter()

    X, y = load_mfeat(return_X_y=True)
    if args.n_samples is not None:
        keep, _ = train_test_split(
            np.arange(len(y)), train_size=args.n_samples, stratify=y, random_state=args.seed
        )
        X, y = X[np.sort(keep)], y[np.sort(keep)]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=args.seed
    )
    mean = {m: block.mean(axis=0) for m, block in X_train.items()}
    scale = {m: np.where(block.std(axis=0) > 0, block.std(axis=0), 1.0) for m, block in X_train.items()}
    say(f"mfeat: {len(y_train)} training and {len(y_test)} test samples, modalities "
        + ", ".join(f"{m} ({b.shape[1]})" for m, b in X_train.items()))

    pipe = make_pipeline(
        MultimodalAutoencoder(max_epochs=args.max_epochs, device=args.device, random_state=args.seed),
        LogisticRegression(max_iter=2000),
    )
    search = GridSearchCV(
        pipe,
        {"multimodalautoencoder__encoding_dim": args.dims},
        cv=args.cv,
        verbose=0 if args.quiet else 3,
    )
    say(f"GridSearchCV over encoding_dim {args.dims}, {args.cv}-fold, {args.max_epochs} epochs a fit:")
    search.fit(X_train, y_train)
    best_dim = search.best_params_["multimodalautoencoder__encoding_dim"]
    say(f"best encoding_dim by cross-validated accuracy: {best_dim}")

    rows = []
    for dim in args.dims:
        if dim == best_dim:
            fitted = search.best_estimator_
        else:
            say(f"fitting encoding_dim={dim} on the whole training part for the table")
            fitted = clone(pipe).set_params(multimodalautoencoder__encoding_dim=dim)
            fitted.fit(X_train, y_train)
        accuracy, recon = _evaluate_autoencoder(fitted, X_test, y_test, mean, scale)
        rows.append({"method": "MultimodalAutoencoder", "dim": dim, "accuracy": accuracy, "recon_mse": recon})
        accuracy, recon = _evaluate_pca(dim, X_train, y_train, X_test, y_test, mean, scale, args.seed)
        rows.append({"method": "PCA (concatenated views)", "dim": dim, "accuracy": accuracy, "recon_mse": recon})

    print(f"\n{'method':<26}{'dim':>5}{'test accuracy':>15}{'recon MSE':>11}")
    for row in rows:
        print(f"{row['method']:<26}{row['dim']:>5}{row['accuracy']:>15.3f}{row['recon_mse']:>11.3f}")
    print(f"(recon MSE: standardized units, all features of the test part; device "
          f"{search.best_estimator_[0].device_}; {time.perf_counter() - start:.0f} s)")
    if args.figure:
        try:
            path = _write_figure(args.figure, search.best_estimator_[0], X_test, y_test)
        except ImportError:
            print("no figure: it needs matplotlib (pip install 'skmmae[plot]')")
        else:
            print(f"figure: {path}")
    return rows


if __name__ == "__main__":
    main()
