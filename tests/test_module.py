"""The torch model: encoders, fusion and decoders for a dict of fitted modalities."""

import dataclasses

import numpy as np
import pytest
import torch

from skmmae import MultimodalAutoencoder
from skmmae._layers import LayerSpec
from skmmae._loss import ReconstructionLoss
from skmmae._module import (
    PRESENT_SUFFIX,
    AutoencoderOutput,
    MultimodalAutoencoderModule,
)
from skmmae.fusion import FUSIONS
from skmmae.modalities import Continuous


def fitted_modalities(seed=0):
    rng = np.random.RandomState(seed)
    blocks = {"a": 5 + 3 * rng.normal(size=(20, 4)), "b": rng.normal(size=(20, 2))}
    return {name: Continuous().fit(block) for name, block in blocks.items()}, blocks


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


def dropout_module(p, fusion="mean", seed=0):
    rng = np.random.RandomState(seed)
    widths = {"a": 3, "b": 2, "c": 4, "d": 1}
    modalities = {name: Continuous().fit(rng.normal(size=(20, w))) for name, w in widths.items()}
    module = MultimodalAutoencoderModule(
        modalities, encoding_dim=3, hidden_dims=(8,), fusion=fusion, modality_dropout=p
    )
    return module, widths


def test_hide_modalities_never_hides_all_never_shows_missing_and_hides_the_fraction():
    p, n = 0.4, 20000
    module, widths = dropout_module(p)
    rng = np.random.RandomState(0)
    has = rng.rand(n, 4) < 0.6
    has[~has.any(axis=1), 0] = True  # every sample has one modality
    has[:, 3] = True  # "d" is present everywhere: no mask for it in the batch
    targets = {name: torch.zeros(n, w) for name, w in widths.items()}
    present = {name: torch.as_tensor(has[:, i].astype(np.float32)) for i, name in enumerate("abc")}
    with torch.random.fork_rng():
        torch.manual_seed(0)
        visible = module._hide_modalities(targets, present)
    shown = np.stack([visible[name].numpy() for name in "abcd"], axis=1)
    assert set(np.unique(shown)) <= {0.0, 1.0}
    assert not (shown.astype(bool) & ~has).any()  # a missing modality is never shown
    assert (shown.sum(axis=1) >= 1).all()  # a sample never loses all its modalities
    # Each present one is hidden with probability p, except that a sample whose
    # k present modalities were all hidden gets one back: k p - p**k hidden.
    k = has.sum(axis=1)
    expected = (k * p - p**k).sum() / k.sum()
    hidden = (has & ~shown.astype(bool)).sum() / has.sum()
    assert abs(hidden - expected) < 0.01, (hidden, expected)
    # Samples with a single modality always keep it.
    single = k == 1
    assert single.sum() > 100
    np.testing.assert_array_equal(shown[single], has[single])


@pytest.mark.parametrize("fusion", sorted(FUSIONS))
def test_modality_dropout_only_in_training(fusion):
    module, widths = dropout_module(0.5, fusion=fusion)
    rng = np.random.RandomState(1)
    inputs = {
        name: torch.as_tensor(rng.normal(size=(200, w)), dtype=torch.float32)
        for name, w in widths.items()
    }
    inputs["b" + PRESENT_SUFFIX] = torch.as_tensor((rng.rand(200) < 0.7).astype(np.float32))
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        module.eval()
        code = module.encode(**inputs)
        torch.testing.assert_close(module(**inputs).code, code, rtol=0, atol=0)
        module.train()
        trained = module(**inputs).code
    # In training some modalities were hidden: many codes differ.
    differs = (trained - code).abs().amax(dim=1) > 1e-6
    assert 0.3 < differs.float().mean() < 1.0


@pytest.mark.parametrize("fusion", ["concat", "mean", "poe"])
def test_cross_reconstruction_never_reads_the_modality_it_decodes(fusion):
    module, features = cross_features(fusion)
    with torch.no_grad():
        recs, has_others = module._cross_reconstructions(features, {}, {})
        changed = {**features, "a": features["a"] + 100.0}
        recs_changed, _ = module._cross_reconstructions(changed, {}, {})
    torch.testing.assert_close(recs_changed["a"], recs["a"], rtol=0, atol=0)
    assert not torch.allclose(recs_changed["b"], recs["b"])
    for name, has in has_others.items():
        assert bool((has == 1).all()), name
    # It is the decoding of the code of the other three, as encode would give it.
    others = {name: f for name, f in features.items() if name != "a"}
    with torch.no_grad():
        expected = module.decoders["a"](module.fusion(others, {}).mean)
    torch.testing.assert_close(recs["a"], expected)


@pytest.mark.parametrize("fusion", ["mean", "moe"])
def test_decodings_of_several_codes_in_one_pass_equal_one_pass_each(fusion):
    # Training decodes the full and the subset code (or every expert's code)
    # in one pass of the decoders; without dropout that is exactly one pass each.
    rng = np.random.RandomState(0)
    widths = {"a": 3, "b": 2, "c": 4}
    modalities = {name: Continuous().fit(rng.normal(size=(20, w))) for name, w in widths.items()}
    module = MultimodalAutoencoderModule(
        modalities, 3, (8,), fusion, modality_dropout=0.5, subset_weight=0.5
    ).train()
    batch = {
        name: torch.as_tensor(rng.normal(size=(6, w)), dtype=torch.float32)
        for name, w in widths.items()
    }
    with torch.no_grad():
        torch.manual_seed(1)
        output = module(**batch)
        # The same codes, one by one: the hidden modalities are drawn first
        # (no input noise), so the same seed hides the same ones.
        torch.manual_seed(1)
        targets = module.scale(batch)
        visible = module._hide_modalities(targets, {})
        features = {name: module.encoders[name](x) for name, x in targets.items()}
        if fusion == "mean":  # the full code's decoding, then the visible subset's
            codes = [module.fusion(features, {}).mean, module.fusion(features, visible).mean]
        else:  # each expert's code
            codes = [mean for mean, _, _ in module.fusion(features, visible).experts]
        expected = [module.decode(code) for code in codes]
    assert len(output.expert_decodings) == len(codes) == (2 if fusion == "mean" else 3)
    for (reconstructions, _), one_pass in zip(output.expert_decodings, expected, strict=True):
        for name in widths:
            assert reconstructions[name].shape == (6, widths[name])
            torch.testing.assert_close(reconstructions[name], one_pass[name])


def test_cross_reconstruction_falls_back_to_present_modalities_and_masks_lone_ones():
    module, features = cross_features("mean", n=4)
    ones = torch.ones(4)
    # Sample 1 has "a" only; the others have everything.
    alone = torch.tensor([1.0, 0.0, 1.0, 1.0])
    present = {"b": alone, "c": alone.clone()}
    features["d"] = features["d"][[0, 0, 2, 3]]  # "d" has no mask: give row 1 a copy
    present["d"] = alone.clone()
    # In sample 0 modality dropout hid every modality but "a".
    visible = {"a": ones, "b": alone * torch.tensor([0.0, 1, 1, 1])}
    visible["c"], visible["d"] = visible["b"].clone(), visible["b"].clone()
    with torch.no_grad():
        recs, has_others = module._cross_reconstructions(features, visible, present)
        unhidden, _ = module._cross_reconstructions(features, present, present)
    # "a" in sample 0 comes from the present others, as if nothing was hidden.
    torch.testing.assert_close(recs["a"][0], unhidden["a"][0])
    np.testing.assert_array_equal(has_others["a"].numpy(), [1, 0, 1, 1])
    np.testing.assert_array_equal(has_others["b"].numpy(), [1, 1, 1, 1])


def test_own_cross_decoders_take_the_cross_loss_and_leave_the_reconstruction_decoders():
    rng = np.random.RandomState(0)
    widths = {"a": 3, "b": 2, "c": 4}
    modalities = {name: Continuous().fit(rng.normal(size=(20, w))) for name, w in widths.items()}
    hidden = LayerSpec((8,), layer_norm=True, dropout=0.5)
    module = MultimodalAutoencoderModule(
        modalities, 3, hidden, "mean", cross_weight=1.0, own_cross_decoders=True
    )
    assert module.predictors is module.cross_decoders
    # The reconstruction decoders keep their dropout; the cross decoders have none.
    assert any(isinstance(layer, torch.nn.Dropout) for layer in module.decoders["a"])
    assert not any(isinstance(layer, torch.nn.Dropout) for layer in module.cross_decoders["a"])
    batch = {
        name: torch.as_tensor(rng.normal(size=(6, w)), dtype=torch.float32)
        for name, w in widths.items()
    }
    module.train()
    ReconstructionLoss(modalities)(module(**batch)).backward()
    # cross_weight=1: the whole loss went through the cross decoders alone.
    assert all(p.grad is None for p in module.decoders.parameters())
    assert all(p.grad is not None for p in module.cross_decoders.parameters())
    # And the code of the others is what they decode, as predict does.
    module.eval()
    with torch.no_grad():
        scaled = module.scale(batch)
        features = {name: module.encoders[name](x) for name, x in scaled.items()}
        recs, _ = module._cross_reconstructions(features, {}, {})
        others = module.fusion({n: f for n, f in features.items() if n != "a"}, {}).mean
        torch.testing.assert_close(recs["a"], module.cross_decoders["a"](others))
        torch.testing.assert_close(module.predict(others, "a"), recs["a"])


def test_without_own_cross_decoders_prediction_uses_the_reconstruction_decoders():
    module, _ = dropout_module(0.0)
    assert module.cross_decoders is None and module.predictors is module.decoders
    # Own decoders are only built where a cross term trains them.
    rng = np.random.RandomState(0)
    modalities = {"a": Continuous().fit(rng.normal(size=(20, 3)))}
    alone = MultimodalAutoencoderModule(
        modalities, 2, (4,), "mean", cross_weight=0.5, own_cross_decoders=True
    )
    assert alone.cross_decoders is None


def cross_features(fusion, n=50, seed=2):
    module, widths = dropout_module(0.0, fusion=fusion)
    rng = np.random.RandomState(seed)
    features = {
        name: module.encoders[name](torch.as_tensor(rng.normal(size=(n, w)), dtype=torch.float32))
        for name, w in widths.items()
    }
    return module.eval(), features


def test_decoding_each_code_apart_computes_what_decoding_them_together_does():
    rng = np.random.RandomState(0)
    blocks = {"a": rng.normal(size=(16, 4)), "b": rng.normal(size=(16, 3))}
    modalities = {name: Continuous().fit(block) for name, block in blocks.items()}
    inputs = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in blocks.items()}
    hidden = LayerSpec((8,), dropout=0.0)
    outputs = []
    for together in (True, False):
        torch.manual_seed(0)
        module = MultimodalAutoencoderModule(
            modalities, 2, hidden, "mean", modality_dropout=0.5, subset_weight=0.5,
            decode_together=together,
        )
        torch.manual_seed(1)
        outputs.append(module(**inputs))
    for (first, _), (second, _) in zip(outputs[0].expert_decodings, outputs[1].expert_decodings):
        for name in blocks:
            torch.testing.assert_close(first[name], second[name])


def subset_module(seed=0, decoder_share=0.0):
    rng = np.random.RandomState(seed)
    widths = {"a": 3, "b": 2, "c": 4}
    modalities = {name: Continuous().fit(rng.normal(size=(20, w))) for name, w in widths.items()}
    module = MultimodalAutoencoderModule(
        modalities, 3, LayerSpec((8,), dropout=0.0), "mean", modality_dropout=0.5,
        subset_weight=0.5, own_subset_encoders=True, subset_decoder_share=decoder_share,
    )
    batch = {
        name: torch.as_tensor(rng.normal(size=(12, w)), dtype=torch.float32)
        for name, w in widths.items()
    }
    return module, modalities, batch


@pytest.mark.parametrize("decoder_share", [0.0, 0.3])
def test_complete_codes_learn_from_complete_inputs_alone_the_subset_encoders_from_subsets(
    decoder_share,
):
    module, modalities, batch = subset_module(decoder_share=decoder_share)
    module.train()
    torch.manual_seed(0)
    output = module(**batch)
    full, subset = output.expert_decodings
    assert full[1] == subset[1] == 0.5
    criterion = ReconstructionLoss(modalities)
    main = [module.encoders, module.fusion]
    own = [module.subset_encoders, module.subset_fusion]
    # The decoders learn from complete codes, and from the subsets' by their share.
    subset_trains = [module.decoders] if decoder_share else []
    subset_spares = [] if decoder_share else [module.decoders]
    for decoding, learning, untouched in (
        (full, main + [module.decoders], own),
        (subset, own + subset_trains, main + subset_spares),
    ):
        module.zero_grad(set_to_none=True)
        alone = dataclasses.replace(output, expert_decodings=(decoding,))
        criterion(alone).backward(retain_graph=True)
        learned = [p.grad for part in learning for p in part.parameters()]
        assert all(grad is not None and grad.abs().sum() > 0 for grad in learned)
        assert all(p.grad is None for part in untouched for p in part.parameters())


def test_the_decoders_take_their_share_of_the_subset_codes_gradient():
    module, modalities, batch = subset_module(decoder_share=0.3)
    module.train()
    code = torch.randn(12, 3, requires_grad=True)
    criterion = ReconstructionLoss(modalities)
    targets = module.scale(batch)
    grads = []
    for decode in (module.decode, module._decode_damped):
        module.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        output = AutoencoderOutput(code, decode(code), targets)
        criterion(output).backward()
        grads.append([p.grad.clone() for p in module.decoders.parameters()])
    for trained, damped in zip(*grads):
        torch.testing.assert_close(damped, 0.3 * trained)


def test_a_complete_sample_is_encoded_by_the_encoders_any_other_by_the_subset_encoders():
    module, _, batch = subset_module()
    module.eval()
    with torch.no_grad():
        scaled = module.scale(batch)
        complete = module.fusion(module.features(scaled), {}).mean
        subset = module.subset_fusion(module.features(scaled, module.subset_encoders), {}).mean
        torch.testing.assert_close(module.encode(**batch), complete)
        assert not torch.allclose(complete, subset)
        # A modality not given: every sample is incomplete.
        without_c = {n: x for n, x in batch.items() if n != "c"}
        from_ab = module.subset_fusion(
            module.features(module.scale(without_c), module.subset_encoders), {}
        ).mean
        torch.testing.assert_close(module.encode(**without_c), from_ab)
        # A modality missing in some samples: those samples only.
        lacks_b = torch.tensor([1.0, 0.0] * 6)
        masked = {**batch, "b" + PRESENT_SUFFIX: lacks_b}
        codes = module.encode(**masked)
        expected = module.subset_fusion(
            module.features(scaled, module.subset_encoders), {"b": lacks_b}
        ).mean
        torch.testing.assert_close(codes[1::2], expected[1::2])
        torch.testing.assert_close(codes[::2], complete[::2])


def test_the_read_outs_predict_from_the_subset_encoders_codes_of_the_others():
    module, _, batch = subset_module()
    module.eval()
    with torch.no_grad():
        code, cross, _, alone = module.readout_inputs(**batch)
        torch.testing.assert_close(code, module.encode(**batch))
        others_of_a = {n: x for n, x in batch.items() if n != "a"}
        torch.testing.assert_close(cross["a"][0], module.encode(**others_of_a))
        # Each modality's own code is the code of it alone.
        for name in "bc":
            torch.testing.assert_close(alone[name], module.encode(**{name: batch[name]}))
        # What predict_modality reads: the same codes, in one layout.
        scaled = module.scale(others_of_a)
        fused, side_by_side = module.codes_of_given(scaled, {}, "a")
        torch.testing.assert_close(fused, cross["a"][0])
        torch.testing.assert_close(side_by_side, torch.cat([alone["b"], alone["c"]], dim=1))
        torch.testing.assert_close(
            module.codes_side_by_side(alone, {}, cross["a"][0], "a"), side_by_side
        )


def test_a_modality_a_sample_lacks_has_the_code_of_the_others_in_its_place():
    module, _, batch = subset_module()
    module.eval()
    lacks_b = torch.tensor([1.0, 0.0] * 6)
    others_of_a = {n: x for n, x in batch.items() if n != "a"}
    with torch.no_grad():
        scaled = module.scale(others_of_a)
        fused, side_by_side = module.codes_of_given(scaled, {"b": lacks_b}, "a")
        b_slot, c_slot = side_by_side.chunk(2, dim=1)
        torch.testing.assert_close(b_slot[1::2], fused[1::2])
        torch.testing.assert_close(b_slot[::2], module.encode(b=batch["b"])[::2])
        torch.testing.assert_close(c_slot, module.encode(c=batch["c"]))
        # A modality not given at all: the code of the others in every sample.
        fused, side_by_side = module.codes_of_given(module.scale({"c": batch["c"]}), {}, "a")
        torch.testing.assert_close(side_by_side, torch.cat([fused, fused], dim=1))


def test_subset_encoders_are_built_only_where_modality_dropout_trains_them():
    rng = np.random.RandomState(0)
    modalities = {name: Continuous().fit(rng.normal(size=(20, 2))) for name in "ab"}
    no_dropout = MultimodalAutoencoderModule(
        modalities, 2, (4,), "mean", own_subset_encoders=True
    )
    alone = MultimodalAutoencoderModule(
        {"a": modalities["a"]}, 2, (4,), "mean", modality_dropout=0.3, own_subset_encoders=True
    )
    assert no_dropout.subset_encoders is None and alone.subset_encoders is None
