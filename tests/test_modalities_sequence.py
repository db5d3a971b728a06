"""The token-sequence kind (:class:`skmmae.modalities.Sequence`) and the digits+words data."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from skorch.helper import SliceDict
from torch import nn

import skmmae
from skmmae._module import MultimodalAutoencoderModule
from skmmae._loss import ReconstructionLoss
from skmmae.datasets import decode_words, encode_words, load_digits_words
from skmmae.modalities import KINDS, Continuous, Sequence, make_modality

LABEL = "Modality 'text'"
# Rows of a 4-position vocabulary of 6 ids: a full row (no pad), rows that
# end early, and an empty row (starts with the pad).
TOKENS = np.array(
    [
        [1, 2, 3, 4],
        [5, 1, 0, 0],
        [2, 0, 0, 0],
        [0, 0, 0, 0],
        [3, 3, 5, 0],
    ]
)


def small(**params):
    """A Sequence with tiny layers, so that tests stay fast."""
    return Sequence(embedding_dim=4, hidden_size=8, **params)


@pytest.fixture
def fitted():
    return small().fit(TOKENS, LABEL)


@pytest.fixture(scope="module")
def digits():
    return load_digits_words(return_X_y=True)


# -- fit, validation, errors -----------------------------------------------------------


def test_fit_learns_length_and_vocabulary(fitted):
    assert fitted.max_len_ == 4
    assert fitted.input_shape_ == (4,)
    assert fitted.vocab_size_ == 6
    assert small(vocab_size=10).fit(TOKENS).vocab_size_ == 10


def test_registered_as_tokens():
    assert KINDS["tokens"] is Sequence
    assert isinstance(make_modality("tokens", LABEL), Sequence)


def test_validate_ignores_what_follows_the_end(fitted):
    got = fitted.validate([[2, 0, 5, 1], [0, 4, 4, 4]], LABEL)
    np.testing.assert_array_equal(got, [[2, 0, 0, 0], [0, 0, 0, 0]])
    assert got.dtype == np.int64


def test_shorter_rows_are_padded_longer_need_only_padding(fitted):
    np.testing.assert_array_equal(fitted.validate([[1, 2]], LABEL), [[1, 2, 0, 0]])
    # Extra columns holding only padding (or ignored values) are dropped.
    np.testing.assert_array_equal(
        fitted.validate([[1, 2, 3, 0, 0, 5], [1, 2, 3, 4, 0, 0]], LABEL),
        [[1, 2, 3, 0], [1, 2, 3, 4]],
    )


def test_too_long_at_transform(fitted):
    message = r"Modality 'text' has sequences longer than the 4 .* in 1 rows \(first: 1\)"
    with pytest.raises(ValueError, match=message):
        fitted.validate([[1, 0, 0, 0, 0], [1, 2, 3, 4, 5]], LABEL)


def test_ids_outside_the_vocabulary(fitted):
    # 6 was never seen in fit, so the model has no logit for it.
    message = r"Modality 'text' has token ids outside the vocabulary \[0, 6\) in 2 rows \(first: 0, 2\)."
    with pytest.raises(ValueError, match=message):
        fitted.validate([[6, 0, 0, 0], [1, 0, 0, 0], [1, 2, 9, 0]], LABEL)
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 3\)"):
        small(vocab_size=3).fit(TOKENS, LABEL)


def test_negative_ids():
    message = r"Modality 'text' has negative token ids .* in 1 rows \(first: 1\)"
    with pytest.raises(ValueError, match=message):
        small().fit([[1, 0], [-1, 2]], LABEL)


def test_non_integers_and_wrong_rank():
    with pytest.raises(ValueError, match="Modality 'text' must hold integers"):
        small().fit([[1.0, 2.5]], LABEL)
    with pytest.raises(TypeError, match="Modality 'text' must hold integers"):
        small().fit([["a", "b"]], LABEL)
    message = r"Modality 'text' must be a 2-D array; got shape \(2, 3, 4\)"
    with pytest.raises(ValueError, match=message):
        small().fit(np.zeros((2, 3, 4), dtype=int), LABEL)
    # Whole-number floats are ids.
    assert small().fit(TOKENS.astype(float)).vocab_size_ == 6


@pytest.mark.parametrize(
    "params, name",
    [
        ({"pad_id": -1}, "pad_id"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"embedding_dim": 2.5}, "embedding_dim"),
        ({"vocab_size": 0}, "vocab_size"),
    ],
)
def test_invalid_parameters(params, name):
    with pytest.raises(ValueError, match=f"the '{name}' parameter of Sequence"):
        Sequence(**params).fit(TOKENS)


def test_refit_starts_afresh(fitted):
    fitted.fit([[1, 2, 3, 4, 5, 6, 7]])
    assert (fitted.max_len_, fitted.vocab_size_) == (7, 8)


def test_other_pad_id():
    m = small(pad_id=2).fit([[1, 2, 1], [3, 3, 3]])
    np.testing.assert_array_equal(m.validate([[1, 2, 3], [0, 3, 2]]), [[1, 2, 2], [0, 3, 2]])
    np.testing.assert_array_equal(m.validate([[1]]), [[1, 2, 2]])


def test_pickle_and_clone(fitted):
    copy = pickle.loads(pickle.dumps(fitted))
    assert (copy.max_len_, copy.vocab_size_) == (4, 6)
    np.testing.assert_array_equal(copy.validate(TOKENS), fitted.validate(TOKENS))
    fresh = clone(small(vocab_size=9, pad_id=1))
    assert fresh.get_params()["vocab_size"] == 9 and fresh.get_params()["pad_id"] == 1
    assert not hasattr(fresh, "max_len_")


# -- model parts ---------------------------------------------------------------------------


def test_shapes(fitted):
    torch.manual_seed(0)
    encoder, width = fitted.build_encoder((16,))
    decoder = fitted.build_decoder(3, (16,))
    tokens = fitted.build_scaler()(torch.as_tensor(TOKENS))
    assert tokens.dtype == torch.long
    assert encoder(tokens).shape == (5, width) == (5, 16)
    assert fitted.decoder_output_shape() == (4, 6)
    assert decoder(torch.zeros(5, 3)).shape == (5, 4, 6)


def test_encoder_sees_nothing_after_the_end(fitted):
    torch.manual_seed(0)
    encoder, _ = fitted.build_encoder(())
    tokens = torch.as_tensor(TOKENS)
    changed = tokens.clone()
    changed[1, 3], changed[2, 2], changed[3, 1:] = 4, 5, 1  # all after the first pad
    torch.testing.assert_close(encoder(changed), encoder(tokens))
    before = tokens.clone()
    before[1, 1] = 4
    assert not torch.allclose(encoder(before)[1], encoder(tokens)[1])


def test_loss_counts_positions_up_to_the_first_pad(fitted):
    torch.manual_seed(0)
    output = torch.randn(5, 4, 6)
    target = torch.as_tensor(TOKENS)
    loss = fitted.loss(output, target)
    after_end = target.clone()
    after_end[1, 3], after_end[3, 2] = 5, 1
    torch.testing.assert_close(fitted.loss(output, after_end), loss)
    before_end = target.clone()
    before_end[1, 1] = 4
    assert not torch.isclose(fitted.loss(output, before_end), loss)
    # Each row's mean over exactly its counted positions (4, 3, 2, 1 and 4 of
    # them), then the mean over rows.
    counted = [4, 3, 2, 1, 4]
    per_row = [
        nn.functional.cross_entropy(output[i, :k], target[i, :k]) for i, k in enumerate(counted)
    ]
    torch.testing.assert_close(loss, torch.stack(per_row).mean())
    # Float targets (how the training loss passes them) give the same loss.
    torch.testing.assert_close(fitted.loss(output, target.float()), loss)


def test_inverse_pads_after_the_predicted_end(fitted):
    wanted = torch.tensor([[1, 0, 3, 4], [2, 2, 2, 2], [0, 5, 5, 5]])
    logits = nn.functional.one_hot(wanted, 6).float()
    ids = fitted.build_scaler().inverse(logits)
    assert ids.dtype == torch.int64
    torch.testing.assert_close(ids, torch.tensor([[1, 0, 0, 0], [2, 2, 2, 2], [0, 0, 0, 0]]))


def test_custom_encoder_reads_int64_ids():
    m = Sequence(encoder=lambda: nn.Sequential(nn.Embedding(6, 2), nn.Flatten())).fit(TOKENS)
    _, width = m.build_encoder(())
    assert width == 8


def test_training_reduces_the_loss(digits):
    X, _ = digits
    torch.manual_seed(0)
    image = X["image"][:200].reshape(200, -1)
    modalities = {"image": Continuous().fit(image), "text": small().fit(X["text"][:200])}
    module = MultimodalAutoencoderModule(modalities, 4, (16,), fusion="mean")
    criterion = ReconstructionLoss(modalities)
    inputs = {"image": torch.as_tensor(image), "text": torch.as_tensor(X["text"][:200])}
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = criterion(module(**inputs))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


# -- data ------------------------------------------------------------------------------------


def test_loader(digits):
    X, y = digits
    assert isinstance(X, SliceDict)
    assert X["image"].shape == (1797, 8, 8) and X["image"].dtype == np.float32
    assert X["image"].min() == 0.0 and X["image"].max() == 1.0
    assert X["text"].shape == (1797, 6) and X["text"].dtype == np.int64
    assert 0 <= X["text"].min() and X["text"].max() <= 26
    assert (X["text"][:, -1] == 0).all()  # every word has its end pad
    assert set(y) == set(range(10))
    bunch = load_digits_words()
    assert bunch.vocabulary[0] == "<pad>" and bunch.vocabulary[1:3] == ("a", "b")
    words = bunch.target_names[bunch.target]
    np.testing.assert_array_equal(decode_words(bunch.data["text"]), words)
    assert "Optical" in bunch.DESCR and "scikit-learn" in bunch.DESCR


def test_words_round_trip():
    words = ["zero", "seven", "", "a"]
    np.testing.assert_array_equal(decode_words(encode_words(words)), words)
    np.testing.assert_array_equal(decode_words([[1, 2, 3, 4, 5, 6]]), ["abcdef"])
    with pytest.raises(ValueError, match="letters"):
        encode_words(["Seven"])
    with pytest.raises(ValueError, match=r"ids in \[0, 27\)"):
        decode_words([[27, 0]])


# -- with the estimator ------------------------------------------------------------------------


def test_estimator_reconstructs_the_words(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=300, test_size=200, stratify=y, random_state=0
    )
    model = skmmae.MultimodalAutoencoder(
        modalities={"image": "image", "text": Sequence(embedding_dim=8, hidden_size=32)},
        encoding_dim=8,
        hidden_dims=(64,),
        max_epochs=80,  # 80 reach 1.0 for seeds 0-2; 60 reach 0.89-1.0
        lr=1e-2,
        random_state=0,
    ).fit(X_train)
    codes = model.transform(X_test)
    reconstructed = model.inverse_transform(codes)
    assert reconstructed["image"].shape == (200, 8, 8)
    text = reconstructed["text"]
    assert text.dtype == np.int64 and text.shape == (200, 6)
    accuracy = np.mean(decode_words(text) == load_digits_words().target_names[y_test])
    assert accuracy > 0.9
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.transform(X_test), codes)


def test_a_stray_huge_token_id_is_refused_before_allocating():
    tokens = TOKENS.copy()
    tokens[1, 0] = 10**8
    message = (
        r"Modality 'text' has token ids of 65536 or more \(the largest is 100000000\) "
        r"in 1 rows \(first: 1\)\..*vocab_size"
    )
    with pytest.raises(ValueError, match=message):
        Sequence().fit(tokens, label=LABEL)
    # An explicit vocabulary size is the user's choice; the limit is only on inference.
    assert Sequence(vocab_size=70_000).fit(tokens % 70_000).vocab_size_ == 70_000
    assert Sequence().fit(np.array([[65_535, 1]])).vocab_size_ == 65_536


def test_a_bad_parameter_names_the_modality():
    X = {"text": TOKENS, "x": np.ones((len(TOKENS), 2))}
    bad = Sequence(hidden_size=0)
    ae = skmmae.MultimodalAutoencoder(2, max_epochs=1, modalities={"text": bad})
    with pytest.raises(ValueError, match=r"Modality 'text': the 'hidden_size' parameter"):
        ae.fit(X)
