"""Missing cells filled in from a fitted autoencoder: single and multiple imputation.

A continuous, binary or categorical modality may have missing cells: NaN
(or None, for categories) inside a row that is otherwise observed (a lab
value not measured, a sensor dropout). The autoencoder learns around them:
its encoders read a fill value (and each cell's observed flag), and its
loss scores only observed cells. The
code of a sample is then made from all it has, in every modality, and the
read-out reconstructs every cell from that code: what fills the missing
ones. Observed cells are returned unchanged.

:func:`impute` does this with a fitted :class:`~skmmae.MultimodalAutoencoder`;
:class:`MultimodalImputer` is the sklearn transformer that fits one and
imputes with it, for use in a ``Pipeline`` before any estimator.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _fitted_input, _inference
from ._doc_link import DocLinked
from ._threads import thread_budget
from ._validation import ARRAY_MODALITY
from .options import HiddenLayers, Speed, Variational

__all__ = ["MultimodalImputer", "default_estimator", "impute"]


def impute(estimator, X, n_draws=None, random_state=None):
    """X with every missing cell of its continuous, binary and categorical modalities filled.

    Parameters
    ----------
    estimator : MultimodalAutoencoder
        A fitted estimator.
    X : dict, SliceDict, DataFrame or array-like
        Data in a form the estimator takes. The missing cells (NaN, or None
        for categories) of continuous, binary and categorical modalities are
        filled, rows entirely missing (a modality the sample lacks) included;
        every other value is returned as given.
    n_draws : int or None, default=None
        None: one imputation, from each sample's code (the posterior mean).
        An int: that many imputations, each from codes drawn from each
        sample's posterior (multiple imputation; needs a variational model).
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.

    Returns
    -------
    X_filled : same form as X, or a list of ``n_draws`` of them
        Filled values are in the modality's original units; a binary
        modality gives the probabilities of its ``inverse`` setting, a
        categorical one its most likely category.

    Examples
    --------
    One cell of modality ``"a"`` is missing; it comes back filled, and
    everything else as it was:

    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.imputation import impute
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.normal(size=(80, 4)), "b": rng.normal(size=(80, 3))}
    >>> X["a"][0, 1] = np.nan
    >>> ae = MultimodalAutoencoder(2, max_epochs=3, random_state=0).fit(X)
    >>> filled = impute(ae, X)
    >>> bool(np.isfinite(filled["a"][0, 1])), bool((filled["b"] == X["b"]).all())
    (True, True)
    """
    with thread_budget(Speed.from_value(estimator.speed).n_threads):
        if n_draws is None:
            return _fill_like(X, _reconstructions(estimator, estimator.transform(X)))
        _fitted_input.check_variational(estimator, "impute(..., n_draws=...)")
        rng = check_random_state(random_state)
        # X is checked and encoded once; each draw only samples and decodes.
        mean, std = estimator.transform(X, return_std=True)
        draws = (mean + std * rng.standard_normal(mean.shape) for _ in range(n_draws))
        return [_fill_like(X, _reconstructions(estimator, z.astype(np.float32))) for z in draws]


def _reconstructions(estimator, codes):
    """Each modality that can have missing cells, read back from ``codes`` in original units.

    Not the series a lag aligner moves: they are read back in the
    reference's time frame, not where their missing cells are.
    """
    module, readout = estimator.net_.module_, estimator.readout_
    aligned = () if module.aligner is None else module.aligner.lagged
    names = [
        name for name, m in estimator.modalities_.items()
        if m.accepts_missing_cells and name not in aligned
    ]
    decoded = _inference.decode(
        estimator.net_, codes, lambda code: readout.reconstruct(module, code, names)
    )
    return {name: estimator.modalities_[name].restore(decoded[name]) for name in names}


def _fill_like(X, reconstructions):
    """X, in its own form, with the missing cells of ``reconstructions``' modalities replaced."""
    if isinstance(X, pd.DataFrame) and isinstance(X.columns, pd.MultiIndex):
        filled = X.copy()
        for name, values in reconstructions.items():
            if name in X.columns.get_level_values(0):
                columns = filled.columns.get_locs([name])
                block = filled.iloc[:, columns].to_numpy()
                filled.iloc[:, columns] = _fill_array(block, values)
        return filled
    if isinstance(X, pd.DataFrame) or not hasattr(X, "keys"):  # one modality
        values = reconstructions.get(ARRAY_MODALITY)
        return X if values is None else _fill_block(X, values)
    filled = type(X)(**X)  # a dict, or a SliceDict
    for name, values in reconstructions.items():
        if name in X:
            filled[name] = _fill_block(X[name], values)
    return filled


def _fill_block(block, values):
    if isinstance(block, pd.DataFrame):
        return block.where(block.notna(), pd.DataFrame(values, index=block.index, columns=block.columns))
    return _fill_array(np.asarray(block), values)


def _fill_array(block, values):
    block = np.asarray(block)
    values = np.asarray(values).reshape(block.shape).astype(block.dtype, copy=False)
    return np.where(pd.isna(block), values, block)


def default_estimator(random_state=None):
    """The model :class:`MultimodalImputer` fits when given none: set for filling cells.

    ``MultimodalAutoencoder(encoding_dim=128, hidden_dims=HiddenLayers((384,),
    dropout=0.0), input_dropout=0.3, noise_std=0.0, modality_dropout=0.0,
    weight_decay=1e-4, readout="decoder")``. Its ``input_dropout`` hides
    observed cells at random in training as if they were missing and scores
    their reconstruction, so the model learns to fill cells in; a wide code
    keeps the detail a cell needs. Input noise and modality dropout, which
    serve the codes, are off; the hidden layers are narrower than the
    estimator's default and drop no units, which fills cells as well in
    less time. The choice was measured on the shipped data sets
    (``benchmarks/README.md``).

    Parameters
    ----------
    random_state : int or None, default=None
        The model's seed.

    Returns
    -------
    MultimodalAutoencoder
        Not fitted.

    Examples
    --------
    >>> from skmmae.imputation import default_estimator
    >>> default_estimator(random_state=0).set_params(max_epochs=5).max_epochs
    5
    """
    from .autoencoder import MultimodalAutoencoder

    return MultimodalAutoencoder(
        128,
        hidden_dims=HiddenLayers((384,), dropout=0.0),
        input_dropout=0.3,
        noise_std=0.0,
        modality_dropout=0.0,
        weight_decay=1e-4,
        readout="decoder",
        random_state=random_state,
    )


class MultimodalImputer(TransformerMixin, DocLinked, BaseEstimator):
    """Impute missing cells with a multimodal autoencoder, as an sklearn transformer.

    ``fit`` fits a clone of ``estimator`` on X, missing cells and all;
    ``transform`` returns X in its own form with every missing cell of its
    continuous, binary and categorical modalities filled from the model (see
    :func:`impute`), observed values unchanged.

    Parameters
    ----------
    estimator : MultimodalAutoencoder or None, default=None
        The model to fit; None: :func:`default_estimator`, one set for
        filling cells rather than for its codes, seeded by ``random_state``.
    sample_posterior : bool, default=False
        Fill from codes drawn from each sample's posterior instead of its
        mean, so that repeated ``transform`` calls give multiple
        imputations (needs ``variational=True``), as sklearn's
        ``IterativeImputer(sample_posterior=True)`` does.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws of ``sample_posterior``, and the default estimator.

    Attributes
    ----------
    estimator_ : MultimodalAutoencoder
        The fitted model.

    See Also
    --------
    sklearn.impute.IterativeImputer : Imputes each feature from the others, one table.

    Examples
    --------
    Ten samples lack one value of modality ``"b"``:

    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae.imputation import MultimodalImputer
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.normal(size=(80, 4)), "b": rng.normal(size=(80, 3))}
    >>> X["b"][:10, 0] = np.nan
    >>> imputer = MultimodalImputer(MultimodalAutoencoder(2, max_epochs=3, random_state=0))
    >>> int(np.isnan(imputer.fit_transform(X)["b"]).sum())
    0
    """

    def __init__(self, estimator=None, sample_posterior=False, random_state=None):
        self.estimator = estimator
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    def fit(self, X, y=None):
        """Fit the autoencoder on X.

        Parameters
        ----------
        X : dict, SliceDict, DataFrame or array-like
            Data in a form :class:`~skmmae.MultimodalAutoencoder` takes.
        y : None
            Ignored.

        Returns
        -------
        self : MultimodalImputer
        """
        if self.estimator is None:
            seed = self.random_state if isinstance(self.random_state, int) else None
            estimator = default_estimator(random_state=seed)
        else:
            estimator = clone(self.estimator)
        if self.sample_posterior and Variational.from_value(estimator.variational) is None:
            # Refused before a fit that could not serve.
            raise ValueError(
                "MultimodalImputer(sample_posterior=True) needs a variational model; this "
                f"{type(estimator).__name__} has variational=False."
            )
        self.estimator_ = estimator.fit(X)
        self._rng = check_random_state(self.random_state)
        return self

    def transform(self, X):
        """X with its missing cells filled from the model.

        Parameters
        ----------
        X : dict, SliceDict, DataFrame or array-like
            Data in the form given to :meth:`fit`.

        Returns
        -------
        X_filled : same form as X
        """
        check_is_fitted(self)
        if not self.sample_posterior:
            return impute(self.estimator_, X)
        return impute(self.estimator_, X, n_draws=1, random_state=self._rng)[0]
