"""The torch model, fusions and modalities."""

import numpy as np
import pytest
import torch

from skmmae import MultimodalAutoencoder
from skmmae._layers import Dropout, dropout, mlp
from skmmae._module import AutoencoderOutput, MultimodalAutoencoderModule
from skmmae._loss import ReconstructionLoss
from skmmae.fusion import FUSIONS, make_fusion
from skmmae.modalities import Binary, Categorical, Continuous, Counts

def fitted_modalities(seed=0):
    rng = np.random.RandomState(seed)
    blocks = {"a": 5 + 3 * rng.normal(size=(20, 4)), "b": rng.normal(size=(20, 2))}
    return {name: Continuous().fit(block) for name, block in blocks.items()}, blocks

def test_continuous_learns_mean_and_scale_and_keeps_constant_features():
    X = np.array([[1.0, 7.0], [3.0, 7.0]])
    m = Continuous().fit(X)
    np.testing.assert_allclose(m.mean_, [2.0, 7.0])
    np.testing.assert_allclose(m.scale_, [1.0, 1.0])  # the constant column keeps scale 1
    raw = Continuous(standardize=False).fit(X)
    np.testing.assert_allclose(raw.mean_, 0.0)
    np.testing.assert_allclose(raw.scale_, 1.0)
    assert m.get_params() == {"standardize": True, "encoder": None, "decoder": None}

def test_scaler_round_trip():
    m = Continuous().fit(np.array([[0.0, 10.0], [4.0, 30.0]]))
    scaler = m.build_scaler()
    x = torch.tensor([[1.0, 20.0]])
    np.testing.assert_allclose(scaler(x).numpy(), [[-0.5, 0.0]])
    np.testing.assert_allclose(scaler.inverse(scaler(x)).numpy(), x.numpy())

@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_module_shapes_and_units(fusion):
    modalities, blocks = fitted_modalities()
    module = MultimodalAutoencoderModule(modalities, encoding_dim=3, hidden_dims=(8, 6), fusion=fusion)
    module.eval()  # in training, "moe" decodes each expert's code instead
    inputs = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in blocks.items()}
    out = module(**inputs)
    assert out.code.shape == (20, 3)
    assert {k: v.shape for k, v in out.reconstructions.items()} == {"a": (20, 4), "b": (20, 2)}
    # Targets are the standardized inputs.
    np.testing.assert_allclose(out.targets["a"].mean(0).detach().numpy(), 0, atol=1e-5)
    torch.testing.assert_close(module.encode(**inputs), out.code)
    original = module.decode_original(out.code)
    torch.testing.assert_close(original["a"], modalities["a"].build_scaler().inverse(out.reconstructions["a"]))

def test_loss_weights_each_modality_equally():
    modalities, _ = fitted_modalities()
    criterion = ReconstructionLoss(modalities)
    zeros = {"a": torch.zeros(3, 4), "b": torch.zeros(3, 2)}
    targets = {"a": torch.ones(3, 4), "b": torch.full((3, 2), 3.0)}
    loss = criterion(AutoencoderOutput(torch.zeros(3, 1), zeros, targets))
    assert loss.item() == pytest.approx((1.0 + 9.0) / 2)


def test_make_fusion_registry():
    assert set(FUSIONS) == {"mean", "concat", "poe", "moe"}
    fusion = make_fusion("concat", {"a": 3, "b": 2}, 4)
    assert fusion.project.in_features == 5
    features = {"a": torch.ones(2, 3), "b": torch.ones(2, 2)}
    assert make_fusion("mean", {"a": 3, "b": 2}, 4)(features, {}).mean.shape == (2, 4)


def test_subset_weight_scores_the_full_code_and_the_subset_code():
    modalities, blocks = fitted_modalities()
    module = MultimodalAutoencoderModule(
        modalities, 3, (8,), "mean", modality_dropout=0.5, subset_weight=0.25
    )
    inputs = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in blocks.items()}
    torch.manual_seed(0)
    out = module(**inputs)  # training mode
    (full, full_weight), (subset, subset_weight) = out.expert_decodings
    assert (full_weight, subset_weight) == (0.75, 0.25)
    # The code is the one of every present modality: as in eval mode.
    torch.testing.assert_close(out.code, module.eval().encode(**inputs))
    torch.testing.assert_close(full["a"], module.decode(out.code)["a"])
    assert not torch.allclose(subset["a"], full["a"])  # some samples had a modality hidden
    criterion = ReconstructionLoss(modalities)
    expected = {
        name: 0.75 * modalities[name].loss(full[name], out.targets[name])
        + 0.25 * modalities[name].loss(subset[name], out.targets[name])
        for name in modalities
    }
    for name, loss in criterion.per_modality(out).items():
        torch.testing.assert_close(loss, expected[name])


def test_the_masked_loss_is_each_modality_mean_over_the_samples_that_have_it():
    rng = np.random.RandomState(0)
    blocks = {
        "real": rng.normal(size=(30, 4)),
        "bits": rng.rand(30, 5) > 0.5,
        "cats": rng.randint(0, 3, size=(30, 2)),
        "counts": rng.poisson(2.0, size=(30, 6)),
    }
    kinds = {"real": Continuous(), "bits": Binary(), "cats": Categorical(), "counts": Counts()}
    modalities = {name: kinds[name].fit(block) for name, block in blocks.items()}
    module = MultimodalAutoencoderModule(modalities, 3, (8,), "mean").eval()
    inputs = {n: torch.as_tensor(m.validate(blocks[n])) for n, m in modalities.items()}
    out = module(**inputs)
    criterion = ReconstructionLoss(modalities)
    # Every sample has every modality: each kind's own batch mean.
    losses = criterion.per_modality(out)
    assert set(losses) == set(blocks)
    for name, modality in modalities.items():
        expected = modality.loss(out.reconstructions[name], out.targets[name])
        torch.testing.assert_close(losses[name], expected)
    # Samples lacking "real" play no part in its loss: the mean over the
    # others of each sample's squared error, computed by hand.
    present = np.ones(30, dtype=np.float32)
    present[::3] = 0.0
    out = module(**inputs, real__present=torch.as_tensor(present))
    rec, target = out.reconstructions["real"].detach().numpy(), out.targets["real"].numpy()
    by_hand = ((rec - target) ** 2).mean(axis=1)[present == 1].mean()
    total, count = criterion.loss_sums(out)["real"]
    assert count.item() == 20
    assert criterion.per_modality(out)["real"].item() == pytest.approx(by_hand, rel=1e-5)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_dropout_zeroes_with_probability_p_and_keeps_the_mean(p):
    torch.manual_seed(0)
    x = torch.ones(400_003)  # not a multiple of 4: the last draw is cut
    y = dropout(x, p)
    assert y.shape == x.shape
    assert abs((y == 0).float().mean().item() - p) < 0.003
    assert torch.allclose(y[y != 0], torch.tensor(1 / (1 - p)))
    assert abs(y.mean().item() - 1.0) < 0.01


def test_dropout_masks_are_independent_across_elements_and_calls():
    torch.manual_seed(0)
    first, second = (dropout(torch.ones(200_000), 0.5) == 0 for _ in range(2))
    # Neighbours (pieces of one 64-bit draw) and successive calls: P(both) = 1/4.
    assert abs((first[:-1] & first[1:]).float().mean().item() - 0.25) < 0.005
    assert abs((first & second).float().mean().item() - 0.25) < 0.005


def test_dropout_follows_the_torch_seed_and_passes_gradients_through_kept_values():
    torch.manual_seed(3)
    a = dropout(torch.ones(1000), 0.2)
    torch.manual_seed(3)
    x = torch.ones(1000, requires_grad=True)
    b = dropout(x, 0.2)
    assert torch.equal(a, b)
    b.sum().backward()
    assert torch.equal(x.grad, b.detach())


def test_dropout_layer_is_identity_in_eval_mode_and_used_by_mlp():
    layers = mlp((4, 8, 2), dropout=0.1)
    assert any(isinstance(layer, Dropout) for layer in layers)
    layer = Dropout(0.3)
    x = torch.randn(16, 8)
    assert torch.equal(layer.eval()(x), x)
    assert not torch.equal(layer.train()(x), x)


def test_dropout_leaves_other_devices_to_torch():
    # The CPU mask would be drawn on the CPU; elsewhere torch's own kernel runs
    # on the tensor's device ("meta" stands in for CUDA here: shapes only).
    y = dropout(torch.ones(4, 3, device="meta"), 0.5)
    assert y.device.type == "meta" and y.shape == (4, 3)



def test_errors_building_a_custom_part_name_the_modality():
    X = {"a": np.ones((6, 2)), "b": np.zeros((6, 3))}
    bad = Continuous(encoder=lambda: "not a module")
    ae = MultimodalAutoencoder(2, max_epochs=1, modalities={"b": bad})
    with pytest.raises(TypeError, match=r"Modality 'b': The encoder factory of Continuous must"):
        ae.fit(X)
    bad = Continuous(decoder=3)
    ae = MultimodalAutoencoder(2, max_epochs=1, modalities={"b": bad})
    with pytest.raises(TypeError, match=r"Modality 'b': The 'decoder' parameter of Continuous"):
        ae.fit(X)
