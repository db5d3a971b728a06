"""Counts (bag-of-words) and the sparse data path: gathers, checks, losses, estimator."""

import pickle
import warnings
from unittest import mock

import numpy as np
import pytest
import torch
from scipy import sparse, special, stats
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import NearestCentroid

from skmmae import MultimodalAutoencoder
from skmmae._module import MultimodalAutoencoderModule
from skmmae._loss import ReconstructionLoss
from skmmae._data import TensorBatchIterator, TensorDictDataset, TensorValidSplit
from skmmae._sparse import SparseRows
from skmmae.modalities import Counts, infer_modality
from skmmae.modalities._counts import negative_binomial_nll
from skmmae.options import EarlyStop

# Three topics, 16 short sentences each; topic words recur within a topic.
SPORTS = [
    "the team won the match with a late goal",
    "the coach said the players played a great match",
    "the striker scored a goal and the fans cheered",
    "the team lost the cup match after a penalty",
    "the referee gave the striker a yellow card in the match",
    "the players and the coach celebrated the league title",
    "fans watched the team score a goal in the final",
    "the goalkeeper saved a penalty and the team won",
    "the league season ends with a cup final match",
    "the coach picked a young striker for the team",
    "the players trained before the league match",
    "a goal from the striker won the cup for the team",
    "the fans sang as the players scored another goal",
    "the referee stopped the match after a foul on the striker",
    "the team needs a win to stay top of the league",
    "the coach praised the goalkeeper after the match",
]
COOKING = [
    "bake the bread in a hot oven",
    "melt the butter and stir in the flour for the sauce",
    "add salt and pepper to the soup",
    "fry the onions and garlic in butter",
    "knead the dough and bake the bread",
    "roast the chicken with garlic in the oven",
    "the recipe needs flour butter and sugar",
    "stir the sauce and season with salt and pepper",
    "simmer the soup with onions and garlic",
    "the chicken recipe uses lemon garlic and butter",
    "mix the flour into the dough and let it rise",
    "serve the soup with fresh bread and butter",
    "the sauce needs more salt and a little pepper",
    "preheat the oven and bake the chicken",
    "chop the onions for the sauce and the soup",
    "this bread recipe uses flour salt and yeast",
]
COMPUTING = [
    "the compiler found a bug in the code",
    "the server crashed after the software update",
    "the program reads data from a file",
    "a memory bug in the kernel froze the server",
    "run the tests before you merge the code",
    "the database stores the data on the server",
    "fix the bug and compile the code again",
    "the software update patched the kernel",
    "the program writes the data to the database",
    "the tests found a memory leak in the program",
    "the network server sends the file to the client",
    "update the compiler to build the new software",
    "the kernel loads the program into memory",
    "the code reads the file and parses the data",
    "the database server needs a software update",
    "a failing test showed a bug in the compiler",
]
DOCS = SPORTS + COOKING + COMPUTING
TOPICS = np.repeat([0, 1, 2], 16)



@pytest.fixture(scope="module")
def words():
    """Bag-of-words of the corpus (scipy CSR, int64 counts)."""
    return CountVectorizer(stop_words="english").fit_transform(DOCS)


@pytest.fixture(scope="module")
def words_with_empty_rows(words):
    """The corpus with empty documents at the start, middle and end."""
    empty = sparse.csr_matrix((1, words.shape[1]), dtype=words.dtype)
    return sparse.vstack([empty, words[:20], empty, empty, words[20:], empty]).tocsr()


@pytest.fixture(scope="module")
def topic_feats():
    """A small dense block, weakly tied to the topic."""
    rng = np.random.RandomState(0)
    return (rng.normal(size=(len(DOCS), 3)) + 0.5 * TOPICS[:, None]).astype(np.float32)


# -- the data path of sparse counts (SparseRows itself: test_sparse.py) ---------------


def test_dataset_batches_are_dense_and_splits_stay_sparse(words, topic_feats):
    dataset = TensorDictDataset({"words": words, "feats": topic_feats})
    assert len(dataset) == len(DOCS) and isinstance(dataset.X["words"], SparseRows)
    X, y = dataset[torch.tensor([4, 40, 4])]
    assert y is None
    np.testing.assert_array_equal(X["words"].numpy(), words[[4, 40, 4]].toarray())
    np.testing.assert_array_equal(X["feats"].numpy(), topic_feats[[4, 40, 4]])
    X, _ = dataset[10:13]
    np.testing.assert_array_equal(X["words"].numpy(), words[10:13].toarray())
    train, valid = TensorValidSplit(0.25, seed=0)(dataset)
    assert isinstance(train.X["words"], SparseRows) and isinstance(valid.X["words"], SparseRows)
    assert len(train) + len(valid) == len(DOCS)
    # Rows stay aligned across modalities after the split and the shuffled batches.
    torch.manual_seed(0)
    batches = list(TensorBatchIterator(valid, batch_size=5, shuffle=True))
    seen_words = torch.cat([X["words"] for X, _ in batches]).numpy()
    seen_feats = torch.cat([X["feats"] for X, _ in batches]).numpy()
    order = [int(np.flatnonzero((topic_feats == f).all(axis=1))[0]) for f in seen_feats]
    np.testing.assert_array_equal(seen_words, words[order].toarray())


def test_nothing_densifies_the_whole_matrix(words):
    """Checks, statistics and the data path only ever densify batches."""
    big_rows = []

    def refuse(self, *args, **kwargs):
        big_rows.append(self.shape[0])
        raise AssertionError("the whole sparse matrix was densified")

    with mock.patch.object(sparse.csr_matrix, "toarray", refuse), mock.patch.object(
        sparse.csr_matrix, "todense", refuse
    ):
        modality = Counts()
        values = modality.fit_validate(words, "Modality 'words'")
        dataset = TensorDictDataset({"words": values})
        TensorValidSplit(0.2, seed=0)(dataset)
    assert sparse.issparse(values) and values.dtype == np.float32 and not big_rows


# -- checks ---------------------------------------------------------------------------


def test_validate_keeps_sparse_float32_and_leaves_input_alone(words):
    values = Counts().validate(words)
    assert values.format == "csr" and values.dtype == np.float32
    assert words.dtype == np.int64
    np.testing.assert_array_equal(values.toarray(), words.toarray())
    dense = Counts().validate(words.toarray())
    assert isinstance(dense, np.ndarray) and dense.dtype == np.float32


@pytest.mark.parametrize("form", ["sparse", "dense"])
def test_negative_counts_name_label_and_rows(form):
    X = np.zeros((7, 3))
    X[0, 1], X[5, 2] = -1, -3
    X = sparse.csr_matrix(X) if form == "sparse" else X
    message = r"^Modality 'words' has negative counts in 2 rows \(first: 0, 5\)\.$"
    with pytest.raises(ValueError, match=message):
        Counts().fit(X, "Modality 'words'")


@pytest.mark.parametrize("form", ["sparse", "dense"])
@pytest.mark.parametrize("bad, what", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_counts_are_refused(form, bad, what):
    X = np.ones((4, 3))
    X[2, 0] = bad
    X = sparse.csr_matrix(X) if form == "sparse" else X
    message = rf"Modality 'words' contains {what}.* in 1 rows \(first: 2\)\. Values must be"
    with pytest.raises(ValueError, match=message):
        Counts().fit(X, "Modality 'words'")


def test_non_integer_counts_need_integer_false():
    X = sparse.csr_matrix(np.array([[0.0, 1.0], [0.5, 2.0], [0.0, 0.0], [1.25, 0.0]]))
    message = r"'tfidf' has non-integer counts in 2 rows \(first: 1, 3\)\. Pass Counts\(integer="
    with pytest.raises(ValueError, match=message):
        Counts().fit(X, "Modality 'tfidf'")
    assert Counts(integer=False).fit(X).n_features_ == 2


@pytest.mark.parametrize(
    "X, match",
    [
        (np.ones(5), "2-D"),
        (np.ones((2, 3, 4)), "2-D"),
        (sparse.coo_array(np.ones(4)), "must be a 2-D sparse matrix"),
    ],
)
def test_wrong_rank_is_refused(X, match):
    with pytest.raises(ValueError, match=match):
        Counts().fit(X, "Modality 'words'")


def test_bad_distribution_is_refused(words):
    with pytest.raises(ValueError, match="'distribution' parameter of Counts must be"):
        Counts(distribution="gaussian").fit(words)


def test_infer_modality_maps_sparse_to_counts(words):
    assert isinstance(infer_modality(words, "Modality 'words'"), Counts)


# -- statistics -----------------------------------------------------------------------


@pytest.mark.parametrize("log_transform", [True, False])
def test_statistics_from_sparse_match_dense(words, log_transform):
    dense = words.toarray().astype(np.float64)
    transformed = np.log1p(dense) if log_transform else dense
    for X in (words, dense):
        m = Counts(log_transform=log_transform).fit(X)
        assert m.input_shape_ == (words.shape[1],) and m.n_features_ == words.shape[1]
        np.testing.assert_allclose(m.mean_, transformed.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(m.scale_, transformed.std(axis=0), rtol=1e-5)
        np.testing.assert_allclose(m.rate_, dense.mean(axis=0), rtol=1e-6)


def test_unseen_features_keep_unit_scale():
    m = Counts().fit(sparse.csr_matrix(np.array([[0, 2], [0, 1]])))
    assert m.scale_[0] == 1.0 and m.rate_[0] == 0.0


# -- losses and the model -----------------------------------------------------------


def test_negative_binomial_nll_matches_scipy():
    rng = np.random.RandomState(0)
    counts = rng.poisson(3.0, size=(5, 4)).astype(np.float64)
    log_rate, log_dispersion = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    rate, theta = np.exp(log_rate), np.exp(-log_dispersion)
    logpmf = stats.nbinom.logpmf(counts, theta, theta / (theta + rate))
    expected = -(logpmf + special.gammaln(counts + 1)).mean()
    got = negative_binomial_nll(*(torch.as_tensor(a) for a in (log_rate, log_dispersion, counts)))
    assert got.shape == (5, 4)
    assert got.mean().item() == pytest.approx(expected, rel=1e-10)


def build_model(words, distribution, seed=0):
    torch.manual_seed(seed)
    modalities = {"words": Counts(distribution=distribution).fit(words)}
    module = MultimodalAutoencoderModule(
        modalities, encoding_dim=4, hidden_dims=(16,), fusion="mean"
    )
    return modalities, module, ReconstructionLoss(modalities)


@pytest.mark.parametrize("distribution", ["poisson", "negative_binomial"])
def test_losses_are_finite_and_decrease(words, distribution):
    modalities, module, criterion = build_model(words, distribution)
    width = 2 if distribution == "negative_binomial" else 1
    assert modalities["words"].decoder_output_shape() == (width * words.shape[1],)
    batch = SparseRows.from_scipy(words)[:]
    optimizer = torch.optim.Adam(module.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = criterion(module(words=batch))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0]
    if distribution == "negative_binomial":
        assert module.decoders["words"].log_dispersion.grad is not None


def test_decoder_starts_at_the_mean_rate(words):
    """The initial model predicts about each word's training rate: the baseline."""
    modalities, module, _ = build_model(words, "poisson")
    bias = module.decoders["words"][-1].bias.detach().numpy()
    np.testing.assert_allclose(np.exp(bias), modalities["words"].rate_, rtol=1e-5)


@pytest.mark.parametrize("distribution", ["poisson", "negative_binomial"])
def test_inverse_gives_non_negative_float32_counts(words, distribution):
    _, module, _ = build_model(words, distribution)
    with torch.no_grad():
        rec = module.decode_original(torch.randn(6, 4))["words"]
    assert rec.dtype == torch.float32 and rec.shape == (6, words.shape[1])
    assert (rec >= 0).all()


def test_custom_decoder_must_give_rates_and_dispersions(words):
    custom = torch.nn.Linear(4, words.shape[1])
    Counts(decoder=custom).fit(words).build_decoder(4, (8,))
    with pytest.raises(ValueError, match=rf"\(n_samples, {2 * words.shape[1]}\)"):
        Counts(distribution="negative_binomial", decoder=custom).fit(words).build_decoder(4, (8,))


def test_pickle_and_clone(words):
    m = Counts(distribution="negative_binomial", log_transform=False).fit(words)
    again = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(again.mean_, m.mean_)
    np.testing.assert_array_equal(again.rate_, m.rate_)
    fresh = clone(m)
    assert fresh.get_params() == m.get_params() and not hasattr(fresh, "mean_")
    rows = pickle.loads(pickle.dumps(SparseRows.from_scipy(words)))
    np.testing.assert_array_equal(rows[[0, 47]].numpy(), words[[0, 47]].toarray())


# -- the estimator, end to end --------------------------------------------------------

FIT = dict(encoding_dim=8, hidden_dims=(32,), max_epochs=100, batch_size=16, lr=0.01)


@pytest.fixture(scope="module")
def fitted(words, topic_feats):
    X = {"words": words, "topic_feats": topic_feats}
    return MultimodalAutoencoder(**FIT, random_state=0).fit(X), X


def test_estimator_infers_counts_and_encodes(fitted, words):
    ae, X = fitted
    assert isinstance(ae.modalities_["words"], Counts)
    Z = ae.transform(X)
    assert Z.shape == (len(DOCS), 8) and Z.dtype == np.float32
    rec = ae.inverse_transform(Z)
    assert isinstance(rec["words"], np.ndarray) and rec["words"].shape == words.shape
    assert rec["words"].dtype == np.float32 and (rec["words"] >= 0).all()
    assert rec["topic_feats"].shape == X["topic_feats"].shape


@pytest.mark.parametrize("distribution", ["poisson", "negative_binomial"])
def test_codes_of_the_words_separate_topics(words, distribution):
    # Words alone: the weakly informative dense block would blur what is tested.
    X = {"words": words}
    ae = MultimodalAutoencoder(modalities={"words": Counts(distribution=distribution)}, **FIT)
    Z = ae.set_params(random_state=0).fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # NearestCentroid on tiny folds
        accuracy = cross_val_score(NearestCentroid(), Z, TOPICS, cv=4).mean()
    assert accuracy > 0.6  # chance is 1/3; 0.77-0.96 over seeds 0-5, either distribution


def test_pickle_round_trip_gives_identical_codes(fitted):
    ae, X = fitted
    again = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(again.transform(X), ae.transform(X))


@pytest.mark.parametrize("distribution", ["poisson", "negative_binomial"])
def test_early_stopping_with_sparse_input(words, distribution):
    ae = MultimodalAutoencoder(
        modalities={"words": Counts(distribution=distribution)},
        **{**FIT, "max_epochs": 20},
        early_stopping=EarlyStop(validation_fraction=0.25),
        random_state=0,
    )
    ae.fit({"words": sparse.csr_array(words)})
    valid = ae.net_.history[:, "valid_loss"]
    assert len(valid) > 0 and np.isfinite(valid).all()
    assert np.isfinite(ae.score({"words": words}))
