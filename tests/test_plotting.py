"""skmmae.plotting: each figure draws what it says (lines, points, bars, images)."""

import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skmmae import MultimodalAutoencoder  # noqa: E402
from skmmae._inference import loss_totals  # noqa: E402
from skmmae.datasets import load_digits_words, load_moving_digits  # noqa: E402
from skmmae.plotting import (  # noqa: E402
    plot_codes,
    plot_prediction,
    plot_reconstruction_error,
    plot_reconstructions,
    plot_training,
)

FAST = dict(max_epochs=3, hidden_dims=(16,), random_state=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted_mfeat(mfeat):
    X, y = mfeat
    X, y = X[:150], y[:150]
    return MultimodalAutoencoder(4, **FAST).fit(X), X, y


def test_training_curves_have_a_point_per_epoch():
    X = {"a": np.random.default_rng(0).normal(size=(60, 3))}
    ae = MultimodalAutoencoder(2, **FAST).fit(X)
    train, modality = plot_training(ae).get_lines()
    assert list(train.get_xdata()) == [1, 2, 3]
    # One modality: its own loss is the whole loss.
    np.testing.assert_allclose(modality.get_ydata(), train.get_ydata(), rtol=1e-5)
    X["b"] = np.random.default_rng(1).normal(size=(60, 2))
    stopping = MultimodalAutoencoder(2, early_stopping=True, **FAST).fit(X)
    lines = plot_training(stopping).get_lines()
    labels = ["training loss", "validation loss", "a", "b"]
    assert [line.get_label() for line in lines] == labels
    np.testing.assert_allclose(lines[1].get_ydata(), stopping.net_.history[:, "valid_loss"])


def test_codes_are_points_coloured_by_label(fitted_mfeat):
    ae, X, y = fitted_mfeat
    ax = plot_codes(ae, X, labels=y)
    assert len(ax.collections) == len(np.unique(y))
    assert sum(len(points.get_offsets()) for points in ax.collections) == len(y)
    # Without labels: one cloud; with a projection, its output is drawn.
    _, ax = plt.subplots()
    assert plot_codes(ae, X, ax=ax) is ax
    assert len(ax.collections) == 1

    class FirstTwo:
        def fit_transform(self, codes):
            return codes[:, :2]

    drawn = plot_codes(ae, X, projection=FirstTwo()).collections[0].get_offsets()
    np.testing.assert_allclose(drawn, ae.transform(X)[:, :2], rtol=1e-6)


def test_image_reconstructions_are_a_grid_of_originals_and_rebuilt():
    X, _ = load_digits_words(return_X_y=True)
    kinds = {"image": "image", "text": "tokens"}
    ae = MultimodalAutoencoder(4, modalities=kinds, **FAST).fit(X[:80])
    fig = plot_reconstructions(ae, X[:80], "image", n=5)
    images = [axis.images[0].get_array() for axis in fig.axes]
    assert len(images) == 10 and all(image.shape == (8, 8) for image in images)
    np.testing.assert_allclose(images[0], np.asarray(X["image"][0]).reshape(8, 8), rtol=1e-6)
    with pytest.raises(ValueError, match=r"draws image and video modalities; 'text' is 'tokens'"):
        plot_reconstructions(ae, X[:80], "text")


def test_clips_are_drawn_as_strips_of_frames():
    X, _ = load_moving_digits(return_X_y=True)
    X = X[:40]
    kinds = {"video": "video", "caption": "tokens"}
    ae = MultimodalAutoencoder(4, modalities=kinds, **{**FAST, "max_epochs": 1})
    ae.fit(X)
    clips = np.asarray(X["video"])
    fig = plot_reconstructions(ae, X, "video", n=3)
    frames, height, width = clips.shape[1:]
    assert [axis.images[0].get_array().shape for axis in fig.axes] == [(height, frames * width)] * 6


def test_prediction_scatter_has_every_value_and_a_diagonal(fitted_mfeat):
    ae, X, _ = fitted_mfeat
    ax = plot_prediction(ae, X, "mor")
    assert len(ax.collections[0].get_offsets()) == 150 * 6
    assert len(ax.get_lines()) == 1
    one = plot_prediction(ae, X, "mor", feature=2)
    points = one.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], np.asarray(X["mor"])[:, 2], rtol=1e-6)


def test_errors_per_modality_and_per_feature(fitted_mfeat):
    ae, X, _ = fitted_mfeat
    bars = plot_reconstruction_error(ae, X).patches
    assert len(bars) == 6
    losses, _ = loss_totals(ae.net_, ae._inference_data(X), ae._reconstruct)
    np.testing.assert_allclose([bar.get_height() for bar in bars], list(losses.values()))
    per_feature = plot_reconstruction_error(ae, X, modality="fou").patches
    assert len(per_feature) == 76
    # The per-feature errors average to the modality's own loss.
    mean = np.mean([bar.get_height() for bar in per_feature])
    assert mean == pytest.approx(losses["fou"], rel=1e-3)


def test_a_missing_matplotlib_is_named(monkeypatch, fitted_mfeat):
    ae, X, _ = fitted_mfeat
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"skmmae.plotting needs matplotlib.*skmmae\[plot\]"):
        plot_codes(ae, X)
