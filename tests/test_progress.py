"""The progress bars of a fit: silent by default, over epochs at verbose=2, batches at 3."""

import pickle
import re

from skmmae._progress import EpochProgress


def test_silent_by_default_and_a_table_at_verbose_1(tiny_estimator, blocks, capsys):
    tiny_estimator().fit(blocks)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    tiny_estimator(verbose=1).fit(blocks)
    assert "train_loss" in capsys.readouterr().out  # skorch's table


def test_an_epoch_bar_with_the_loss_at_verbose_2(tiny_estimator, blocks, capsys):
    ae = tiny_estimator(verbose=2, max_epochs=3).fit(blocks)
    captured = capsys.readouterr()
    assert captured.out == ""  # no table beside the bar
    final = f"{ae.net_.history[-1, 'train_loss']:.4g}"
    assert re.search(rf"fit: 100%.*3/3 .*train_loss={re.escape(final)}", captured.err)
    # The fitted model keeps no bar (it writes to a stream) and pickles.
    progress = dict(ae.net_.callbacks_)["epoch_progress"]
    assert isinstance(progress, EpochProgress) and not hasattr(progress, "bar_")
    pickle.loads(pickle.dumps(ae))


def test_batch_bars_too_at_verbose_3(tiny_estimator, blocks, capsys):
    tiny_estimator(verbose=3, max_epochs=2, batch_size=10).fit(blocks)
    err = capsys.readouterr().err
    # skorch's bar over the 3 batches of each epoch (30 rows in tens), cleared
    # when the epoch ends, beside the bar over the epochs.
    assert "fit: 100%" in err and re.search(r"0/3 \[.*it/s\]", err)
