"""The net built from the parameters: its callbacks, in the order that matters."""

import numpy as np
from skorch.callbacks import Callback

from skmmae.options import EarlyStop, Variational


class Mine(Callback):
    pass


def names(ae):
    return [name for name, _ in ae.net_.callbacks_]


def test_the_loss_terms_come_first_and_the_final_weights_after_the_users(tiny_estimator, blocks):
    order = names(tiny_estimator(callbacks=[("mine", Mine())]).fit(blocks))
    # skorch's own (epoch timer, scoring, print log) come before any given ones.
    ours = [name for name in order if name in ("loss_terms", "mine", "weight_average")]
    assert ours == ["loss_terms", "mine", "weight_average"]


def test_early_stopping_replaces_the_weight_average(tiny_estimator, blocks):
    order = names(tiny_estimator(early_stopping=EarlyStop(patience=2)).fit(blocks))
    assert "early_stopping" in order and "weight_average" not in order
    assert "weight_average" not in names(tiny_estimator(ema_decay=0.0).fit(blocks))


def test_a_kl_warmup_only_with_a_variational_model_that_asks_for_it(tiny_estimator, blocks):
    assert "kl_warmup" not in names(tiny_estimator(variational=True).fit(blocks))
    warm = tiny_estimator(variational=Variational(kl_warmup_epochs=4)).fit(blocks)
    assert "kl_warmup" in names(warm)
    # Two epochs of a four-epoch warm-up: half way to beta = 1.
    np.testing.assert_allclose(warm.net_.criterion_.beta, 0.5)


def test_no_cuda_graphs_callback_off_cuda(tiny_estimator, blocks):
    assert "cuda_graphs" not in names(tiny_estimator(device="cpu").fit(blocks))
