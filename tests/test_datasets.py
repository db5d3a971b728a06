"""The shipped and generated data sets of :mod:`skmmae.datasets` (digits words aside)."""

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skorch.helper import SliceDict
from sklearn.datasets import load_digits

from skmmae import MultimodalAutoencoder
from skmmae.datasets import (
    decode_captions,
    decode_words,
    encode_captions,
    load_mfeat,
    load_moving_digits,
    load_penguins,
    load_spoken_digits,
    load_basic_motions,
    make_lagged,
)
from skmmae.datasets._files import load_arrays

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


def _fit_codes(X, modalities):
    """Codes of a tiny autoencoder fitted on X for 2 epochs."""
    model = MultimodalAutoencoder(
        encoding_dim=8, hidden_dims=(16,), max_epochs=2, modalities=modalities, random_state=0
    )
    return model.fit(X).transform(X)


def _assert_same_data(first, second):
    assert list(first) == list(second)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


# -- spoken digits ---------------------------------------------------------------------------

N_SPOKEN = 1120


@pytest.fixture(scope="module")
def spoken():
    return load_spoken_digits()


def test_spoken_digits_shapes_and_values(spoken):
    X, y = spoken.data, spoken.target
    assert isinstance(X, SliceDict) and list(X) == ["audio", "text"]
    assert X["audio"].shape == (N_SPOKEN, 32, 32) and X["audio"].dtype == np.float32
    assert X["text"].shape == (N_SPOKEN, 6) and X["text"].dtype == np.int64
    # dB below each utterance's maximum, clipped at -80; time resampling
    # may step over the loudest frame, never far.
    assert X["audio"].min() == -80.0 and X["audio"].max() == 0.0
    assert (X["audio"].max(axis=(1, 2)) > -4).all()
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, np.tile(np.arange(10), N_SPOKEN // 10))


def test_spoken_digits_words_name_the_target(spoken):
    words = spoken.target_names[spoken.target]
    np.testing.assert_array_equal(decode_words(spoken.data["text"]), words)
    assert spoken.vocabulary[0] == "<pad>"


def test_spoken_digits_voices(spoken):
    voices = list(zip(spoken.voice, spoken.speed, spoken.pitch))
    assert len(set(voices)) == N_SPOKEN // 10  # 7 accents x 4 variants x 2 speeds x 2 pitches
    assert len(set(spoken.voice)) == 28
    assert set(spoken.speed) == {140, 190} and set(spoken.pitch) == {35, 65}
    # Each voice says the ten words in a row.
    assert all(len(set(voices[i : i + 10])) == 1 for i in range(0, N_SPOKEN, 10))
    # Faster speech is shorter before its resampling to 32 frames.
    frames = spoken.trimmed_frames
    assert frames.min() == 22 and frames.max() == 87
    assert frames[spoken.speed == 190].mean() < 0.8 * frames[spoken.speed == 140].mean()
    mel = spoken.mel_frequencies
    assert mel.shape == (32,) and (np.diff(mel) > 0).all() and 0 < mel[0] and mel[-1] < 8000


def test_spoken_digits_documented_duplicates(spoken):
    # DESCR: 22 pairs of utterances that espeak-ng says alike in two accents.
    flat = spoken.data["audio"].reshape(N_SPOKEN, -1)
    assert len(np.unique(flat, axis=0)) == N_SPOKEN - 22


def test_spoken_digits_deterministic_and_return_X_y(spoken):
    X, y = load_spoken_digits(return_X_y=True)
    assert isinstance(X, SliceDict)
    _assert_same_data(X, spoken.data)
    np.testing.assert_array_equal(y, spoken.target)
    X["audio"][0, 0, 0] = 1.0
    assert load_spoken_digits().data["audio"][0, 0, 0] != 1.0


def test_spoken_digits_descr(spoken):
    for text in ("espeak-ng", "1.51", "GPL", "en-gb-scotland", "f4", "190", "mel", "-80 dB"):
        assert text in spoken.DESCR, text


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_spoken_digits_regenerate_one_voice(spoken):
    # The shipped rows of one voice, made again by the build script.
    path = Path(__file__).resolve().parents[1] / "tools" / "make_spoken_digits.py"
    spec = importlib.util.spec_from_file_location("make_spoken_digits", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    if not script.espeak_version().endswith(" 1.51"):
        pytest.skip(f"the data was made with espeak-ng 1.51, not {script.espeak_version()}")
    filterbank, _ = script.mel_filterbank()
    rows = np.flatnonzero(
        (spoken.voice == "en-gb-scotland+f2") & (spoken.speed == 190) & (spoken.pitch == 35)
    )
    for row, word in zip(rows, script.WORDS):
        signal = script.synthesize(word, "en-gb-scotland+f2", 190, 35)
        spectrogram, n_frames = script.trim_and_resample(script.log_mel(signal, filterbank))
        assert n_frames == spoken.trimmed_frames[row]
        np.testing.assert_array_equal(spectrogram.astype(np.float16), spoken.data["audio"][row])


def test_spoken_digits_train():
    X, _ = load_spoken_digits(return_X_y=True)
    codes = _fit_codes(X[::10], {"audio": "timeseries", "text": "tokens"})
    assert codes.shape == (N_SPOKEN // 10, 8) and np.isfinite(codes).all()


# -- moving digits ---------------------------------------------------------------------------

N_CLIPS = 1797
#: The (row, column) shift of each direction, in the order of direction_names.
SHIFTS = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}


@pytest.fixture(scope="module")
def moving():
    return load_moving_digits()


def test_moving_digits_shapes_and_values(moving):
    X, y = moving.data, moving.target
    assert isinstance(X, SliceDict) and list(X) == ["video", "caption"]
    assert X["video"].shape == (N_CLIPS, 8, 16, 16) and X["video"].dtype == np.float32
    assert X["video"].min() == 0.0 and X["video"].max() == 1.0
    assert X["caption"].shape == (N_CLIPS, 3) and X["caption"].dtype == np.int64
    assert (X["caption"][:, 2] == 0).all()  # every caption ends with a pad
    np.testing.assert_array_equal(y, load_digits().target)
    assert moving.direction_names.tolist() == list(SHIFTS)
    assert np.bincount(moving.direction).min() > 400  # the four directions about equally


def test_moving_digits_captions_name_digit_and_direction(moving):
    expected = [
        f"{moving.target_names[d]} {moving.direction_names[k]}"
        for d, k in zip(moving.target, moving.direction)
    ]
    np.testing.assert_array_equal(decode_captions(moving.data["caption"]), expected)
    np.testing.assert_array_equal(encode_captions(expected), moving.data["caption"])


def test_moving_digits_frames_shift_one_pixel(moving):
    video = moving.data["video"]
    images = (load_digits().images / 16.0).astype(np.float32)
    for k, (d_row, d_col) in enumerate(SHIFTS.values()):
        clips = video[moving.direction == k]
        # Frame t + 1 is frame t moved one pixel: no wrap-around, nothing else.
        shifted = np.roll(clips[:, :-1], (d_row, d_col), axis=(2, 3))
        np.testing.assert_array_equal(clips[:, 1:], shifted)
    # The first frame holds the whole image at `start`, black elsewhere.
    for i, (top, left) in enumerate(moving.start):
        first = video[i, 0].copy()
        np.testing.assert_array_equal(first[top : top + 8, left : left + 8], images[i])
        first[top : top + 8, left : left + 8] = 0
        assert not first.any()
    steps = np.array(list(SHIFTS.values()))[moving.direction]
    last = moving.start + 7 * steps
    assert moving.start.min() >= 0 and moving.start.max() <= 8
    assert last.min() >= 0 and last.max() <= 8


def test_moving_digits_deterministic_and_return_X_y(moving):
    X, y = load_moving_digits(return_X_y=True)
    _assert_same_data(X, moving.data)
    np.testing.assert_array_equal(y, moving.target)
    assert "CC BY 4.0" in moving.DESCR and "default_rng(0)" in moving.DESCR


def test_captions_bad_input():
    with pytest.raises(ValueError, match=r"Caption 1 \('seven sideways'\)"):
        encode_captions(["zero up", "seven sideways"])
    with pytest.raises(ValueError, match="at most 3"):
        encode_captions(["one two three four"])
    with pytest.raises(ValueError, match=r"ids in \[0, 15\)"):
        decode_captions([[15, 0, 0]])
    with pytest.raises(ValueError, match="2-D"):
        decode_captions([1, 11, 0])
    np.testing.assert_array_equal(decode_captions(encode_captions(["", "nine"])), ["", "nine"])


@pytest.mark.parametrize("kind", ["video", "image"])  # image: the frames as channels
def test_moving_digits_train(kind):
    X, _ = load_moving_digits(return_X_y=True)
    codes = _fit_codes(X[:120], {"video": kind, "caption": "tokens"})
    assert codes.shape == (120, 8) and np.isfinite(codes).all()


# -- penguins --------------------------------------------------------------------------------

N_PENGUINS = 344


@pytest.fixture(scope="module")
def penguins():
    return load_penguins()


def _missing(block):
    return pd.isna(block).all(axis=1), pd.isna(block).any(axis=1)


def test_penguins_views(penguins):
    X = penguins.data
    assert isinstance(X, SliceDict) and list(X) == ["body", "isotopes", "site", "sex"]
    shapes = {name: block.shape for name, block in X.items()}
    assert shapes == {"body": (344, 4), "isotopes": (344, 2), "site": (344, 2), "sex": (344, 1)}
    assert X["body"].dtype == X["isotopes"].dtype == np.float64
    assert X["site"].dtype.kind == "U" and X["sex"].dtype == object
    assert set(X["site"][:, 0]) == {"Biscoe", "Dream", "Torgersen"}
    assert set(X["site"][:, 1]) == {"Yes", "No"}
    assert {name: len(names) for name, names in penguins.feature_names.items()} == {
        "body": 4, "isotopes": 2, "site": 2, "sex": 1
    }
    assert penguins.feature_names["body"][3] == "Body Mass (g)"
    np.testing.assert_array_equal(X["body"][0], [39.1, 18.7, 181.0, 3750.0])
    np.testing.assert_array_equal(X["isotopes"][1], [8.94956, -24.69454])


def test_penguins_target(penguins):
    assert penguins.target.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(penguins.target), [152, 68, 124])
    assert penguins.target_names.tolist() == ["Adelie", "Chinstrap", "Gentoo"]


def test_penguins_missing_views_and_the_one_missing_cell(penguins):
    X = penguins.data
    for name, n_missing in {"body": 2, "isotopes": 13, "sex": 11}.items():
        whole, _ = _missing(X[name])
        assert whole.sum() == n_missing, name
    assert not pd.isna(X["site"]).any()
    assert set(X["sex"][:, 0]) == {"FEMALE", "MALE", None}
    # The one bird with Delta 13 C but no Delta 15 N keeps its Delta 13 C.
    isotopes = X["isotopes"]
    one_cell = np.isnan(isotopes).any(axis=1) & ~np.isnan(isotopes).all(axis=1)
    assert one_cell.sum() == 1
    assert np.isnan(isotopes[one_cell, 0]).all() and np.isfinite(isotopes[one_cell, 1]).all()
    assert not (np.isnan(X["body"]).any(axis=1) & ~np.isnan(X["body"]).all(axis=1)).any()
    np.testing.assert_array_equal(isotopes, load_arrays("penguins.npz")["isotopes"])


def test_penguins_deterministic_and_return_X_y(penguins):
    X, y = load_penguins(return_X_y=True)
    _assert_same_data(X, penguins.data)
    np.testing.assert_array_equal(y, penguins.target)
    X["body"][0, 0] = -1.0
    assert load_penguins().data["body"][0, 0] == 39.1
    assert penguins.study_name[0] == "PAL0708" and penguins.individual_id[0] == "N1A1"
    for text in ("CC0", "Gorman", "Horst", "PLoS ONE", "penguins-raw.csv"):
        assert text in penguins.DESCR, text


def test_penguins_train_with_missing_views():
    X, _ = load_penguins(return_X_y=True)
    # The kinds are guessed; sex's missing rows (None) are not a category.
    model = MultimodalAutoencoder(encoding_dim=8, hidden_dims=(16,), max_epochs=2, random_state=0)
    codes = model.fit(X).transform(X)
    assert codes.shape == (N_PENGUINS, 8) and np.isfinite(codes).all()
    kinds = {name: modality.kind for name, modality in model.modalities_.items()}
    assert kinds == {
        "body": "continuous", "isotopes": "continuous", "site": "categorical", "sex": "categorical"
    }
    assert model.modalities_["sex"].categories_[0].tolist() == ["FEMALE", "MALE"]
    lacking = np.isnan(X["body"]).all(axis=1) | np.isnan(X["isotopes"]).all(axis=1)
    assert np.isfinite(model.transform(X[lacking])).all()


def _aligned_lag(a, b, period, max_lag):
    """The lag that best lines ``b`` up with ``a`` (least squares over the overlap)."""
    errors = {}
    for lag in range(-max_lag, max_lag + 1):
        steps = np.arange(0, a.shape[-1], period) - lag
        inside = (steps >= 0) & (steps < a.shape[-1])
        errors[lag] = np.mean((a[steps[inside]] - b[inside]) ** 2)
    return min(errors, key=errors.get)


def test_make_lagged_delays_b_by_the_lag_it_reports():
    lagged = make_lagged(120, noise=0.0, random_state=0)
    X = lagged.data
    assert X["a"].shape == (120, 2, 64) and X["b"].shape == (120, 2, 32)
    assert lagged.periods == {"a": 1.0, "b": 2.0} and set(lagged.target) == {0, 1, 2}
    assert lagged.lags.min() >= -8 and lagged.lags.max() <= 8 and len(set(lagged.lags)) > 10
    # Without noise, lining the two series up recovers every sample's lag.
    found = [_aligned_lag(X["a"][i, 0], X["b"][i, 0], 2, 8) for i in range(120)]
    np.testing.assert_array_equal(found, lagged.lags)
    # Seeded: the same draw twice.
    again = make_lagged(120, noise=0.0, random_state=0)
    np.testing.assert_array_equal(again.data["b"], X["b"])


def test_make_lagged_feeds_the_estimator():
    X, y = make_lagged(60, random_state=0, return_X_y=True)
    ae = MultimodalAutoencoder(2, modalities={"a": "timeseries", "b": "timeseries"}, max_epochs=1, random_state=0)
    assert ae.fit_transform(X).shape == (60, 2) and len(y) == 60
    with pytest.raises(ValueError, match="multiple of rate_ratio"):
        make_lagged(10, length=63)


def test_make_lagged_records_different_lengths_when_asked():
    lagged = make_lagged(80, min_length=41, random_state=0)
    a, b = lagged.data["a"], lagged.data["b"]
    # Each recording ends after an even number of steps of "a", 42 to 64.
    assert lagged.lengths.min() >= 42 and lagged.lengths.max() <= 64 and (lagged.lengths % 2 == 0).all()
    recorded_a = (~np.isnan(a)).all(axis=1).sum(axis=1)
    recorded_b = (~np.isnan(b)).all(axis=1).sum(axis=1)
    np.testing.assert_array_equal(recorded_a, lagged.lengths)
    np.testing.assert_array_equal(recorded_b, lagged.lengths // 2)
    # NaN only after the end: every recorded step comes first.
    assert all(np.isnan(a[i, :, n:]).all() and not np.isnan(a[i, :, :n]).any() for i, n in enumerate(lagged.lengths))
    assert (make_lagged(5, random_state=0).lengths == 64).all()
    with pytest.raises(ValueError, match="min_length=1 must lie between rate_ratio=2 and length=64"):
        make_lagged(5, min_length=1)


def test_basic_motions_are_the_archive_s_recordings():
    motions = load_basic_motions()
    X = motions.data
    assert X["accelerometer"].shape == X["gyroscope"].shape == (80, 3, 100)
    assert X["accelerometer"].dtype == np.float32 and (motions.lags == 0).all()
    assert np.bincount(motions.target).tolist() == [20, 20, 20, 20]
    assert motions.archive_test.sum() == 40 and motions.archive_test[40:].all()
    assert "Bagnall" in motions.DESCR and "aeon" in motions.DESCR
    # The first case of the archive's train file (its first values, by hand).
    np.testing.assert_allclose(X["accelerometer"][0, 0, :3], [0.079106, 0.079106, -0.903497], rtol=1e-6)
    assert motions.target_names[motions.target[0]] == "Standing"


def test_basic_motions_with_lags_delay_the_gyroscope_by_them():
    full = load_basic_motions().data
    motions = load_basic_motions(max_lag=10, random_state=0)
    X, lags = motions.data, motions.lags
    assert X["accelerometer"].shape == X["gyroscope"].shape == (80, 3, 80)
    assert abs(lags).max() <= 10 and len(set(lags)) > 10
    np.testing.assert_array_equal(X["accelerometer"], full["accelerometer"][:, :, 10:90])
    for i in range(80):  # the gyroscope's step t is the recording's step 10 + t - lag
        np.testing.assert_array_equal(X["gyroscope"][i], full["gyroscope"][i][:, 10 - lags[i] : 90 - lags[i]])
    np.testing.assert_array_equal(load_basic_motions(max_lag=10, random_state=0).lags, lags)
    with pytest.raises(ValueError, match="max_lag must be an int from 0 to 49"):
        load_basic_motions(max_lag=50)
