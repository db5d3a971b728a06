"""Private training: DP-SGD through Opacus, the privacy spent, and what is refused."""

import copy
import pickle

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skmmae import MultimodalAutoencoder, load
from skmmae._data import TensorDictDataset
from skmmae.modalities import (
    Binary,
    Categorical,
    Continuous,
    Counts,
    Image,
    Sequence,
    TimeSeries,
)
from skmmae.options import EarlyStop, HiddenLayers, ModalityDropout, Speed
from skmmae.privacy import DifferentialPrivacy, PoissonBatchIterator, restore_torch_layers
from skmmae.refine import CodeRefinement

opacus = pytest.importorskip("opacus")

N = 120


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(N, 2))
    return {
        "a": (latent @ rng.normal(size=(2, 5)) + 0.1 * rng.normal(size=(N, 5))).astype(np.float32),
        "b": (latent @ rng.normal(size=(2, 3)) > 0).astype(np.float32),
    }


PUBLIC = {"a": Continuous(standardize=False), "b": Binary()}


def private_ae(**params):
    defaults = dict(
        encoding_dim=2, hidden_dims=(16,), max_epochs=3, batch_size=32, readout="decoder",
        modalities=PUBLIC, device="cpu", random_state=0,
        privacy=DifferentialPrivacy(epsilon=3.0),
    )
    return MultimodalAutoencoder(**{**defaults, **params})


def test_private_fit_spends_at_most_the_budget(X):
    ae = private_ae().fit(X)
    epsilon, delta = ae.privacy_spent_
    assert 2.5 < epsilon <= 3.0
    assert delta == pytest.approx(1e-5)  # min(1e-5, 0.1 / n)
    per_epoch = ae.net_.history[:, "epsilon"]
    assert len(per_epoch) == 3 and np.all(np.diff(per_epoch) > 0)
    assert per_epoch[-1] == pytest.approx(epsilon)
    assert np.isfinite(ae.transform(X)).all()
    assert ae.code_scale_ is None  # nothing kept from the training codes


@pytest.mark.filterwarnings("ignore:Optimal order is the largest alpha")
def test_spent_privacy_agrees_with_an_independent_opacus_accountant(X):
    from opacus.accountants import PRVAccountant, RDPAccountant
    from opacus.accountants.utils import get_noise_multiplier

    for kind, Accountant in (("prv", PRVAccountant), ("rdp", RDPAccountant)):
        ae = private_ae(privacy=DifferentialPrivacy(2.0, accountant=kind)).fit(X)
        private = dict(ae.net_.callbacks_)["privacy"]
        steps_per_epoch = int(np.ceil(N / 32))
        assert private.sample_rate_ == pytest.approx(1 / steps_per_epoch)
        assert private.steps_ == 3 * steps_per_epoch  # every step noisy, empty batches too
        sigma = get_noise_multiplier(
            target_epsilon=2.0, target_delta=1e-5, sample_rate=1 / steps_per_epoch,
            steps=3 * steps_per_epoch, accountant=kind,
        )
        assert private.noise_multiplier_ == pytest.approx(sigma)
        accountant = Accountant()
        for _ in range(private.steps_):
            accountant.step(noise_multiplier=sigma, sample_rate=1 / steps_per_epoch)
        assert ae.privacy_spent_[0] == pytest.approx(accountant.get_epsilon(delta=1e-5), rel=1e-3)


class RecordNoise(Callback):
    """Per step, the noise the optimizer added to the clipped sum of gradients."""

    def initialize(self):
        self.noise = []
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            scale = net.optimizer_.expected_batch_size  # the gradient is the noisy sum / this
            params = [p for p in net.module_.parameters() if p.requires_grad]
            self.noise += [(p.grad * scale - p.summed_grad).flatten() for p in params]


def test_smaller_epsilon_gives_more_noise(X):
    sigmas, added = [], []
    for epsilon in (8.0, 3.0, 1.0):
        ae = private_ae(privacy=DifferentialPrivacy(epsilon), callbacks=[RecordNoise()]).fit(X)
        sigmas.append(dict(ae.net_.callbacks_)["privacy"].noise_multiplier_)
        added.append(float(torch.cat(recorded(ae, RecordNoise).noise).std()))
    assert sigmas[0] < sigmas[1] < sigmas[2]
    # The noise really added has the calibrated spread (max_grad_norm=1).
    np.testing.assert_allclose(added, sigmas, rtol=0.02)


class RecordClipping(Callback):
    """Per step: each sample's gradient norm, and the clipped sum the optimizer formed."""

    def initialize(self):
        self.steps = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        params = [p for p in net.module_.parameters() if p.requires_grad]
        self._samples = [p.grad_sample.detach().clone() for p in params]

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            params = [p for p in net.module_.parameters() if p.requires_grad]
            summed = [p.summed_grad.detach().clone() for p in params]
            self.steps.append((self._samples, summed))


def recorded(ae, kind=RecordClipping):
    """The fitted net's copy of the callback of type ``kind``."""
    return next(callback for _, callback in ae.net_.callbacks_ if isinstance(callback, kind))


def test_each_sample_gradient_is_clipped_to_max_grad_norm(X):
    norm = 0.05
    ae = private_ae(
        privacy=DifferentialPrivacy(3.0, max_grad_norm=norm), callbacks=[RecordClipping()],
        ema_decay=0,
    ).fit(X)
    clipped_somewhere = False
    for samples, summed in recorded(ae).steps[:4]:
        sample_norms = torch.stack([g.flatten(1).norm(dim=1) for g in samples], 1).norm(dim=1)
        clipped_somewhere |= bool((sample_norms > norm).any())
        factor = (norm / (sample_norms + 1e-6)).clamp(max=1.0)
        for grad_samples, total in zip(samples, summed):
            expected = torch.einsum("i,i...->...", factor, grad_samples)
            torch.testing.assert_close(total, expected, rtol=1e-4, atol=1e-6)
        clipped_norms = sample_norms * factor
        assert bool((clipped_norms <= norm * (1 + 1e-4)).all())
    assert clipped_somewhere


def test_per_sample_gradients_are_those_of_each_sample_alone(X):
    """No sample's gradient depends on another: fusion, masks and decodings included."""
    data = {**X, "a": X["a"].copy()}
    data["a"][:5] = np.nan  # samples without "a": the placeholder and the masks
    ae = private_ae(
        fusion="concat", modality_dropout=0.0, noise_std=0.0, cross_weight=0.5,
        hidden_dims=HiddenLayers((16,), dropout=0.0), ema_decay=0, max_epochs=1,
    )
    snapshots = []

    class KeepBatch(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training and not snapshots:
                snapshots.append((copy.deepcopy(net.module_.state_dict()), batch[0]))

    ae.set_params(callbacks=[KeepBatch(), RecordClipping()]).fit(data)
    state, batch = snapshots[0]
    module, criterion = copy.deepcopy(ae.net_.module_), ae.net_.criterion_
    module.load_state_dict(state)
    module.train()
    params = [p for p in module.parameters() if p.requires_grad]
    samples, _ = recorded(ae).steps[0]
    for i in range(len(next(iter(batch.values())))):
        alone = {name: x[i : i + 1] for name, x in batch.items()}
        grads = torch.autograd.grad(criterion(module(**alone)), params, allow_unused=True)
        for grad, grad_samples in zip(grads, samples):
            expected = torch.zeros_like(grad_samples[i]) if grad is None else grad
            torch.testing.assert_close(grad_samples[i], expected, rtol=1e-3, atol=1e-5)


def test_private_fit_is_deterministic_with_a_seed(X):
    first = private_ae().fit(X).transform(X)
    np.testing.assert_array_equal(first, private_ae().fit(X).transform(X))
    assert not np.allclose(first, private_ae(random_state=1).fit(X).transform(X))


def test_poisson_batches_vary_in_size_around_the_expected_one():
    torch.manual_seed(0)
    data = TensorDictDataset({"a": torch.arange(1000.0)[:, None]})
    batches = PoissonBatchIterator(data, batch_size=50)
    assert len(batches) == 20 and batches.sample_rate == pytest.approx(0.05)
    sizes = [len(batch["a"]) for _ in range(20) for batch, _ in batches]
    assert len(set(sizes)) > 5
    assert np.mean(sizes) == pytest.approx(50, rel=0.05)
    tiny = PoissonBatchIterator(TensorDictDataset({"a": torch.zeros(10, 1)}), batch_size=1)
    assert any(len(batch["a"]) == 0 for _ in range(20) for batch, _ in tiny)
    with pytest.raises(TypeError, match="Poisson"):
        PoissonBatchIterator([1, 2, 3])


def test_private_fit_survives_empty_batches():
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(20, 3)), "b": rng.normal(size=(20, 2))}
    public = {"a": Continuous(standardize=False), "b": Continuous(standardize=False)}
    for variational in (False, True):
        ae = private_ae(
            modalities=public, batch_size=1, variational=variational,
            privacy=DifferentialPrivacy(3.0, delta=1e-3),
        ).fit(X)
        sizes = [b["train_batch_size"] for row in ae.net_.history for b in row["batches"]]
        assert 0 in sizes
        assert np.isfinite(ae.transform(X)).all() and np.isfinite(ae.score(X))
        assert dict(ae.net_.callbacks_)["privacy"].steps_ == len(sizes)


def test_text_trains_through_opacus_gru_and_comes_back_as_a_torch_gru(tmp_path):
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(60, 3)), "t": rng.integers(1, 9, size=(60, 5))}
    ae = private_ae(modalities={"a": Continuous(standardize=False), "t": Sequence(vocab_size=10)})
    ae.fit(X)
    grus = [m for m in ae.net_.module_.modules() if isinstance(m, torch.nn.GRU)]
    assert grus and all(type(m) is torch.nn.GRU for m in grus)
    codes = ae.transform(X)
    ae.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    np.testing.assert_allclose(loaded.transform(X), codes, rtol=1e-5, atol=1e-6)
    assert loaded.privacy_spent_ == ae.privacy_spent_ and loaded.code_scale_ is None
    np.testing.assert_allclose(pickle.loads(pickle.dumps(ae)).transform(X), codes)


def test_restored_gru_computes_what_opacus_gru_computed():
    from opacus.validators import ModuleValidator

    class Net:
        pass

    torch.manual_seed(0)
    net = Net()
    net.module_ = torch.nn.Sequential(torch.nn.GRU(3, 4, batch_first=True))
    net.module_ = ModuleValidator.fix(net.module_)
    net.initialize_optimizer = lambda: None
    x = torch.randn(5, 7, 3)
    before = net.module_(x)[0]
    restore_torch_layers(net)
    assert type(net.module_[0]) is torch.nn.GRU
    torch.testing.assert_close(net.module_(x)[0], before, rtol=1e-5, atol=1e-6)


def test_what_is_learned_from_values_is_removed_or_refused(X):
    data = {**X, "a": X["a"].copy()}
    ae = private_ae().fit(data)
    assert not hasattr(ae.modalities_["b"], "frequency_")  # only reported: removed
    # Encoders read observed flags whether or not the data had missing cells.
    assert ae.modalities_["a"].encoder_reads_flags() and ae.modalities_["b"].encoder_reads_flags()
    assert ae.modalities_["a"].mean_.tolist() == [0.0] * 5


@pytest.mark.parametrize(
    "modality, block, match",
    [
        (Continuous(), np.ones((N, 2)), "standardize=False"),
        (Categorical(), np.arange(N)[:, None] % 3, "input='onehot'"),
        (Counts(), np.ones((N, 4)), "Counts always learns"),
        (Image(), np.zeros((N, 1, 4, 4)), "pixel_loss='bce'"),
        (Image(pixel_loss="mse"), np.zeros((N, 1, 4, 4)), "means and standard deviations"),
        (Sequence(), np.ones((N, 4), dtype=int), "pass vocab_size"),
        (TimeSeries(), np.zeros((N, 1, 8)), "TimeSeries always learns"),
    ],
)
def test_statistics_of_the_values_are_refused(X, modality, block, match):
    ae = private_ae(modalities={**PUBLIC, "c": modality})
    with pytest.raises(ValueError, match="refuses statistics") as error:
        ae.fit({**X, "c": block})
    assert match in str(error.value) and "'c'" in str(error.value)


def test_kinds_must_be_given(X):
    with pytest.raises(ValueError, match=r"kind of every modality.*\['b'\]"):
        private_ae(modalities={"a": Continuous(standardize=False)}).fit(X)


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"readout": "kernel"}, "readout"),
        ({"refine": CodeRefinement()}, "refine"),
        ({"modality_weights": "balanced"}, "modality_weights"),
        ({"early_stopping": EarlyStop()}, "early_stopping"),
        ({"speed": Speed(cuda_graphs=True)}, "speed"),
    ],
)
def test_incompatible_settings_are_refused_before_training(X, params, parameter):
    with pytest.raises(ValueError, match=f"refuses this '{parameter}'"):
        private_ae(**params).fit(X)


def test_incomplete_inputs_share_the_encoders_in_private_training(X):
    # Opacus's per-sample gradients would count a pass through the decoders
    # held fixed (the subset encoders' loss) as the decoders' own.
    ae = private_ae(max_epochs=1).fit(X)
    assert ae.net_.module_.modality_dropout > 0 and ae.net_.module_.subset_encoders is None
    with pytest.raises(ValueError, match=r"encoders='own'\)\) refuses this 'privacy'"):
        private_ae(modality_dropout=ModalityDropout(encoders="own")).fit(X)


def test_layers_opacus_cannot_handle_are_refused(X):
    encoder = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8))
    modalities = {**PUBLIC, "a": Continuous(standardize=False, encoder=encoder)}
    with pytest.raises(ValueError, match="per-sample gradients.*BatchNorm"):
        private_ae(modalities=modalities).fit(X)


def test_budget_parameters_are_checked(X):
    with pytest.raises(ValueError, match="not below 1 / n_samples"):
        private_ae(privacy=DifferentialPrivacy(3.0, delta=0.01)).fit(X)
    with pytest.raises(ValueError, match=r"'epsilon'.*range \(0.0, inf\)"):
        private_ae(privacy=DifferentialPrivacy(float("inf"))).fit(X)
    with pytest.raises(ValueError, match="epsilon"):
        private_ae(privacy=DifferentialPrivacy(-1.0)).fit(X)
    with pytest.raises(ValueError, match="privacy"):
        private_ae(privacy="yes").fit(X)


def test_refit_without_privacy_drops_the_spent_budget(X):
    ae = private_ae().fit(X)
    ae.set_params(privacy=None).fit(X)
    assert not hasattr(ae, "privacy_spent_")
    assert ae.code_scale_ > 0


def test_missing_opacus_gets_an_install_hint(X, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "opacus", None)
    with pytest.raises(ImportError, match=r"pip install skmmae\[privacy\]"):
        private_ae().fit(X)


def test_training_losses_are_not_kept_but_the_epsilon_is(X):
    ae = private_ae().fit(X)
    for row in ae.net_.history:
        assert not any(key.startswith("train_loss") for key in row)
        assert all(set(batch) == {"train_batch_size"} for batch in row["batches"])
        assert row["epsilon"] > 0
    pytest.importorskip("matplotlib")
    from skmmae.plotting import plot_training

    with pytest.raises(ValueError, match="private fit keeps no training losses"):
        plot_training(ae)
