"""The shipped UCI Multiple Features data (:func:`skmmae.datasets.load_mfeat`)."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skorch.helper import SliceDict

from skmmae.datasets import load_mfeat

VIEW_WIDTHS = {"pix": 240, "fou": 76, "fac": 216, "kar": 64, "zer": 47, "mor": 6}
N_SAMPLES = 2000

# Values read from the first line of data of the original files
# (mfeat-<view>.csv), so the test needs no copy of them.
KNOWN_FIRST_ROW = {
    "fou": (0, [0.065882, 0.19731, 0.10383]),
    "kar": (0, [-10.297, -11.667, 11.561]),
    "zer": (0, [0.011033, 0.83147, 15.352]),
    "mor": (0, [1.0, 0.0, 0.0, 133.15, 1.3117, 1620.2]),
}


def _csv_dir():
    """The original CSV files, where this checkout can see them."""
    root = Path(__file__).resolve().parents[1]
    candidates = [root / "shared" / "data" / "mfeat", root.parent / "shared" / "data" / "mfeat"]
    if os.environ.get("SKMMAE_MFEAT_CSV_DIR"):
        candidates.insert(0, Path(os.environ["SKMMAE_MFEAT_CSV_DIR"]))
    for candidate in candidates:
        if (candidate / "mfeat-pix.csv").is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def bunch():
    return load_mfeat()


@pytest.fixture(scope="module")
def frame_bunch():
    return load_mfeat(as_frame=True)


def test_views_and_shapes(bunch):
    X = bunch.data
    assert isinstance(X, SliceDict)
    assert list(X) == list(VIEW_WIDTHS)
    assert {name: block.shape for name, block in X.items()} == {
        name: (N_SAMPLES, width) for name, width in VIEW_WIDTHS.items()
    }
    assert sum(VIEW_WIDTHS.values()) == 649
    for block in X.values():
        assert block.dtype == np.float64
        assert np.isfinite(block).all()


def test_target(bunch):
    y = bunch.target
    assert isinstance(y, np.ndarray)
    assert y.shape == (N_SAMPLES,)
    assert np.issubdtype(y.dtype, np.integer)
    digits, counts = np.unique(y, return_counts=True)
    np.testing.assert_array_equal(digits, np.arange(10))
    np.testing.assert_array_equal(counts, np.full(10, 200))
    # Rows are in class order.
    np.testing.assert_array_equal(y, np.repeat(np.arange(10), 200))
    np.testing.assert_array_equal(bunch.target_names, np.arange(10))


def test_feature_names(bunch):
    assert list(bunch.feature_names) == list(VIEW_WIDTHS)
    for name, width in VIEW_WIDTHS.items():
        assert len(bunch.feature_names[name]) == width
        assert bunch.feature_names[name][0] == f"{name}_0"
    assert bunch.frame is None


def test_slicedict_rows(bunch):
    head = bunch.data[:10]
    assert isinstance(head, SliceDict)
    assert {name: block.shape for name, block in head.items()} == {
        name: (10, width) for name, width in VIEW_WIDTHS.items()
    }
    picked = bunch.data[np.array([0, 1999])]
    np.testing.assert_array_equal(picked["mor"][1], bunch.data["mor"][1999])


def test_return_X_y():
    X, y = load_mfeat(return_X_y=True)
    assert isinstance(X, SliceDict)
    assert X["zer"].shape == (N_SAMPLES, 47)
    assert y.shape == (N_SAMPLES,)


def test_as_frame(frame_bunch, bunch):
    X = frame_bunch.data
    assert isinstance(X, pd.DataFrame)
    assert isinstance(X.columns, pd.MultiIndex)
    assert X.shape == (N_SAMPLES, 649)
    assert list(dict.fromkeys(X.columns.get_level_values(0))) == list(VIEW_WIDTHS)
    assert X["fac"].shape == (N_SAMPLES, 216)
    assert X.columns[0] == ("pix", "pix_0")
    np.testing.assert_array_equal(X["kar"].to_numpy(), bunch.data["kar"])
    y = frame_bunch.target
    assert isinstance(y, pd.Series)
    assert y.shape == (N_SAMPLES,)
    assert y.value_counts().eq(200).all()
    assert frame_bunch.frame.shape == (N_SAMPLES, 650)
    pd.testing.assert_series_equal(
        frame_bunch.frame[("target", "digit")], y, check_names=False
    )


def test_as_frame_return_X_y():
    X, y = load_mfeat(return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame)
    assert X.shape == (N_SAMPLES, 649)
    assert isinstance(y, pd.Series)


def test_descr_gives_license_and_citation(bunch):
    descr = bunch.DESCR
    assert "CC BY 4.0" in descr
    assert "UCI Machine Learning Repository" in descr
    assert "van Breukelen" in descr
    assert "Kybernetika" in descr
    for name in VIEW_WIDTHS:
        assert name in descr


def test_known_values(bunch):
    X = bunch.data
    for name, (row, values) in KNOWN_FIRST_ROW.items():
        np.testing.assert_array_equal(X[name][row, : len(values)], values)
    # pix is a 15 x 16 image of integers 0-6.
    pix = X["pix"]
    np.testing.assert_array_equal(pix, np.round(pix))
    assert pix.min() == 0
    assert pix.max() == 6


def test_calls_do_not_share_arrays():
    first = load_mfeat(return_X_y=True)[0]
    first["mor"][0, 0] = -1.0
    assert load_mfeat(return_X_y=True)[0]["mor"][0, 0] == 1.0


@pytest.mark.skipif(_csv_dir() is None, reason="the original mfeat CSV files are not here")
def test_equals_original_csv_files(bunch):
    csv_dir = _csv_dir()
    for name, width in VIEW_WIDTHS.items():
        table = pd.read_csv(csv_dir / f"mfeat-{name}.csv").to_numpy()
        assert table.shape == (N_SAMPLES, width + 1)
        np.testing.assert_array_equal(bunch.data[name], table[:, :width], err_msg=name)
        np.testing.assert_array_equal(bunch.target, table[:, width], err_msg=name)
