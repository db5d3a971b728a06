"""The video kind (:class:`skmmae.modalities.Video`): clips of frames, 3-D convolutions."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

from skmmae import MultimodalAutoencoder
from skmmae.modalities import KINDS, Image, Video, infer_modality, make_modality
from skmmae.options import HiddenLayers

LABEL = "Modality 'clip'"
N, FRAMES, SIZE = 48, 6, 8
SMALL = dict(encoding_dim=4, hidden_dims=(16,), max_epochs=3, batch_size=16, random_state=0)


def moving_squares(seed=0):
    """Grayscale clips ``(N, FRAMES, SIZE, SIZE)`` of a 2x2 square moving diagonally,
    and per clip its start and step (what a code should capture)."""
    rng = np.random.default_rng(seed)
    start = rng.integers(1, SIZE - 3, (N, 2))
    step = rng.choice([-1, 1], (N, 2))
    clips = np.zeros((N, FRAMES, SIZE, SIZE), np.float32)
    for i in range(N):
        for t in range(FRAMES):
            r, c = np.clip(start[i] + t * step[i], 0, SIZE - 2)
            clips[i, t, r : r + 2, c : c + 2] = 1.0
    return clips, np.c_[start, step].astype(np.float32)


@pytest.fixture(scope="module")
def gray():
    return moving_squares()[0]


@pytest.fixture(scope="module")
def colour(gray):
    """``(N, FRAMES, 2, SIZE, SIZE)``: the square and a dimmer, shifted second channel."""
    return np.stack([gray, 0.25 + 0.5 * gray], axis=2)


@pytest.fixture(scope="module")
def stats():
    return moving_squares()[1]


def small_video(**params):
    return Video(channels=(4,), **params)


# -- layouts and shapes ------------------------------------------------------------------


@pytest.mark.parametrize("data_name", ["gray", "colour"])
def test_the_model_reads_channels_first_and_restore_gives_the_users_layout(request, data_name):
    clips = request.getfixturevalue(data_name)
    m = small_video().fit(clips, LABEL)
    channels = 1 if clips.ndim == 4 else 2
    assert m.input_shape_ == (channels, FRAMES, SIZE, SIZE) and m.input_ndim_ == clips.ndim
    values = m.validate(clips, LABEL)
    assert values.shape == (N, channels, FRAMES, SIZE, SIZE) and values.flags.c_contiguous
    if clips.ndim == 5:  # the channels moved to axis 1, each frame kept
        np.testing.assert_array_equal(values[:, 1, 3], clips[:, 3, 1])
    restored = m.restore(values)
    assert restored.shape == clips.shape
    np.testing.assert_array_equal(restored, clips)


@pytest.mark.parametrize(
    "shape, channels",
    [((6, 8, 8), (4, 8)), ((5, 2, 7, 9), (3,)), ((1, 1, 4, 4), (2, 2)), ((3, 1, 5, 6), ())],
)
def test_encoder_and_decoder_shapes(shape, channels):
    clips = np.random.default_rng(0).random((3, *shape))
    m = Video(channels=channels).fit(clips)
    sample = (1, *shape) if len(shape) == 3 else (shape[1], shape[0], *shape[2:])
    assert m.input_shape_ == m.decoder_output_shape() == sample
    encoder, width = m.build_encoder((6,))
    assert width == 6
    assert encoder(torch.as_tensor(m.validate(clips))).shape == (3, 6)
    assert m.build_decoder(5, (6,))(torch.zeros(3, 5)).shape == (3, *sample)


def test_the_default_layers_are_3d_convolutions(gray):
    m = Video(channels=(4, 8)).fit(gray)
    encoder, _ = m.build_encoder((16,))
    decoder = m.build_decoder(4, (16,))

    def count(module, kind):
        return sum(isinstance(layer, kind) for layer in module.modules())

    assert count(encoder, nn.Conv3d) == 2 and count(decoder, nn.ConvTranspose3d) == 2
    assert count(encoder, nn.Conv2d) == count(decoder, nn.ConvTranspose2d) == 0


def test_pixel_loss_is_the_image_one(colour):
    assert small_video().fit(colour).loss_ == "bce"
    shifted = 3 * colour - 1
    m = small_video().fit(shifted)
    assert m.loss_ == "mse"
    model_order = np.moveaxis(shifted, 2, 1)
    np.testing.assert_allclose(m.mean_, model_order.mean(axis=0), atol=1e-5)
    assert m.scale_.shape == (2, FRAMES, SIZE, SIZE) and (m.scale_ > 0).all()
    scaler = m.build_scaler()
    x = torch.as_tensor(m.validate(shifted))
    np.testing.assert_allclose(scaler.inverse(scaler(x)).numpy(), x.numpy(), atol=1e-5)


# -- kinds -----------------------------------------------------------------------------


def test_registered_and_inferred_for_5d_arrays_only(gray, colour):
    assert KINDS["video"] is Video
    assert isinstance(make_modality("video", LABEL), Video)
    assert isinstance(infer_modality(colour, LABEL), Video)
    # 4-D stays an image (colour images, or grayscale clips when named "video").
    inferred = infer_modality(gray, LABEL)
    assert isinstance(inferred, Image) and not isinstance(inferred, Video)


def test_the_estimator_infers_5d_clips_as_video(colour):
    ae = MultimodalAutoencoder(**SMALL).fit({"clip": colour})
    assert isinstance(ae.modalities_["clip"], Video)
    assert ae.modalities_["clip"].input_shape_ == (2, FRAMES, SIZE, SIZE)


def test_clone_and_get_params():
    m = Video(channels=(4,), pixel_loss="mse")
    expected = {"channels": (4,), "pixel_loss": "mse", "encoder": None, "decoder": None}
    assert clone(m).get_params() == expected
    assert not hasattr(clone(small_video().fit(np.zeros((2, 3, 4, 4)))), "input_shape_")


# -- through the estimator ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data_name, spec", [("gray", "video"), ("colour", "video"), ("colour", None)]
)
def test_both_layouts_round_trip_through_the_estimator(request, stats, data_name, spec):
    clips = request.getfixturevalue(data_name)
    modalities = {"clip": spec} if spec else None
    X = {"clip": clips, "stats": stats}
    ae = MultimodalAutoencoder(modalities=modalities, **SMALL).fit(X)
    Z = ae.transform(X)
    assert Z.shape == (N, 4) and np.isfinite(Z).all()
    rec = ae.inverse_transform(Z)
    assert rec["clip"].shape == clips.shape and rec["clip"].dtype == np.float32
    assert rec["clip"].min() >= 0 and rec["clip"].max() <= 1  # bce: probabilities
    assert rec["stats"].shape == stats.shape


@pytest.mark.parametrize("data_name", ["gray", "colour"])
def test_training_lowers_the_reconstruction_loss(request, data_name):
    clips = request.getfixturevalue(data_name)
    X = {"clip": 2 * clips - 0.5}  # outside [0, 1]: the standardized MSE
    params = dict(
        SMALL, modalities={"clip": Video(channels=(4, 8))}, noise_std=0.0,
        hidden_dims=HiddenLayers((16,), dropout=0.0),
    )
    # The same initial weights (same random_state), left as they are by a step of 1e-12.
    initial = MultimodalAutoencoder(**params, lr=1e-12).fit(X)
    trained = MultimodalAutoencoder(**dict(params, max_epochs=25), lr=1e-2).fit(X)
    assert trained.modalities_["clip"].loss_ == "mse"
    # Measured: 0.558 -> 0.357 (grayscale), 0.568 -> 0.364 (colour).
    assert -trained.score(X) < 0.8 * -initial.score(X)


@pytest.mark.parametrize("data_name", ["gray", "colour"])
def test_missing_clips_give_the_code_of_the_other_modality(request, stats, data_name):
    clips = request.getfixturevalue(data_name).copy()
    lacking = np.arange(N) % 5 == 2
    clips[lacking] = np.nan  # a whole clip: the sample lacks the modality
    X = {"clip": clips, "stats": stats}
    ae = MultimodalAutoencoder(modalities={"clip": "video"}, **SMALL).fit(X)
    rows = np.flatnonzero(lacking)
    Z = ae.transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z[rows], ae.transform({"stats": stats[rows]}), rtol=1e-6, atol=1e-6)
    # Where the clip is given, it counts.
    full = ae.transform({"clip": request.getfixturevalue(data_name), "stats": stats})
    assert (np.abs(full[rows] - Z[rows]).max(axis=1) > 1e-6).all()
    np.testing.assert_allclose(full[~lacking], Z[~lacking], rtol=1e-6, atol=1e-6)
    assert ae.inverse_transform(Z)["clip"].shape == clips.shape


def test_pickle_round_trip(colour, stats):
    m = small_video(pixel_loss="mse").fit(colour)
    again = pickle.loads(pickle.dumps(m))
    assert again.input_shape_ == m.input_shape_ and again.input_ndim_ == 5
    x = torch.as_tensor(m.validate(colour[:3]))
    torch.testing.assert_close(again.build_scaler()(x), m.build_scaler()(x))
    X = {"clip": colour, "stats": stats}
    ae = MultimodalAutoencoder(**SMALL).fit(X)
    loaded = pickle.loads(pickle.dumps(ae))
    Z = ae.transform(X)
    np.testing.assert_array_equal(loaded.transform(X), Z)
    rec, rec_loaded = ae.inverse_transform(Z), loaded.inverse_transform(Z)
    np.testing.assert_array_equal(rec_loaded["clip"], rec["clip"])


def test_fits_next_to_tokens(gray, stats):
    # The direction of the move, in tokens 1-4, then padding (0) for half the clips.
    tokens = np.zeros((N, 3), np.int64)
    tokens[:, 0] = 1 + (stats[:, 2] > 0)
    tokens[::2, 1] = 3 + (stats[::2, 3] > 0)
    X = {"clip": gray, "txt": tokens}
    ae = MultimodalAutoencoder(modalities={"clip": "video", "txt": "tokens"}, **SMALL).fit(X)
    assert isinstance(ae.modalities_["clip"], Video)
    rec = ae.inverse_transform(ae.transform(X))
    assert rec["clip"].shape == gray.shape and rec["txt"].shape == tokens.shape
    assert rec["txt"].dtype.kind == "i" and set(np.unique(rec["txt"])) <= set(range(5))
    assert np.isfinite(ae.score(X))


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, shown", [((4, 8, 8), "4, 8, 8"), ((4, 6, 2, 8, 8, 1), "4, 6, 2, 8, 8, 1")]
)
def test_wrong_rank_names_the_modality_and_the_layouts(shape, shown):
    message = (
        r"Modality 'clip' must be a 4-D or 5-D array: \(n_samples, time, channels, height, "
        rf"width\), or \(n_samples, time, height, width\) for grayscale; got shape \({shown}\)\."
    )
    with pytest.raises(ValueError, match=message):
        small_video().fit(np.zeros(shape), LABEL)


def test_wrong_rank_through_the_estimator(colour):
    with pytest.raises(ValueError, match=r"Modality 'clip' must be a 4-D or 5-D array"):
        MultimodalAutoencoder(modalities={"clip": "video"}, **SMALL).fit({"clip": colour[:, 0, 0]})


def test_other_clip_shapes_than_in_fit_are_refused(gray):
    ae = MultimodalAutoencoder(modalities={"clip": "video"}, **SMALL).fit({"clip": gray})
    with pytest.raises(ValueError, match=r"Modality 'clip' has samples of shape \(1, 5, 8, 8\)"):
        ae.transform({"clip": gray[:, :5]})


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.nan, r"Modality 'clip' contains NaN in 1 rows \(first: 2\)\. Values must be finite"),
        (np.inf, r"Modality 'clip' contains infinity .* in 1 rows \(first: 2\)"),
    ],
)
def test_non_finite_values_are_refused(colour, bad, message):
    clips = colour.copy()
    clips[2, 3, 1, 4, 4] = bad
    with pytest.raises(ValueError, match=message):
        small_video().fit(clips, LABEL)
    with pytest.raises(ValueError, match=message):  # one value, not a whole clip: not missing
        MultimodalAutoencoder(**SMALL).fit({"clip": clips})


def test_bce_refuses_values_outside_the_unit_interval(gray):
    m = small_video().fit(gray, LABEL)
    shifted = gray[:10].copy()
    shifted[3, 2, 4, 4] = 1.5
    message = (
        r"Modality 'clip' must hold values in \[0, 1\] for the video loss 'bce' \(use "
        r"pixel_loss='mse' for other values\); values outside it are in 1 rows \(first: 3\)"
    )
    with pytest.raises(ValueError, match=message):
        m.validate(shifted, LABEL)
    with pytest.raises(ValueError, match=r"for the video loss 'bce'"):
        small_video(pixel_loss="bce").fit(-gray, LABEL)


@pytest.mark.parametrize(
    "modality, message",
    [
        (Video(pixel_loss="l1"), r"the 'pixel_loss' parameter of Video must be one of \("),
        (Video(channels=(4, 0)), r"the 'channels' parameter of Video must be a tuple of positive"),
    ],
)
def test_invalid_parameters(modality, message):
    with pytest.raises(ValueError, match=message):
        modality.fit(np.zeros((2, 3, 4, 4)))
