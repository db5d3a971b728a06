"""The training loss: the masked mean loss per modality, its weights, its decodings."""

import numpy as np
import pytest
import torch

from skmmae._loss import ReconstructionLoss
from skmmae._module import PRESENT_SUFFIX, AutoencoderOutput, MultimodalAutoencoderModule
from skmmae.modalities import Binary, Categorical, Continuous, Counts


def fitted_modalities(seed=0):
    rng = np.random.RandomState(seed)
    blocks = {"a": 5 + 3 * rng.normal(size=(20, 4)), "b": rng.normal(size=(20, 2))}
    return {name: Continuous().fit(block) for name, block in blocks.items()}, blocks


def test_loss_weights_each_modality_equally():
    modalities, _ = fitted_modalities()
    criterion = ReconstructionLoss(modalities)
    zeros = {"a": torch.zeros(3, 4), "b": torch.zeros(3, 2)}
    targets = {"a": torch.ones(3, 4), "b": torch.full((3, 2), 3.0)}
    loss = criterion(AutoencoderOutput(torch.zeros(3, 1), zeros, targets))
    assert loss.item() == pytest.approx((1.0 + 9.0) / 2)


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


def test_cross_loss_skips_samples_without_another_modality():
    rng = np.random.RandomState(0)
    widths = {"a": 3, "b": 2, "c": 4}
    modalities = {name: Continuous().fit(rng.normal(size=(20, w))) for name, w in widths.items()}
    module = MultimodalAutoencoderModule(modalities, 3, (8,), "mean", cross_weight=1.0)
    batch = {
        name: torch.as_tensor(rng.normal(size=(4, w)), dtype=torch.float32)
        for name, w in widths.items()
    }
    alone = torch.tensor([1.0, 0.0, 1.0, 1.0])  # sample 1 has "a" only
    batch["b" + PRESENT_SUFFIX], batch["c" + PRESENT_SUFFIX] = alone, alone.clone()
    with torch.no_grad():
        output = module.train()(**batch)
    ((recs, weights),) = output.expert_decodings  # the cross decoding alone
    np.testing.assert_array_equal(weights["a"].numpy(), [1, 0, 1, 1])
    total, count = ReconstructionLoss(modalities).loss_sums(output)["a"]
    per_sample = ((recs["a"] - output.targets["a"]) ** 2).mean(dim=1)
    # Sample 1's "a" would come from an empty code: it is not scored.
    torch.testing.assert_close(total, per_sample[[0, 2, 3]].sum())
    assert count == 4


def test_mean_over_batch_divides_by_the_batch_size_not_by_the_samples_present():
    modalities, _ = fitted_modalities()
    zeros = {"a": torch.zeros(4, 4), "b": torch.zeros(4, 2)}
    targets = {"a": torch.ones(4, 4), "b": torch.ones(4, 2)}
    present = {"a": torch.tensor([True, False, False, False])}  # one sample has "a"
    output = AutoencoderOutput(torch.zeros(4, 1), zeros, targets, present)
    by_present = ReconstructionLoss(modalities).per_modality(output)
    by_batch = ReconstructionLoss(modalities, mean_over="batch").per_modality(output)
    assert by_present["a"].item() == pytest.approx(1.0) and by_batch["a"].item() == pytest.approx(0.25)
    assert by_present["b"].item() == pytest.approx(by_batch["b"].item())
    empty = AutoencoderOutput(torch.zeros(0, 1), {k: v[:0] for k, v in zeros.items()},
                              {k: v[:0] for k, v in targets.items()})
    assert ReconstructionLoss(modalities, mean_over="batch")(empty).item() == 0.0
