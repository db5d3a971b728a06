"""Results given back in the form of the data given to fit (:mod:`skmmae._output_forms`).

The round trips of every form through :func:`restore_layout` are in
``test_validation.py``, beside the split they invert.
"""

import numpy as np
import pandas as pd

from skmmae._output_forms import restore_modality
from skmmae._validation import split_modalities


def test_one_modality_comes_back_with_its_columns_and_index():
    frame = pd.concat(
        {"a": pd.DataFrame(np.zeros((3, 2)), columns=["u", "v"]), "b": pd.DataFrame(np.ones((3, 1)))},
        axis=1,
    )
    _, layout = split_modalities(frame)
    index = pd.Index([10, 11, 12])
    restored = restore_modality(np.full((3, 2), 5.0), layout, "a", index=index)
    assert list(restored.columns) == [("a", "u"), ("a", "v")]
    assert list(restored.index) == [10, 11, 12]


def test_a_modality_given_as_an_array_comes_back_as_an_array():
    _, layout = split_modalities({"a": np.zeros((3, 2)), "b": pd.DataFrame({"x": [1.0, 2.0, 3.0]})})
    values = np.arange(6.0).reshape(3, 2)
    assert restore_modality(values, layout, "a") is values
    assert list(restore_modality(values[:, :1], layout, "b").columns) == ["x"]
