"""Inference passes over a trained net: batches, encode, decode, predict, losses."""

import numpy as np
import pytest
import torch

from skmmae._inference import NonFiniteOutput, batches, decode, encode, loss_totals, predict


@pytest.fixture(scope="module")
def net_and_data(tiny_net):
    rng = np.random.RandomState(0)
    data = {
        "a": rng.normal(3.0, 2.0, size=(37, 4)).astype(np.float32),
        "b": rng.normal(size=(37, 2)).astype(np.float32),
    }
    torch.manual_seed(0)
    return tiny_net(data, max_epochs=5, batch_size=16).fit(data), data


def whole(data):
    return {name: torch.as_tensor(block) for name, block in data.items()}


def test_batches_come_in_order_in_eval_mode(net_and_data):
    net, data = net_and_data
    net.module_.train()
    parts = list(batches(net, data))
    assert [len(part["a"]) for part in parts] == [16, 16, 5]
    np.testing.assert_array_equal(np.concatenate([p["a"].numpy() for p in parts]), data["a"])
    assert not net.module_.training and not net.criterion_.training
    assert [len(part["a"]) for part in batches(net, data, batch_size=30)] == [30, 7]


def test_encode_in_batches_equals_one_pass_over_all_rows(net_and_data):
    net, data = net_and_data
    codes = encode(net, data)
    assert codes.shape == (37, 2) and codes.dtype == np.float32
    with torch.no_grad():
        expected = net.module_.encode(**whole(data)).numpy()
    np.testing.assert_allclose(codes, expected, rtol=1e-5, atol=1e-6)


def test_decode_gives_original_units(net_and_data):
    net, data = net_and_data
    recon = decode(net, encode(net, data), net.module_.decode)
    assert {k: v.shape for k, v in recon.items()} == {"a": (37, 4), "b": (37, 2)}
    # "a" was fitted around 3 with spread 2: its reconstructions are back in those units.
    assert abs(recon["a"].mean() - 3.0) < 1.0


def test_decode_names_the_rows_whose_reconstruction_is_not_finite(net_and_data):
    net, data = net_and_data
    codes = encode(net, data)
    codes[[3, 20]] = 3e38
    with pytest.raises(NonFiniteOutput) as caught:
        decode(net, codes, net.module_.decode)
    rows = caught.value.rows
    assert rows and all(np.flatnonzero(mask).tolist() == [3, 20] for mask in rows.values())


def test_predict_applies_the_prediction_per_batch_in_original_units(net_and_data):
    net, data = net_and_data
    module = net.module_

    def from_b(batch):
        with torch.no_grad():
            return module.predict(module.encode(b=batch["b"]), "a")

    values = predict(net, {"b": data["b"]}, "a", from_b, batch_size=10)
    with torch.no_grad():
        expected = module.scalers["a"].inverse(from_b(whole({"b": data["b"]}))).numpy()
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-5)


def test_loss_totals_do_not_depend_on_the_batch_size(net_and_data):
    net, data = net_and_data
    losses, kl = loss_totals(net, data)
    assert kl is None and set(losses) == {"a", "b"}
    net.batch_size = 5
    try:
        again, _ = loss_totals(net, data)
    finally:
        net.batch_size = 16
    for name in losses:
        assert again[name] == pytest.approx(losses[name], rel=1e-5)
    # The same loss the training reports for a pass in eval mode.
    with torch.no_grad():
        output = net.module_(**whole(data))
        expected = net.criterion_.per_modality(output)
    for name in losses:
        assert losses[name] == pytest.approx(float(expected[name]), rel=1e-5)


def test_encode_names_the_rows_whose_code_is_not_finite(net_and_data):
    net, data = net_and_data
    huge = {name: block.copy() for name, block in data.items()}
    huge["a"][[2, 30]] = np.inf  # (the estimator refuses these before encoding)
    with pytest.raises(NonFiniteOutput) as caught:
        encode(net, huge)
    assert np.flatnonzero(caught.value.rows["code"]).tolist() == [2, 30]
