"""Loader for the Palmer penguins: body sizes, isotopes, nest site and sex as views."""

import numpy as np
from skorch.helper import SliceDict

from .._docstrings import fill_doc
from ._files import load_arrays, make_bunch, read_description

__all__ = ["load_penguins"]

SPECIES = ("Adelie", "Chinstrap", "Gentoo")


@fill_doc
def load_penguins(*, return_X_y=False):
    """Load the Palmer penguins: four views of 344 penguins of three species.

    =================  ==============================================
    samples            344 (152 Adelie, 68 Chinstrap, 124 Gentoo)
    modalities         body 4 float (2 missing), isotopes 2 float
                       (13 missing, 1 missing cell), site 2
                       categorical, sex 1 categorical (11 missing)
    target             int, the species
    =================  ==============================================

    Size measurements, blood isotope ratios and nest observations of adult
    penguins in the Palmer Archipelago, Antarctica (Gorman, Williams &
    Fraser 2014), from the CC0-licensed table ``penguins-raw.csv`` of the
    palmerpenguins package (Horst, Hill & Gorman 2020); ``DESCR`` has the
    source, license and citations.

    Some penguins lack a view, and the loader marks it the way
    :class:`~skmmae.MultimodalAutoencoder` reads a missing modality: a row
    entirely NaN in ``"body"`` (2 penguins with nothing measured) and in
    ``"isotopes"`` (13 penguins without either ratio), None in ``"sex"``
    (11 penguins). No penguin lacks ``"site"``. One penguin has Delta 13 C
    but no Delta 15 N: a single NaN, a missing cell
    (:mod:`skmmae.imputation`).
    The kinds are guessed right from the data: ``"continuous"`` for
    ``"body"`` and ``"isotopes"``, ``"categorical"`` for ``"site"`` and
    ``"sex"``.

    %(loader_parameters)s
            ``"body"``: (344, 4) float64, culmen length and depth (mm),
            flipper length (mm), body mass (g); ``"isotopes"``: (344, 2)
            float64, Delta 15 N and Delta 13 C (per mil); ``"site"``: (344,
            2) str, island and clutch completion ("Yes", "No"); ``"sex"``:
            (344, 1) object, "FEMALE", "MALE" or None.
        target : ndarray of shape (344,)
            The species of each penguin, an index into ``target_names``.
        target_names : ndarray of shape (3,)
            "Adelie", "Chinstrap", "Gentoo".
        feature_names : dict of str -> list of str
            The source table's column names of each view.
        study_name, individual_id, date_egg : ndarray of shape (344,), str
            The season's study ("PAL0708", "PAL0809", "PAL0910"), the
            bird's id, and the date its nest was seen with one egg.
    %(loader_end)s

    Examples
    --------
    >>> from skmmae.datasets import load_penguins
    >>> X, y = load_penguins(return_X_y=True)
    >>> {name: block.shape for name, block in X.items()}
    {'body': (344, 4), 'isotopes': (344, 2), 'site': (344, 2), 'sex': (344, 1)}
    >>> X["site"][:2].tolist(), X["sex"][:2].tolist(), y[:2]
    ([['Torgersen', 'Yes'], ['Torgersen', 'Yes']], [['MALE'], ['FEMALE']], array([0, 0]))
    """
    arrays = load_arrays("penguins.npz")
    sex = arrays["sex"].astype(object)[:, np.newaxis]
    sex[sex == ""] = None
    data = SliceDict(
        body=arrays["body"],
        isotopes=arrays["isotopes"],
        site=arrays["site"],
        sex=sex,
    )
    target = arrays["species"].astype(np.int64)
    feature_names = {
        view: arrays[f"feature_names_{view}"].tolist() for view in ("body", "isotopes", "site")
    }
    feature_names["sex"] = ["Sex"]
    return make_bunch(
        data,
        target,
        return_X_y,
        target_names=np.array(SPECIES),
        feature_names=feature_names,
        study_name=arrays["study_name"],
        individual_id=arrays["individual_id"],
        date_egg=arrays["date_egg"],
        DESCR=read_description("penguins.rst"),
    )
