"""The shipped data files (``skmmae/datasets/data``) and what every loader returns."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_arrays", "make_bunch", "read_description"]


def _data_dir():
    return resources.files("skmmae.datasets") / "data"


def load_arrays(filename):
    """Every array of the shipped ``filename`` (.npz), read into memory (fresh copies)."""
    with resources.as_file(_data_dir() / filename) as path, np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}


def read_description(filename):
    """The text of the shipped ``filename`` (.rst)."""
    return (_data_dir() / filename).read_text(encoding="utf-8")


def make_bunch(data, target, return_X_y, **fields):
    """``(data, target)`` if ``return_X_y``, else a Bunch of them and ``fields``."""
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, **fields)
