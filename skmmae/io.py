"""The scverse bridge: modalities from a MuData object, codes back into it.

Single-cell multi-omics data lives in MuData objects (one AnnData per
modality: RNA, protein, chromatin accessibility, ...), often backed by an
``.h5mu`` file. :func:`from_mudata` gives the dict of modality blocks that
:class:`~skmmae.MultimodalAutoencoder` takes; :func:`to_mudata` writes the
codes into ``.obsm``, where scanpy and scvi-tools look for embeddings.

Neither ``anndata`` nor ``mudata`` is imported here: the objects are read
through their attributes (``mod``, ``obs_names``, ``X``, ``layers``,
``obsm``), so any AnnData works in :func:`to_mudata` too
(``pip install skmmae[scverse]`` installs both packages).
"""

import numpy as np
import pandas as pd
from scipy import sparse

from ._disk import DiskBlock, is_on_disk
from ._validation import MISSING_SUFFIX

__all__ = ["from_mudata", "to_mudata"]

#: Where :func:`to_mudata` writes the codes by default.
CODES_KEY = "X_skmmae"


def from_mudata(mdata, modalities=None, layer=None, join="outer", return_obs_names=False):
    """The modalities of a MuData object as a dict of blocks, one row per cell.

    Parameters
    ----------
    mdata : mudata.MuData
        The data, in memory or backed by a file.
    modalities : sequence of str or None, default=None
        The modalities to take (keys of ``mdata.mod``); None takes all.
    layer : str, dict of str -> str, or None, default=None
        Read this layer (``adata.layers[layer]``) instead of ``adata.X``; a
        dict names a layer per modality (those not in it read ``X``).
    join : {"outer", "inner"}, default="outer"
        ``"outer"``: every cell that one of the taken modalities has, in
        the order of ``mdata.obs_names``; a cell that a modality lacks is
        marked missing with the mask ``X[name + "__missing"]``, which the
        estimator reads. ``"inner"``: only the cells that every taken
        modality has.
    return_obs_names : bool, default=False
        Also return the cells' names, in the blocks' row order.

    Returns
    -------
    X : dict of str -> block
        Per modality its matrix, rows aligned across modalities: sparse
        matrices stay sparse (counts), dense ones stay dense, and a backed
        modality's dense matrix stays on disk, read a batch at a time by
        the estimator. Plus a boolean mask per modality that some cells lack.
    obs_names : pandas.Index
        Only with ``return_obs_names=True``.

    Raises
    ------
    ValueError
        If a modality or a layer is unknown, if cell names repeat, or if no
        cell has every taken modality (``join="inner"``).

    Examples
    --------
    >>> import anndata, mudata, numpy as np
    >>> from scipy import sparse
    >>> from skmmae.io import from_mudata
    >>> rng = np.random.default_rng(0)
    >>> rna = anndata.AnnData(sparse.csr_matrix(rng.poisson(1.0, size=(6, 4)).astype(np.float32)))
    >>> rna.obs_names = [f"cell{i}" for i in range(6)]
    >>> protein = anndata.AnnData(rng.normal(size=(4, 3)).astype(np.float32))
    >>> protein.obs_names = [f"cell{i}" for i in range(2, 6)]
    >>> X = from_mudata(mudata.MuData({"rna": rna, "protein": protein}))
    >>> sorted(X), sparse.issparse(X["rna"]), X["protein__missing"].tolist()
    (['protein', 'protein__missing', 'rna'], True, [True, True, False, False, False, False])
    """
    if join not in ("outer", "inner"):
        raise ValueError(f"join must be 'outer' or 'inner'; got {join!r}.")
    names = _modality_names(mdata, modalities)
    cells = pd.Index(mdata.obs_names)
    _check_unique(cells, "The MuData object")
    own = {name: _obs_names(mdata.mod[name], name) for name in names}
    has = np.array([cells.isin(own[name]) for name in names])
    cells = cells[has.all(axis=0) if join == "inner" else has.any(axis=0)]
    if not len(cells):
        raise ValueError(f"No cell has every one of the modalities {names}; use join='outer'.")
    X = {}
    for name in names:
        adata = mdata.mod[name]
        positions = own[name].get_indexer(cells)
        lacking = positions < 0
        if lacking.all():
            raise ValueError(f"Modality {name!r} has none of the cells taken.")
        X[name] = _rows(_matrix(adata, name, _layer_of(layer, name)), positions, lacking)
        if lacking.any():
            X[name + MISSING_SUFFIX] = lacking
    return (X, cells) if return_obs_names else X


def to_mudata(data, codes, obs_names=None, key=CODES_KEY):
    """Write codes into ``data.obsm[key]``, one row per cell of ``data``.

    Parameters
    ----------
    data : mudata.MuData or anndata.AnnData
        Where to write; changed in place.
    codes : array-like of shape (n_cells, encoding_dim)
        The codes, e.g. ``ae.transform(X)``.
    obs_names : sequence of str or None, default=None
        The cells that the rows of ``codes`` belong to, e.g. those
        :func:`from_mudata` returned. None: every cell of ``data``, in
        order. Cells of ``data`` without a code get a row of NaN.
    key : str, default="X_skmmae"
        The ``obsm`` key.

    Returns
    -------
    data
        The same object, with its ``obsm[key]``.

    Examples
    --------
    >>> import anndata, numpy as np
    >>> from skmmae.io import to_mudata
    >>> adata = anndata.AnnData(np.zeros((3, 2), dtype=np.float32))
    >>> adata.obs_names = ["a", "b", "c"]
    >>> to_mudata(adata, np.ones((2, 4)), obs_names=["c", "a"]).obsm["X_skmmae"][:, 0]
    array([ 1., nan,  1.])
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D array (cells, encoding_dim); got shape {codes.shape}.")
    cells = pd.Index(data.obs_names)
    if obs_names is None:
        if len(codes) != len(cells):
            raise ValueError(
                f"codes has {len(codes)} rows and the data {len(cells)} cells; pass obs_names "
                "to say which cells the codes belong to."
            )
        data.obsm[key] = codes
        return data
    positions = cells.get_indexer(pd.Index(obs_names))
    if len(positions) != len(codes):
        raise ValueError(f"codes has {len(codes)} rows and obs_names {len(positions)} names.")
    if (positions < 0).any():
        unknown = list(pd.Index(obs_names)[positions < 0][:5])
        raise ValueError(f"obs_names has cells that the data does not have, e.g. {unknown}.")
    placed = np.full((len(cells), codes.shape[1]), np.nan, dtype=np.result_type(codes.dtype, np.float32))
    placed[positions] = codes
    data.obsm[key] = placed
    return data


def _modality_names(mdata, modalities):
    available = list(mdata.mod)
    names = available if modalities is None else list(modalities)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(f"The MuData object has no modalities {unknown}; it has {available}.")
    if not names:
        raise ValueError("No modality to take: 'modalities' is empty.")
    return names


def _obs_names(adata, name):
    cells = pd.Index(adata.obs_names)
    _check_unique(cells, f"Modality {name!r}")
    return cells


def _check_unique(cells, what):
    if not cells.is_unique:
        repeated = list(cells[cells.duplicated()][:5])
        raise ValueError(
            f"{what} repeats cell names, e.g. {repeated}; rows are matched by name, so "
            "make them unique (obs_names_make_unique())."
        )


def _layer_of(layer, name):
    return layer.get(name) if isinstance(layer, dict) else layer


def _matrix(adata, name, layer):
    if layer is None:
        matrix = adata.X
    elif layer in adata.layers:
        matrix = adata.layers[layer]
    else:
        raise ValueError(f"Modality {name!r} has no layer {layer!r}; it has {list(adata.layers)}.")
    if matrix is None:
        raise ValueError(f"Modality {name!r} has no matrix in {'X' if layer is None else layer!r}.")
    if hasattr(matrix, "to_memory"):  # a backed sparse matrix: compact, read into memory
        matrix = matrix.to_memory()
    return matrix


def _rows(matrix, positions, lacking):
    """The rows ``positions`` of ``matrix``; a lacking row repeats a present one (masked)."""
    rows = np.where(lacking, positions[~lacking][0], positions)
    if np.array_equal(rows, np.arange(matrix.shape[0])):
        return matrix
    if is_on_disk(matrix) or isinstance(matrix, DiskBlock):
        return (matrix if isinstance(matrix, DiskBlock) else DiskBlock(matrix)).take(rows)
    if sparse.issparse(matrix):
        return matrix.tocsr()[rows]
    return np.asarray(matrix)[rows]
