"""save / load: weights in safetensors, the rest in JSON; never pickle; clear errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from skorch.callbacks import Callback
from torch import nn

from skmmae import MultimodalAutoencoder, load
from skmmae.datasets import load_digits_words, load_penguins
from skmmae.modalities import Continuous, Sequence
from skmmae.options import ModalityDropout, Variational
from skmmae.persistence import FORMAT_VERSION
from skmmae.readout import KernelReadout
from skmmae.refine import CodeRefinement


def outputs(ae, X, target):
    codes = ae.transform(X)
    rebuilt = ae.inverse_transform(codes)
    return codes, rebuilt, ae.predict_modality(X, target), ae.score(X)


def assert_same(first, second):
    codes, rebuilt, predicted, score = first
    np.testing.assert_array_equal(codes, second[0])
    for name in rebuilt:
        np.testing.assert_array_equal(np.asarray(rebuilt[name]), np.asarray(second[1][name]))
    np.testing.assert_array_equal(np.asarray(predicted), np.asarray(second[2]))
    assert score == second[3]


@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    """Missing rows, categorical and continuous views, kernel read-outs and refinement."""
    X, _ = load_penguins(return_X_y=True)
    ae = MultimodalAutoencoder(
        2, max_epochs=3, random_state=0, refine=CodeRefinement(steps=3),
        readout=KernelReadout(max_centers=50), modality_dropout=ModalityDropout(0.2, 0.7),
    ).fit(X)
    path = tmp_path_factory.mktemp("models") / "penguins.safetensors"
    ae.save(path)
    return ae, X, path


def test_a_loaded_model_gives_identical_outputs(penguins):
    ae, X, path = penguins
    loaded = load(path)
    assert_same(outputs(ae, X, "body"), outputs(loaded, X, "body"))
    assert {k: repr(v) for k, v in loaded.get_params(deep=True).items()} == {
        k: repr(v) for k, v in ae.get_params(deep=True).items()
    }
    assert loaded.net_.history[:, "train_loss"] == ae.net_.history[:, "train_loss"]
    assert loaded.readout_.reconstructors_["body"].length_factor == (
        ae.readout_.reconstructors_["body"].length_factor
    )


def test_images_tokens_and_a_variational_model_round_trip(tmp_path):
    X, _ = load_digits_words(return_X_y=True)
    X = X[:200]
    ae = MultimodalAutoencoder(
        4, max_epochs=2, random_state=0, modalities={"image": "image", "text": "tokens"},
        variational=Variational(beta=0.5),
    ).fit(X)
    ae.save(tmp_path / "digits.safetensors")
    loaded = load(tmp_path / "digits.safetensors")
    assert_same(outputs(ae, X, "text"), outputs(loaded, X, "text"))
    mean, std = loaded.transform(X, return_std=True)
    np.testing.assert_array_equal(std, ae.transform(X, return_std=True)[1])


def test_a_fresh_process_loads_the_same_model(penguins, tmp_path):
    ae, X, path = penguins
    body = np.asarray(X["body"], dtype=np.float64)
    body = body[~np.isnan(body).all(axis=1)]  # the birds that have it
    np.save(tmp_path / "body.npy", body)
    script = (
        "import sys, numpy as np, skmmae\n"
        f"ae = skmmae.load({str(path)!r})\n"
        f"body = np.load({str(tmp_path / 'body.npy')!r})\n"
        "codes = ae.transform({'body': body})\n"
        "np.savez(sys.argv[1], codes=codes, body=ae.inverse_transform(codes)['body'],\n"
        "         isotopes=ae.predict_modality({'body': body}, 'isotopes'))\n"
    )
    out = tmp_path / "outputs.npz"
    subprocess.run([sys.executable, "-c", script, str(out)], check=True)
    saved = np.load(out)
    codes = ae.transform({"body": body})
    np.testing.assert_array_equal(saved["codes"], codes)
    np.testing.assert_array_equal(saved["body"], ae.inverse_transform(codes)["body"])
    np.testing.assert_array_equal(saved["isotopes"], ae.predict_modality({"body": body}, "isotopes"))


def test_the_file_holds_tensors_and_json_only(penguins):
    _, _, path = penguins
    with safe_open(str(path), framework="pt") as handle:
        state = json.loads(handle.metadata()["skmmae"])
        keys = list(handle.keys())
    assert state["format_version"] == FORMAT_VERSION and state["class"].endswith("MultimodalAutoencoder")
    assert set(state["modalities"]) == {"body", "isotopes", "site", "sex"}
    assert any(k.startswith("module.") for k in keys) and any(k.startswith("readout.") for k in keys)


class MyKind(Continuous):
    kind = "mine"


@pytest.mark.parametrize(
    "modalities, message",
    [
        ({"a": MyKind()}, r"modalities\['a'\] is a .*MyKind, which this format cannot"),
        ({"a": Continuous(encoder=nn.Linear(3, 4))}, r"modalities\['a'\]\.encoder is Linear"),
    ],
)
def test_what_json_cannot_describe_is_refused_at_save_naming_pickle(modalities, message, tmp_path):
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(30, 3)), "b": rng.normal(size=(30, 2))}
    ae = MultimodalAutoencoder(2, max_epochs=1, modalities=modalities, random_state=0).fit(X)
    with pytest.raises(ValueError, match=message + r".*pickle or joblib"):
        ae.save(tmp_path / "custom.safetensors")
    assert not (tmp_path / "custom.safetensors").exists()


def test_callbacks_are_not_saved_and_say_so(tiny_estimator, blocks, tmp_path):
    ae = tiny_estimator(callbacks=[Callback()]).fit(blocks)
    with pytest.warns(UserWarning, match=r"callbacks .* are not saved"):
        ae.save(tmp_path / "m.safetensors")
    assert load(tmp_path / "m.safetensors").callbacks is None


def rewrite(path, tensors=None, edit=None):
    """Write the model at ``path`` again with edited tensors or JSON state."""
    with safe_open(str(path), framework="pt") as handle:
        state = json.loads(handle.metadata()["skmmae"])
    tensors = tensors or load_file(str(path))
    if edit:
        edit(state)
    save_file(tensors, str(path), metadata={"skmmae": json.dumps(state)})


def test_an_edited_weight_shape_is_a_clear_error(tiny_estimator, blocks, tmp_path):
    path = tmp_path / "m.safetensors"
    tiny_estimator().fit(blocks).save(path)
    tensors = load_file(str(path))
    key = next(k for k in tensors if k.startswith("module.") and k.endswith("weight"))
    tensors[key] = torch.zeros(tuple(s + 1 for s in tensors[key].shape))
    rewrite(path, tensors=tensors)
    with pytest.raises(ValueError, match=r"(?s)the weights do not fit the model.*size mismatch"):
        load(path)


def test_a_version_1_file_with_the_old_weight_names_still_loads(tmp_path):
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(30, 3)), "t": rng.integers(1, 5, size=(30, 4))}
    # A model as version 1 made them: incomplete inputs shared the encoders.
    ae = MultimodalAutoencoder(
        2, fusion="concat", hidden_dims=(8,), max_epochs=1, random_state=0, device="cpu",
        modalities={"t": Sequence(vocab_size=6)},
        modality_dropout=ModalityDropout(encoders="shared"),
    ).fit(X)
    path = tmp_path / "m.safetensors"
    ae.save(path)
    tensors = load_file(str(path))
    renamed = lambda key: ".placeholders." in key or key.endswith(".positions.weight")  # noqa: E731
    old_names = {
        key.removesuffix(".weight") if renamed(key) else key: value for key, value in tensors.items()
    }
    assert "module.fusion.placeholders.0" in old_names and "module.decoders.m:t.positions" in old_names
    rewrite(path, tensors=old_names, edit=lambda state: state.update(format_version=1))
    np.testing.assert_allclose(load(path).transform(X), ae.transform(X), rtol=1e-6)


def test_a_newer_format_and_a_damaged_file_are_clear_errors(tiny_estimator, blocks, tmp_path):
    path = tmp_path / "m.safetensors"
    tiny_estimator().fit(blocks).save(path)
    rewrite(path, edit=lambda state: state.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match=rf"format version {FORMAT_VERSION + 1} .*Upgrade skmmae"):
        load(path)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"not a skmmae model file, or it is damaged"):
        load(damaged)


def test_a_file_naming_another_class_is_refused(tiny_estimator, blocks, tmp_path):
    path = tmp_path / "m.safetensors"
    tiny_estimator().fit(blocks).save(path)
    rewrite(path, edit=lambda state: state.update({"class": "os.system"}))
    with pytest.raises(ValueError, match=r"'os\.system', which skmmae does not load"):
        load(path)
    # Nor a function of skmmae's own, which the file's parameters would call.
    rewrite(path, edit=lambda state: state.update({"class": "skmmae.demo.main"}))
    with pytest.raises(ValueError, match=r"'skmmae\.demo\.main', which skmmae does not load"):
        load(path)


def test_load_on_a_given_device(penguins):
    _, X, path = penguins
    assert load(path).device == "auto"  # as saved, where it resolves here
    loaded = load(path, device="cpu")
    assert loaded.device_.type == "cpu" and loaded.device == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine without CUDA")
def test_a_model_trained_on_cuda_loads_on_the_cpu(tiny_estimator, blocks, tmp_path):
    # As a GPU-trained file says it: trained with device="cuda" (tensors are
    # always written from the host).
    path = tmp_path / "m.safetensors"
    ae = tiny_estimator().fit(blocks)
    ae.save(path)

    def trained_on_cuda(state):
        state["params"]["device"] = "cuda"
        state["fitted"]["device_"] = "cuda:0"

    rewrite(path, edit=trained_on_cuda)
    loaded = load(path)
    assert loaded.device == "cpu" and loaded.device_.type == "cpu"
    np.testing.assert_array_equal(loaded.transform(blocks), ae.transform(blocks))


def test_a_version_2_file_loads_with_the_encoders_it_was_trained_with(tmp_path):
    # Before version 3, incomplete inputs shared the encoders: no subset encoders.
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(30, 3)), "b": rng.normal(size=(30, 2))}
    settings = dict(hidden_dims=(8,), max_epochs=1, random_state=0, device="cpu")
    ae = MultimodalAutoencoder(
        2, modality_dropout=ModalityDropout(0.4, encoders="shared"), **settings
    ).fit(X)
    path = tmp_path / "m.safetensors"
    ae.save(path)
    rewrite(
        path,
        edit=lambda state: state.update(format_version=2)
        or state["params"].update(modality_dropout=0.4),
    )
    loaded = load(path)
    assert loaded.modality_dropout.get_params() == ae.modality_dropout.get_params()
    only_a = {"a": X["a"]}
    np.testing.assert_allclose(loaded.transform(only_a), ae.transform(only_a), rtol=1e-6)


def test_a_version_3_file_predicts_from_the_fused_code_as_its_read_out_was_fitted(tmp_path):
    # Before version 4, kernel predictors read the others' fused code.
    rng = np.random.default_rng(0)
    X = {name: rng.normal(size=(40, 3)) for name in "abc"}
    ae = MultimodalAutoencoder(
        2, readout=KernelReadout(others="fused"), hidden_dims=(8,), max_epochs=1,
        random_state=0, device="cpu",
    ).fit(X)
    path = tmp_path / "m.safetensors"
    ae.save(path)

    def as_version_3(state):
        state.update(format_version=3)
        del state["readout"]["object"]["params"]["others"]

    rewrite(path, edit=as_version_3)
    loaded = load(path)
    assert loaded.readout_.others == "fused"
    others = {"b": X["b"], "c": X["c"]}
    np.testing.assert_allclose(
        loaded.predict_modality(others, "a"), ae.predict_modality(others, "a"), rtol=1e-5
    )
