"""MultimodalAutoencoder as an sklearn estimator: checks, persistence, pipelines, learning."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback, EarlyStopping
from skorch.helper import SliceDict
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat
from skmmae.options import EarlyStop

FAST = dict(encoding_dim=3, hidden_dims=(16,), max_epochs=3, random_state=0)


def small_data(n=60, seed=0):
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n, 2))
    return {
        "a": latent @ rng.normal(size=(2, 5)) + 0.1 * rng.normal(size=(n, 5)),
        "b": 100 + 10 * latent @ rng.normal(size=(2, 3)),
    }


# Expected failures: none. Every check of sklearn's suite passes on the array form.
@parametrize_with_checks(
    [MultimodalAutoencoder(encoding_dim=2, hidden_dims=(8,), max_epochs=3, random_state=0)]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_fit_on_mfeat_learns(mfeat_stratified):
    X_train, X_test, y_train, y_test = mfeat_stratified
    ae = MultimodalAutoencoder(encoding_dim=10, max_epochs=30, random_state=0)
    Z_train = ae.fit_transform(X_train)
    # The per-feature training mean scores a loss of about 1 in standardized
    # units; a model that learned must do far better on unseen data.
    assert -ae.score(X_test) < 0.5
    recon = ae.inverse_transform(ae.transform(X_test))
    for name, block in X_test.items():
        mean_error = ((block - X_train[name].mean(axis=0)) ** 2).mean()
        assert ((block - recon[name]) ** 2).mean() < 0.6 * mean_error, name
    classifier = LogisticRegression(max_iter=2000).fit(Z_train, y_train)
    assert classifier.score(ae.transform(X_test), y_test) > 0.85  # chance is 0.1


def test_reconstruction_in_original_units():
    X = small_data()
    ae = MultimodalAutoencoder(**{**FAST, "max_epochs": 60}).fit(X)
    recon = ae.inverse_transform(ae.transform(X))
    # "b" lives around 100: reconstructions must be there too, not near 0.
    assert abs(recon["b"].mean() - X["b"].mean()) < 0.1 * X["b"].std()


def test_same_seed_same_codes_and_global_rng_untouched():
    X = small_data()
    state = torch.get_rng_state()
    Z1 = MultimodalAutoencoder(**FAST).fit_transform(X)
    assert torch.equal(state, torch.get_rng_state())
    Z2 = MultimodalAutoencoder(**FAST).fit_transform(X)
    Z3 = MultimodalAutoencoder(**{**FAST, "random_state": 1}).fit_transform(X)
    np.testing.assert_array_equal(Z1, Z2)
    assert not np.allclose(Z1, Z3)


def test_clone_of_fitted_gives_identical_refit():
    X = small_data()
    ae = MultimodalAutoencoder(**FAST).fit(X)
    twin = clone(ae)
    assert not hasattr(twin, "net_")
    assert twin.get_params() == ae.get_params()
    np.testing.assert_array_equal(twin.fit(X).transform(X), ae.transform(X))


@pytest.mark.parametrize("dump, load", [(pickle.dumps, pickle.loads), (None, None)])
def test_persistence_round_trip(dump, load, tmp_path):
    X = small_data()
    ae = MultimodalAutoencoder(**FAST).fit(X)
    if dump is None:  # joblib, through a file
        joblib.dump(ae, tmp_path / "ae.joblib")
        restored = joblib.load(tmp_path / "ae.joblib")
    else:
        restored = load(dump(ae))
    Z = ae.transform(X)
    np.testing.assert_array_equal(restored.transform(X), Z)
    for name, block in ae.inverse_transform(Z).items():
        np.testing.assert_array_equal(restored.inverse_transform(Z)[name], block)
    assert restored.score(X) == ae.score(X)


def test_pipeline_before_classifier(mfeat_stratified):
    X_train, X_test, y_train, y_test = mfeat_stratified
    pipe = make_pipeline(
        MultimodalAutoencoder(encoding_dim=10, max_epochs=10, random_state=0),
        LogisticRegression(max_iter=2000),
    )
    assert pipe.fit(X_train, y_train).score(X_test, y_test) > 0.8


def _subset(X, y, n=300):
    keep = np.arange(0, len(y), len(y) // n)
    return X[keep], y[keep]


@pytest.mark.parametrize("as_frame", [False, True], ids=["slicedict", "multiindex"])
def test_grid_search_over_encoding_dim(as_frame):
    X, y = load_mfeat(return_X_y=True, as_frame=as_frame)
    if as_frame:
        X, y = X.iloc[::7], y.iloc[::7]
    else:
        X, y = _subset(X, y)
    pipe = make_pipeline(
        MultimodalAutoencoder(hidden_dims=(32,), max_epochs=5, random_state=0),
        LogisticRegression(max_iter=500),
    )
    search = GridSearchCV(pipe, {"multimodalautoencoder__encoding_dim": [2, 8]}, cv=2)
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    # Ten digit classes: an 8-d code separates them better than a 2-d one.
    assert scores.shape == (2,) and 0.2 < scores[0] < scores[1]
    assert search.best_params_["multimodalautoencoder__encoding_dim"] == 8
    assert search.best_estimator_[0].transform(X).shape[1] == 8


def test_grid_search_without_labels_uses_score():
    X, _ = _subset(*load_mfeat(return_X_y=True))
    search = GridSearchCV(
        MultimodalAutoencoder(hidden_dims=(32,), max_epochs=5, random_state=0),
        {"encoding_dim": [1, 16]},
        cv=2,
    ).fit(X)
    # A 16-d code reconstructs better than a 1-d code.
    assert search.best_params_ == {"encoding_dim": 16}


def test_cross_val_score_in_parallel():
    X, y = _subset(*load_mfeat(return_X_y=True), n=200)
    pipe = make_pipeline(
        MultimodalAutoencoder(encoding_dim=8, hidden_dims=(32,), max_epochs=5, random_state=0),
        LogisticRegression(max_iter=500),
    )
    serial = cross_val_score(pipe, X, y, cv=2)
    parallel = cross_val_score(pipe, X, y, cv=2, n_jobs=2)
    np.testing.assert_allclose(parallel, serial)
    assert serial.mean() > 0.2


def test_grid_search_on_a_dask_cluster_matches_one_process():
    """The search of the user guide's "Scaling out" page, on a real local cluster."""
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    X, y = _subset(*load_mfeat(return_X_y=True), n=200)
    pipe = make_pipeline(
        MultimodalAutoencoder(hidden_dims=(32,), max_epochs=5, random_state=0),
        LogisticRegression(max_iter=500),
    )
    grid = {"multimodalautoencoder__encoding_dim": [2, 8], "multimodalautoencoder__fusion": ["mean", "concat"]}
    serial = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        with distributed.Client(cluster) as client, parallel_backend("dask"):
            with distributed.get_task_stream(client) as tasks:
                on_dask = GridSearchCV(pipe, grid, cv=2, n_jobs=-1).fit(X, y)
    # The fits ran as tasks of the cluster, on both of its workers.
    assert len({task["worker"] for task in tasks.data}) == 2
    assert on_dask.best_params_ == serial.best_params_
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_allclose(on_dask.cv_results_[key], serial.cv_results_[key], rtol=1e-6)
    np.testing.assert_allclose(on_dask.predict_proba(X), serial.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_set_output_pandas_and_feature_names():
    X = small_data()
    frame = pd.concat({name: pd.DataFrame(block) for name, block in X.items()}, axis=1)
    frame.index = [f"s{i}" for i in range(len(frame))]
    ae = MultimodalAutoencoder(**FAST).set_output(transform="pandas")
    Z = ae.fit_transform(frame)
    expected = [f"multimodalautoencoder{i}" for i in range(3)]
    assert list(Z.columns) == expected == list(ae.get_feature_names_out())
    assert list(Z.index) == list(frame.index)
    recon = ae.inverse_transform(Z)
    assert list(recon.index) == list(frame.index) and recon.columns.equals(frame.columns)


def test_n_features_in_counts_all_modalities():
    X = small_data()
    ae = MultimodalAutoencoder(**FAST).fit(X)
    assert ae.n_features_in_ == 8
    assert {n: m.n_features_ for n, m in ae.modalities_.items()} == {"a": 5, "b": 3}
    assert not hasattr(ae, "feature_names_in_")


@pytest.mark.parametrize("fusion", ["mean", "concat"])
def test_fusions_train(fusion):
    X = small_data()
    # The decoders' score: a kernel read-out (refitted after each fit) would
    # nearly interpolate this training data after any number of epochs.
    ae = MultimodalAutoencoder(**{**FAST, "fusion": fusion, "max_epochs": 1, "readout": "decoder"})
    ae.fit(X)
    before = ae.score(X)
    ae.set_params(max_epochs=40).fit(X)
    assert ae.score(X) > before


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", torch.optim.RMSprop])
def test_optimizers(optimizer):
    ae = MultimodalAutoencoder(**{**FAST, "optimizer": optimizer, "weight_decay": 1e-4})
    ae.fit(small_data())
    expected = optimizer if isinstance(optimizer, type) else type(ae.net_.optimizer_)
    assert isinstance(ae.net_.optimizer_, expected)
    assert ae.net_.optimizer_.param_groups[0]["weight_decay"] == 1e-4


def test_linear_model_without_hidden_layers():
    X = small_data()
    ae = MultimodalAutoencoder(**{**FAST, "hidden_dims": ()}).fit(X)
    layers = {type(m) for m in ae.net_.module_.modules()}
    assert torch.nn.Linear in layers and torch.nn.ReLU not in layers
    # Standardizing, linear encoders and the mean fusion: the code is affine in X.
    other = small_data(seed=1)
    middle = {name: (X[name] + other[name]) / 2 for name in X}
    codes = [ae.transform(data) for data in (X, other, middle)]
    np.testing.assert_allclose(codes[2], (codes[0] + codes[1]) / 2, rtol=1e-4, atol=1e-5)


class WeightsPerEpoch(Callback):
    """A copy of the module's weights at the end of every epoch."""

    def on_train_begin(self, net, **kwargs):
        self.weights = []

    def on_epoch_end(self, net, **kwargs):
        self.weights.append({k: v.clone() for k, v in net.module_.state_dict().items()})


def test_early_stopping_stops_and_keeps_best():
    X = small_data(n=80)
    ae = MultimodalAutoencoder(
        **{**FAST, "max_epochs": 500, "early_stopping": EarlyStop(patience=3), "lr": 0.05},
        callbacks=[WeightsPerEpoch()],
    ).fit(X)
    history = ae.net_.history
    assert len(history) < 500
    valid = history[:, "valid_loss"]
    # Stopped because the last `patience` epochs never beat the best before.
    best = int(np.argmin(valid))
    assert best == len(valid) - 4 and min(valid[-3:]) >= valid[best]
    # And the fitted weights are the best epoch's, not the last one's.
    snapshots = dict(ae.net_.callbacks_)["WeightsPerEpoch"].weights
    fitted = ae.net_.module_.state_dict()
    for key, value in snapshots[best].items():
        torch.testing.assert_close(fitted[key], value, rtol=0, atol=0)
    assert any(not torch.equal(fitted[k], v) for k, v in snapshots[-1].items())


def test_early_stopping_is_no_interruption(recwarn):
    X = small_data(n=80)
    params = {**FAST, "max_epochs": 500, "early_stopping": EarlyStop(patience=2)}
    ae = MultimodalAutoencoder(**params, lr=0.05).fit(X)
    assert len(ae.net_.history) < 500
    # A user's own early stopping neither.
    stopper = EarlyStopping(monitor="train_loss", patience=1, threshold=0.5)
    ae = MultimodalAutoencoder(**{**FAST, "max_epochs": 50, "callbacks": [stopper]}).fit(X)
    assert len(ae.net_.history) < 50
    assert not [w for w in recwarn if "interrupted" in str(w.message)]


class RaiseAt(Callback):
    """Raise ``error`` at the start of batch ``batch`` (counted from 1 over the fit)."""

    def __init__(self, error, batch=None, on_train_end=False):
        self.error, self.batch, self.at_train_end = error, batch, on_train_end
        self.batches = 0

    def on_batch_begin(self, net, training=False, **kwargs):
        self.batches += training
        if self.batch is not None and self.batches == self.batch:
            raise self.error

    def on_train_end(self, net, **kwargs):
        if self.at_train_end:
            raise self.error


def fitted_state(ae, X):
    return ae.net_, ae.modalities_, ae.transform(X)


@pytest.mark.parametrize(
    "failing",
    [
        RaiseAt(RuntimeError("in epoch 2"), batch=2),
        RaiseAt(RuntimeError("in the post-fit steps"), on_train_end=True),
        # skorch ends training on an interrupt between batches, but one in
        # the post-fit steps escapes.
        RaiseAt(KeyboardInterrupt(), on_train_end=True),
    ],
    ids=["exception-in-training", "exception-after-training", "interrupt-after-training"],
)
def test_a_failed_fit_leaves_the_estimator_as_it_was(failing):
    X = small_data()
    ae = MultimodalAutoencoder(**FAST)
    error = type(failing.error)
    ae.set_params(callbacks=[failing])
    unfitted = dict(vars(ae))
    with pytest.raises(error):
        ae.fit(X)
    assert vars(ae) == unfitted  # nothing fitted, nothing half-built
    # A fitted estimator keeps its model, whole.
    ae.set_params(callbacks=None).fit(X)
    net, modalities, codes = fitted_state(ae, X)
    fitted = dict(vars(ae))
    with pytest.raises(error):
        ae.set_params(callbacks=[failing]).fit(small_data(seed=1))
    assert {k: v for k, v in vars(ae).items() if k != "callbacks"} == {
        k: v for k, v in fitted.items() if k != "callbacks"
    }
    assert ae.net_ is net and ae.modalities_ is modalities
    np.testing.assert_array_equal(ae.transform(X), codes)


def test_an_interrupted_fit_keeps_the_model_so_far_with_its_post_fit_steps():
    X = small_data()  # 60 rows in batches of 128: one batch per epoch
    interrupt = RaiseAt(KeyboardInterrupt(), batch=3)
    ae = MultimodalAutoencoder(**{**FAST, "max_epochs": 5, "callbacks": [interrupt]})
    message = r"interrupted \(KeyboardInterrupt\) after 2 complete epochs of 5"
    with pytest.warns(UserWarning, match=message):
        ae.fit(X)
    assert sum("train_loss" in row for row in ae.net_.history) == 2
    assert sorted(ae.readout_.reconstructors_) == ["a", "b"]  # the read-outs were fitted
    assert ae.code_scale_ > 0 and ae.code_scale_ != 1.0  # and the code scale measured
    codes = ae.transform(X)
    assert codes.shape == (60, 3) and np.isfinite(codes).all()


def test_user_callbacks_run_and_are_not_mutated():
    class CountEpochs(Callback):
        def __init__(self):
            self.epochs = 0

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    counter = CountEpochs()
    ae = MultimodalAutoencoder(**{**FAST, "callbacks": [counter]}).fit(small_data())
    assert counter.epochs == 0  # the user's object is copied, never changed
    fitted = [cb for _, cb in ae.net_.callbacks_ if isinstance(cb, CountEpochs)]
    assert len(fitted) == 1 and fitted[0].epochs == FAST["max_epochs"]


def test_verbose_prints_losses_and_silent_by_default(capsys):
    MultimodalAutoencoder(**FAST).fit(small_data())
    assert capsys.readouterr().out == ""
    MultimodalAutoencoder(**{**FAST, "verbose": 1}).fit(small_data())
    assert "train_loss" in capsys.readouterr().out


def test_device_cpu_and_auto():
    ae = MultimodalAutoencoder(**{**FAST, "device": "cpu"}).fit(small_data())
    assert ae.device_ == torch.device("cpu")
    auto = MultimodalAutoencoder(**FAST).fit(small_data())
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert auto.device_.type == expected


def test_score_is_negative_training_loss():
    X = small_data()
    ae = MultimodalAutoencoder(**FAST).fit(X)
    Z = ae.transform(X)
    recon = ae.inverse_transform(Z)
    # Mean over modalities of each modality's MSE in standardized units.
    per_modality = [
        (((X[n] - recon[n]) / m.scale_) ** 2).mean() for n, m in ae.modalities_.items()
    ]
    np.testing.assert_allclose(-ae.score(X), np.mean(per_modality), rtol=1e-4)


def test_slicedict_rows_transform_like_whole():
    X = SliceDict(**small_data())
    ae = MultimodalAutoencoder(**FAST).fit(X)
    np.testing.assert_allclose(ae.transform(X[10:20]), ae.transform(X)[10:20], rtol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_trains_like_cpu():
    X = small_data()
    settings = {**FAST, "max_epochs": 40}
    cpu = MultimodalAutoencoder(**settings, device="cpu").fit(X)
    gpu = MultimodalAutoencoder(**settings, device="cuda").fit(X)
    assert gpu.device_.type == "cuda"
    assert gpu.transform(X).dtype == np.float32
    # Shuffling draws from the device's generator, so the runs differ a little.
    np.testing.assert_allclose(gpu.score(X), cpu.score(X), rtol=0.25)


@pytest.fixture(scope="module")
def fitted_pair():
    X = small_data()
    return X, {
        readout: MultimodalAutoencoder(**{**FAST, "readout": readout}).fit(X)
        for readout in ("kernel", "decoder")
    }


@pytest.mark.parametrize("readout", ["kernel", "decoder"])
def test_values_the_model_cannot_compute_with_are_named_never_nan(fitted_pair, readout):
    X, models = fitted_pair
    ae = models[readout]
    huge = {"a": np.full((4, 5), 1e30), "b": X["b"][:4]}
    pattern = r"{}: Modality 'a' has values the model cannot compute with in 4 rows .* 1e\+30"
    with pytest.raises(ValueError, match=pattern.format("transform")):
        ae.transform(huge)
    with pytest.raises(ValueError, match=pattern.format("score")):
        ae.score(huge)
    with pytest.raises(ValueError, match=pattern.format("predict_modality")):
        ae.predict_modality({"a": huge["a"]}, "b")
    # The rows the model can compute with are fine.
    assert np.isfinite(ae.transform({"a": X["a"][:4], "b": X["b"][:4]})).all()


@pytest.mark.parametrize("readout", ["kernel", "decoder"])
def test_codes_far_outside_training_are_refused_by_inverse_transform(fitted_pair, readout):
    X, models = fitted_pair
    ae = models[readout]
    codes = ae.transform(X)[:5]
    codes[2] *= 1e30
    with pytest.raises(
        ValueError,
        match=r"inverse_transform: the reconstruction of Modality '[ab]' is not finite in 1 rows "
        r"\(first: 2\)\. Those codes \(largest magnitude .*e\+\d\d\) lie too far outside",
    ):
        ae.inverse_transform(codes)
    assert np.isfinite(ae.inverse_transform(codes[:2])["a"]).all()


def test_token_reconstructions_of_huge_codes_are_refused_not_garbage():
    # Ids are argmaxes of logits: NaN logits would give ids that look valid.
    rng = np.random.default_rng(0)
    X = {"t": rng.integers(1, 5, size=(40, 3)), "x": rng.normal(size=(40, 2))}
    ae = MultimodalAutoencoder(**{**FAST, "modalities": {"t": "tokens"}}).fit(X)
    with pytest.raises(ValueError, match=r"inverse_transform: the reconstruction of Modality"):
        ae.inverse_transform(np.full((2, 3), 1e35, dtype=np.float32))
