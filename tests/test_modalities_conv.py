"""The convolutional kinds: Image and TimeSeries (skmmae.modalities._conv)."""

import inspect
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from torch import nn

import skmmae
from skmmae._module import MultimodalAutoencoderModule
from skmmae._loss import ReconstructionLoss
from skmmae.datasets import load_mfeat
from skmmae.modalities import KINDS, Image, TimeSeries, infer_modality, make_modality

HAS_MODALITIES_PARAM = "modalities" in inspect.signature(skmmae.MultimodalAutoencoder).parameters
needs_modalities_param = pytest.mark.skipif(
    not HAS_MODALITIES_PARAM, reason="MultimodalAutoencoder has no 'modalities' parameter yet"
)


@pytest.fixture(scope="module")
def digits():
    """200 sklearn digits, (n, 8, 8) grayscale in [0, 1]."""
    return (load_digits().images[:200] / 16.0).astype(np.float32)


@pytest.fixture(scope="module")
def pix():
    """mfeat's pixel view as 200 images (n, 15, 16) of values 0..6 (every 10th row: all digits)."""
    X, _ = load_mfeat(return_X_y=True)
    return X["pix"][::10].reshape(-1, 15, 16)


@pytest.fixture(scope="module")
def sines():
    """Noisy sines, (n, 2, 37): channel 0 around 0, channel 1 around 5 and wider."""
    rng = np.random.default_rng(0)
    n, t = 120, np.linspace(0, 2 * np.pi, 37)
    freq, phase = rng.uniform(1, 3, (n, 1)), rng.uniform(0, 2 * np.pi, (n, 1))
    first = np.sin(freq * t + phase)
    second = 5 + 3 * np.cos(freq * t + 2 * phase)
    series = np.stack([first, second], axis=1)
    return series + 0.1 * rng.normal(size=series.shape)


def train_losses(modalities, data, steps=25, encoding_dim=4, hidden_dims=(16,)):
    """Losses of ``steps`` full-batch Adam steps of the torch model."""
    torch.manual_seed(0)
    module = MultimodalAutoencoderModule(modalities, encoding_dim, hidden_dims, fusion="mean")
    criterion = ReconstructionLoss(modalities)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    inputs = {name: torch.as_tensor(m.validate(data[name])) for name, m in modalities.items()}
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = criterion(module(**inputs))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, module


# -- shapes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, channels",
    [
        ((8, 8), (4, 8)),
        ((1, 15, 16), (4, 8)),
        ((28, 28), (4,)),
        ((3, 7, 5), (2, 4, 4)),
        ((2, 1, 1), (4,)),
        ((2, 9, 6), ()),
    ],
)
def test_image_encoder_and_decoder_shapes(shape, channels):
    images = np.random.default_rng(0).random((3, *shape))
    m = Image(channels=channels).fit(images)
    sample = shape if len(shape) == 3 else (1, *shape)
    assert m.input_shape_ == sample
    assert m.decoder_output_shape() == sample
    encoder, width = m.build_encoder((6,))
    decoder = m.build_decoder(5, (6,))
    assert width == 6
    assert encoder(torch.as_tensor(m.validate(images))).shape == (3, 6)
    assert decoder(torch.zeros(3, 5)).shape == (3, *sample)


@pytest.mark.parametrize(
    "shape, channels",
    [((2, 37), (4, 8)), ((8,), (4,)), ((3, 1), (4, 4)), ((1, 16), ()), ((5, 101), (2, 2, 2))],
)
def test_timeseries_encoder_and_decoder_shapes(shape, channels):
    series = np.random.default_rng(0).normal(size=(3, *shape))
    m = TimeSeries(channels=channels).fit(series)
    sample = shape if len(shape) == 2 else (1, *shape)
    assert m.input_shape_ == m.decoder_output_shape() == sample
    encoder, width = m.build_encoder(())  # no MLP: the flattened conv features
    assert encoder(torch.as_tensor(m.validate(series))).shape == (3, width)
    assert m.build_decoder(5, ())(torch.zeros(3, 5)).shape == (3, *sample)


def test_the_decoder_upsamples_with_transposed_convolutions_of_the_right_rank():
    image = Image(channels=(4, 8)).fit(np.zeros((2, 3, 9, 9))).build_decoder(2, ())
    series = TimeSeries(channels=(4, 8)).fit(np.zeros((2, 3, 9))).build_decoder(2, ())

    def count(module, kind):
        return sum(isinstance(layer, kind) for layer in module.modules())

    assert count(image, nn.ConvTranspose2d) == count(series, nn.ConvTranspose1d) == 2
    assert count(image, nn.ConvTranspose1d) == count(series, nn.ConvTranspose2d) == 0


# -- statistics and units ---------------------------------------------------------


def test_image_loss_auto_picks_bce_for_unit_values_and_mse_otherwise(digits, pix):
    assert Image().fit(digits).loss_ == "bce"
    m = Image().fit(pix)
    assert m.loss_ == "mse"
    np.testing.assert_allclose(m.mean_, pix.mean(axis=0)[np.newaxis], rtol=1e-6)
    np.testing.assert_allclose(m.scale_, pix.std(axis=0)[np.newaxis], rtol=1e-5)
    assert not hasattr(Image().fit(digits), "mean_")


def test_image_constant_pixels_keep_scale_one(digits):
    m = Image(pixel_loss="mse").fit(digits)
    constant = digits.std(axis=0) == 0
    assert constant.any()  # the digits' corner pixels are always 0
    np.testing.assert_array_equal(m.scale_[0][constant], 1.0)
    assert np.isfinite(m.build_scaler()(torch.as_tensor(m.validate(digits))).numpy()).all()


def test_image_refit_chooses_its_loss_anew(digits, pix):
    m = Image().fit(digits)
    m.fit(pix)  # a stale "bce" must not reject values above 1
    assert m.loss_ == "mse" and hasattr(m, "mean_")
    m.fit(digits)
    assert m.loss_ == "bce" and not hasattr(m, "mean_")


def test_image_bce_reconstructions_are_probabilities_in_the_fitted_rank(digits):
    m = Image().fit(digits)
    logits = 20 * torch.randn(4, 1, 8, 8)
    values = m.restore(m.build_scaler().inverse(logits).numpy())
    assert values.shape == (4, 8, 8) and values.dtype == np.float32
    assert values.min() >= 0 and values.max() <= 1
    four_d = Image().fit(digits[:, np.newaxis])
    assert four_d.restore(four_d.build_scaler().inverse(logits).numpy()).shape == (4, 1, 8, 8)


def test_image_mse_scaler_round_trips_original_units(pix):
    m = Image().fit(pix)
    scaler = m.build_scaler()
    x = torch.as_tensor(m.validate(pix[:5]))
    np.testing.assert_allclose(scaler.inverse(scaler(x)).numpy(), x.numpy(), atol=1e-5)
    restored = m.restore(scaler.inverse(scaler(x)).numpy())
    assert restored.shape == (5, 15, 16) and restored.dtype == np.float32


def test_multichannel_images_keep_their_channels():
    rng = np.random.default_rng(0)
    rgb = rng.random((6, 3, 9, 11))
    m = Image(channels=(4,)).fit(rgb)
    assert m.input_shape_ == (3, 9, 11) and m.input_ndim_ == 4
    assert m.restore(np.zeros((2, 3, 9, 11), np.float32)).shape == (2, 3, 9, 11)


def test_timeseries_standardizes_each_channel_over_samples_and_time(sines):
    m = TimeSeries().fit(sines)
    per_channel = sines.transpose(1, 0, 2).reshape(2, -1)
    np.testing.assert_allclose(m.mean_, per_channel.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.scale_, per_channel.std(axis=1), rtol=1e-5)
    scaled = m.build_scaler()(torch.as_tensor(m.validate(sines))).numpy()
    np.testing.assert_allclose(scaled.mean(axis=(0, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(scaled.std(axis=(0, 2)), 1, atol=1e-4)
    back = m.build_scaler().inverse(torch.as_tensor(scaled)).numpy()
    np.testing.assert_allclose(back, sines, atol=1e-4)


def test_timeseries_one_channel_2d_input_comes_back_2d_and_constant_channel_scale_one():
    rng = np.random.default_rng(0)
    m = TimeSeries().fit(rng.normal(size=(10, 12)))
    assert m.input_shape_ == (1, 12) and m.input_ndim_ == 2
    assert m.restore(np.zeros((3, 1, 12), np.float32)).shape == (3, 12)
    flat = TimeSeries().fit(np.full((4, 2, 6), 7.0))
    np.testing.assert_array_equal(flat.scale_, [1.0, 1.0])


# -- training ---------------------------------------------------------------------


@pytest.mark.parametrize("data_name", ["digits", "pix"])
def test_image_loss_decreases(request, data_name):
    images = request.getfixturevalue(data_name)
    modalities = {"img": Image(channels=(4, 8)).fit(images)}
    losses, _ = train_losses(modalities, {"img": images})
    assert losses[-1] < 0.9 * losses[0]


def test_timeseries_loss_decreases_next_to_an_image(sines, digits):
    data = {"ts": sines, "img": digits[: len(sines)]}
    modalities = {
        "ts": TimeSeries(channels=(4, 8)).fit(sines),
        "img": Image(channels=(4,)).fit(data["img"]),
    }
    losses, module = train_losses(modalities, data)
    assert losses[-1] < 0.9 * losses[0]
    with torch.no_grad():
        decoded = module.decode_original(torch.zeros(2, 4))
    assert decoded["ts"].shape == (2, 2, 37) and decoded["img"].shape == (2, 1, 8, 8)


def test_custom_encoder_module_and_decoder_factory(digits):
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 7), nn.ReLU())
    decoder = lambda: nn.Sequential(nn.Linear(4, 64), nn.Unflatten(1, (1, 8, 8)))  # noqa: E731
    m = Image(encoder=encoder, decoder=decoder).fit(digits)
    built, width = m.build_encoder((16,))
    assert width == 7 and built is not encoder  # copied: refits never share weights
    losses, _ = train_losses({"img": m}, {"img": digits})
    assert losses[-1] < losses[0]


def test_custom_decoder_of_the_wrong_shape_is_refused(sines):
    m = TimeSeries(decoder=nn.Linear(3, 37)).fit(sines)
    with pytest.raises(ValueError, match=r"must map codes .* to \(n_samples, 2, 37\)"):
        m.build_decoder(3, ())


# -- errors ---------------------------------------------------------------------------


def test_image_wrong_rank_names_the_label(pix):
    flat = pix.reshape(len(pix), -1)
    message = r"Modality 'img' must be a 3-D or 4-D array: .*\(200, 240\)"
    with pytest.raises(ValueError, match=message):
        Image().fit(flat, label="Modality 'img'")
    with pytest.raises(ValueError, match=r"Modality 'img' must be a 3-D or 4-D array"):
        Image().fit(np.zeros((2, 1, 3, 4, 5)), label="Modality 'img'")


def test_timeseries_wrong_rank_names_the_label():
    message = r"Modality 'ts' must be a 2-D or 3-D array: \(n_samples, channels, time\)"
    with pytest.raises(ValueError, match=message):
        TimeSeries().fit(np.zeros((4, 2, 3, 5)), label="Modality 'ts'")


def test_nan_in_an_image_is_refused_with_the_label():
    # A series takes NaN as a value not recorded (test_modalities_timeseries.py).
    values = np.random.default_rng(0).random((4, 8, 8))
    values[2, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"Modality 'm' contains NaN in 1 rows \(first: 2\)"):
        Image().fit(values, label="Modality 'm'")


def test_infinity_in_a_series_is_refused_with_the_label():
    values = np.random.default_rng(0).random((4, 2, 9))
    values[2, 0, 1] = np.inf
    with pytest.raises(ValueError, match=r"Modality 'm' contains infinity .* in 1 rows \(first: 2\)"):
        TimeSeries().fit(values, label="Modality 'm'")


def test_bce_refuses_values_outside_unit_interval(digits):
    m = Image().fit(digits)
    shifted = digits[:10].copy()
    shifted[3, 4, 4] = 1.5
    message = r"Modality 'img' must hold values in \[0, 1\] .* 1 rows \(first: 3\)"
    with pytest.raises(ValueError, match=message):
        m.validate(shifted, label="Modality 'img'")
    with pytest.raises(ValueError, match=r"pixel_loss='mse'"):
        Image(pixel_loss="bce").fit(-digits)


@pytest.mark.parametrize(
    "modality, message",
    [
        (Image(pixel_loss="l1"), "the 'pixel_loss' parameter of Image must be one of"),
        (Image(channels=(4, 0)), "the 'channels' parameter of Image must be a tuple of positive"),
        (TimeSeries(channels=8), "the 'channels' parameter of TimeSeries must be a tuple"),
    ],
)
def test_invalid_parameters(modality, message):
    with pytest.raises(ValueError, match=message):
        modality.fit(np.zeros((2, 4, 4)))


# -- sklearn and pickle ------------------------------------------------------------


def test_kinds_are_registered():
    assert KINDS["image"] is Image and KINDS["timeseries"] is TimeSeries
    assert isinstance(make_modality("timeseries", "Modality 'ts'"), TimeSeries)
    assert isinstance(infer_modality(np.zeros((2, 1, 4, 4)), "Modality 'img'"), Image)


def test_clone_and_get_params():
    m = Image(channels=(4,), pixel_loss="mse")
    expected = {"channels": (4,), "pixel_loss": "mse", "encoder": None, "decoder": None}
    assert clone(m).get_params() == expected
    assert TimeSeries().get_params() == {
        "channels": (16, 32), "pooling": "flatten", "step_masking": 0.0, "encoder": None,
        "decoder": None,
    }
    fitted = Image().fit(np.zeros((2, 4, 4)))
    assert not hasattr(clone(fitted), "input_shape_")


@pytest.mark.parametrize(
    "kind, data_name", [(Image, "pix"), (Image, "digits"), (TimeSeries, "sines")]
)
def test_pickle_round_trip_of_a_fitted_modality(request, kind, data_name):
    values = request.getfixturevalue(data_name)
    m = kind(channels=(4,)).fit(values)
    again = pickle.loads(pickle.dumps(m))
    assert again.input_shape_ == m.input_shape_ and again.input_ndim_ == m.input_ndim_
    x = torch.as_tensor(m.validate(values[:3]))
    torch.testing.assert_close(again.build_scaler()(x), m.build_scaler()(x))


# -- through the estimator ---------------------------------------------------------


@pytest.fixture(scope="module")
def digit_views(digits):
    """The digit images and a small continuous view derived from them."""
    stats = np.c_[
        digits.mean(axis=(1, 2)), digits[:, :, :4].mean(axis=(1, 2)), digits.std(axis=(1, 2))
    ]
    return {"img": digits, "stats": stats}


@needs_modalities_param
@pytest.mark.parametrize("spec", ["image", Image(channels=(4, 8))])
def test_estimator_fits_images_next_to_a_continuous_view(digit_views, spec):
    ae = skmmae.MultimodalAutoencoder(
        modalities={"img": spec}, encoding_dim=3, hidden_dims=(16,), max_epochs=3, random_state=0
    )
    Z = ae.fit(digit_views).transform(digit_views)
    assert Z.shape == (200, 3) and isinstance(ae.modalities_["img"], Image)
    rec = ae.inverse_transform(Z)
    assert rec["img"].shape == (200, 8, 8) and rec["stats"].shape == (200, 3)
    assert rec["img"].min() >= 0 and rec["img"].max() <= 1
    again = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(again.transform(digit_views), Z)
    with pytest.raises(ValueError, match="samples of shape"):
        ae.transform({"img": digit_views["img"][:, :, :7], "stats": digit_views["stats"]})


@needs_modalities_param
def test_estimator_fits_one_channel_series(sines):
    data = {"ts": sines[:, 1]}  # 2-D: only because the kind is named
    ae = skmmae.MultimodalAutoencoder(
        modalities={"ts": TimeSeries(channels=(4,))}, encoding_dim=2, hidden_dims=(8,), max_epochs=2
    )
    rec = ae.fit(data).inverse_transform(ae.transform(data))
    assert rec["ts"].shape == (120, 37) and rec["ts"].dtype == np.float32


def test_a_bad_channels_parameter_names_the_modality():
    from skmmae import MultimodalAutoencoder

    X = {"img": np.zeros((6, 8, 8)), "x": np.ones((6, 2))}
    ae = MultimodalAutoencoder(2, max_epochs=1, modalities={"img": Image(channels=(0,))})
    with pytest.raises(ValueError, match=r"Modality 'img': the 'channels' parameter of Image"):
        ae.fit(X)
