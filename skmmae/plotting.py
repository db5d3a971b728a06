"""Figures of a fitted :class:`~skmmae.MultimodalAutoencoder`, drawn with matplotlib.

matplotlib is an optional extra (``pip install skmmae[plot]``), imported
only when a function here is called. Every function takes ``ax=`` (where to
draw; a new figure when None), returns what it drew on (the Axes, or the
Figure for grids), and never calls ``show()``.

X is given in any input form the estimator takes; the functions that need
one modality's values find them by name, whatever the form.
"""

import numpy as np

from ._docstrings import fill_doc
from ._inference import loss_totals
from ._validation import split_modalities

__all__ = [
    "plot_codes",
    "plot_prediction",
    "plot_reconstruction_error",
    "plot_reconstructions",
    "plot_training",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "skmmae.plotting needs matplotlib, an optional extra: "
            "pip install 'skmmae[plot]' (or pip install matplotlib)."
        ) from error
    return plt


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    return ax


def _blocks(X):
    """X (any input form) as a dict of per-modality arrays."""
    data, _ = split_modalities(X)
    return {name: np.asarray(block) for name, block in data.items()}


def _modality(estimator, name):
    if name not in estimator.modalities_:
        raise ValueError(
            f"{name!r} is not a fitted modality; the fitted modalities are "
            f"{list(estimator.modalities_)}."
        )
    return estimator.modalities_[name]


@fill_doc
def plot_training(estimator, ax=None):
    """Training (and validation) loss per epoch, and each modality's, from the history.

    The total is the loss training minimizes (the weighted mean of the
    modalities' losses, plus the KL term in variational mode); each
    modality's own loss is drawn dashed.

    Parameters
    ----------
    %(plot_estimator)s
    %(plot_ax)s

    %(plot_returns_axes)s

    Examples
    --------
    The losses of four epochs on one random modality:

    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.plotting import plot_training
    >>> X = {"a": np.random.default_rng(0).normal(size=(40, 3))}
    >>> ae = MultimodalAutoencoder(2, max_epochs=4, random_state=0).fit(X)
    >>> ax = plot_training(ae)
    >>> [line.get_label() for line in ax.get_lines()]
    ['training loss', 'a']
    """
    rows = [row for row in estimator.net_.history if "train_loss" in row]
    if not rows and "epsilon" in estimator.net_.history[-1]:
        raise ValueError(
            "A private fit keeps no training losses (they are statistics of the private "
            "data); its history holds the epsilon spent per epoch instead."
        )
    ax = _axes(ax)
    epochs = [row["epoch"] for row in rows]
    ax.plot(epochs, [row["train_loss"] for row in rows], marker=".", label="training loss")
    if rows and "valid_loss" in rows[0]:
        ax.plot(epochs, [row["valid_loss"] for row in rows], marker=".", label="validation loss")
    for name in rows[0].get("train_losses", {}) if rows else ():
        losses = [row["train_losses"][name] for row in rows]
        ax.plot(epochs, losses, linestyle="--", linewidth=1, label=str(name))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    return ax


@fill_doc
def plot_codes(estimator, X, labels=None, projection=None, ax=None, **scatter_kwargs):
    """The codes of X on a plane, coloured by a label.

    Parameters
    ----------
    %(plot_estimator)s
    %(plot_X)s
    labels : array-like of shape (n_samples,), default=None
        Colours the points (a legend entry per distinct label).
    projection : object with ``fit_transform``, default=None
        Maps the codes to 2-D, e.g. ``sklearn.manifold.TSNE()``. None: the
        codes themselves when they have 2 dimensions (or 1, against zero),
        else their first two principal components.
    %(plot_ax_scatter)s

    %(plot_returns_axes)s

    Examples
    --------
    Penguins placed by their two-dimensional codes, coloured by species:

    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.datasets import load_penguins
    >>> from skmmae.plotting import plot_codes
    >>> X, species = load_penguins(return_X_y=True)
    >>> ax = plot_codes(MultimodalAutoencoder(2, max_epochs=2).fit(X), X, labels=species)
    >>> len(ax.collections)  # one set of points per species
    3
    """
    ax = _axes(ax)
    codes = estimator.transform(X)
    if projection is not None:
        plane = np.asarray(projection.fit_transform(codes))
    elif codes.shape[1] <= 2:
        plane = np.column_stack([codes, np.zeros((len(codes), 2 - codes.shape[1]))])
    else:
        from sklearn.decomposition import PCA

        plane = PCA(n_components=2).fit_transform(codes)
    if labels is None:
        ax.scatter(plane[:, 0], plane[:, 1], **scatter_kwargs)
    else:
        labels = np.asarray(labels)
        for label in np.unique(labels):
            chosen = labels == label
            ax.scatter(plane[chosen, 0], plane[chosen, 1], label=str(label), **scatter_kwargs)
        ax.legend(title="label", fontsize="small")
    names = ("code 1", "code 2") if projection is None and codes.shape[1] <= 2 else ("1st", "2nd")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    return ax


def _as_pictures(values, modality):
    """Samples of an image or video modality as 2-D pictures (H, W) or (H, W, 3)."""
    values = modality.validate(values)  # (n, C, H, W) or (n, C, T, H, W), model layout
    if values.ndim == 5:  # clips: the frames side by side
        values = np.concatenate(list(np.moveaxis(values, 2, 0)), axis=-1)
    if values.shape[1] == 1:
        return values[:, 0]
    return np.moveaxis(values[:, :3], 1, -1).clip(0, 1)


@fill_doc
def plot_reconstructions(estimator, X, modality, n=8, ax=None):
    """Original samples of an image or video modality above their reconstructions.

    Parameters
    ----------
    %(plot_estimator)s
    X : dict, SliceDict, DataFrame or array-like
        Data in a form the estimator takes; its first ``n`` samples are drawn.
    modality : str
        An image or video modality. Clips are drawn as strips of frames.
    n : int, default=8
        Number of samples.
    ax : array of matplotlib Axes of shape (2, n), default=None
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.datasets import load_digits_words
    >>> from skmmae.plotting import plot_reconstructions
    >>> X, y = load_digits_words(return_X_y=True)
    >>> kinds = {"image": "image", "text": "tokens"}
    >>> ae = MultimodalAutoencoder(8, modalities=kinds, max_epochs=2, random_state=0).fit(X[:100])
    >>> fig = plot_reconstructions(ae, X[:100], "image", n=4)
    >>> sum(len(a.images) for a in fig.axes)
    8
    """
    kind = _modality(estimator, modality)
    if kind.kind not in ("image", "video"):
        raise ValueError(
            f"plot_reconstructions draws image and video modalities; {modality!r} is "
            f"{kind.kind!r}. Use plot_reconstruction_error for other kinds."
        )
    blocks = _blocks(X)
    rows = {name: block[:n] for name, block in blocks.items()}
    rebuilt = _blocks(estimator.inverse_transform(estimator.transform(rows)))
    originals = _as_pictures(rows[modality], kind)
    reconstructions = _as_pictures(rebuilt[modality], kind)
    count = len(originals)
    if ax is None:
        fig, ax = _pyplot().subplots(2, count, figsize=(1.2 * count, 2.6), squeeze=False)
    ax = np.asarray(ax).reshape(2, count)
    for column in range(count):
        for row, pictures in enumerate((originals, reconstructions)):
            axis = ax[row, column]
            axis.imshow(pictures[column], cmap="gray" if pictures.ndim == 3 else None)
            axis.set_xticks([])
            axis.set_yticks([])
    ax[0, 0].set_ylabel("original")
    ax[1, 0].set_ylabel("rebuilt")
    return ax[0, 0].figure


@fill_doc
def plot_prediction(estimator, X, target, feature=None, ax=None, **scatter_kwargs):
    """Observed values of one modality against those predicted from the others.

    Parameters
    ----------
    estimator : MultimodalAutoencoder
        A fitted estimator of several modalities.
    X : dict, SliceDict or DataFrame
        Data in a form the estimator takes, ``target`` included (its values
        are the observed ones; the prediction does not see them).
    target : str
        The modality to predict.
    feature : int, default=None
        Draw one feature (column) only; None draws every value.
    %(plot_ax_scatter)s

    %(plot_returns_axes)s

    Examples
    --------
    The isotope ratios of penguins against those predicted from the
    penguins' body measurements, site and sex:

    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.plotting import plot_prediction
    >>> from skmmae.datasets import load_penguins
    >>> penguins = load_penguins().data
    >>> ae = MultimodalAutoencoder(2, max_epochs=2, random_state=0).fit(penguins)
    >>> ax = plot_prediction(ae, penguins, "isotopes")
    >>> len(ax.collections[0].get_offsets())  # 344 penguins x 2 isotope ratios
    688
    """
    _modality(estimator, target)
    blocks = _blocks(X)
    observed = blocks[target].reshape(len(blocks[target]), -1)
    others = {name: block for name, block in blocks.items() if name != target}
    predicted = np.asarray(estimator.predict_modality(others, target)).reshape(len(observed), -1)
    if feature is not None:
        observed, predicted = observed[:, [feature]], predicted[:, [feature]]
    ax = _axes(ax)
    ax.scatter(observed.ravel(), predicted.ravel(), s=scatter_kwargs.pop("s", 4), **scatter_kwargs)
    low = float(min(observed.min(), predicted.min()))
    high = float(max(observed.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="gray", linewidth=1, label="predicted = observed")
    what = target if feature is None else f"{target}[{feature}]"
    ax.set_xlabel(f"observed {what}")
    ax.set_ylabel("predicted from the others")
    ax.legend(fontsize="small")
    return ax


@fill_doc
def plot_reconstruction_error(estimator, X, modality=None, ax=None):
    """Reconstruction error of X per modality, or per feature of one modality.

    Per modality, the bars are each modality's loss in the units training
    uses (standardized MSE for continuous data, cross-entropy for
    categories and tokens, ...). Per feature, they are the mean squared
    error of each feature of a continuous modality, in standardized units.

    Parameters
    ----------
    %(plot_estimator)s
    %(plot_X)s
    modality : str, default=None
        None: one bar per modality; a name: one bar per feature of it.
    %(plot_ax)s

    %(plot_returns_axes)s

    Examples
    --------
    >>> from skmmae import MultimodalAutoencoder, datasets, plotting
    >>> X = datasets.load_mfeat().data[:200]
    >>> ae = MultimodalAutoencoder(8, max_epochs=2, random_state=0).fit(X)
    >>> len(plotting.plot_reconstruction_error(ae, X).patches)  # 6 modalities
    6
    >>> len(plotting.plot_reconstruction_error(ae, X, modality="mor").patches)  # 6 features
    6
    """
    ax = _axes(ax)
    if modality is None:
        losses, _ = loss_totals(
            estimator.net_, estimator._inference_data(X), estimator._reconstruct
        )
        ax.bar(list(losses), list(losses.values()))
        ax.set_xlabel("modality")
        ax.set_ylabel("loss (training units)")
        return ax
    kind = _modality(estimator, modality)
    if kind.kind != "continuous":
        raise ValueError(
            f"Errors per feature are drawn for continuous modalities; {modality!r} is "
            f"{kind.kind!r}. Draw it per modality (modality=None)."
        )
    blocks = _blocks(X)
    rebuilt = _blocks(estimator.inverse_transform(estimator.transform(X)))
    n = len(blocks[modality])
    difference = (blocks[modality] - rebuilt[modality]).reshape(n, -1) / np.ravel(kind.scale_)
    errors = (difference**2).mean(axis=0)
    ax.bar(np.arange(len(errors)), errors)
    ax.set_xlabel(f"feature of {modality}")
    ax.set_ylabel("MSE (standardized)")
    return ax
