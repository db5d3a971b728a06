"""A progress bar over the epochs of a fit, with the current losses.

:class:`EpochProgress` is a skorch callback: a ``tqdm`` bar (``tqdm.auto``,
so a widget in notebooks and text in a terminal) that advances once per
epoch and shows the epoch's training loss, and its validation loss when
there is one. The estimator adds it at ``verbose=2`` (and skorch's own
``ProgressBar`` over each epoch's batches too at ``verbose=3``); tqdm comes
with skorch.
"""

from skorch.callbacks import Callback

__all__ = ["EpochProgress"]


class EpochProgress(Callback):
    """Show a progress bar over the epochs of training, with the latest losses.

    Parameters
    ----------
    desc : str, default="fit"
        The bar's label.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae import MultimodalAutoencoder
    >>> from skmmae._progress import EpochProgress
    >>> X = {"a": np.random.default_rng(0).normal(size=(40, 3))}
    >>> ae = MultimodalAutoencoder(2, max_epochs=3, callbacks=[EpochProgress()],
    ...                            random_state=0).fit(X)  # doctest: +SKIP
    """

    def __init__(self, desc="fit"):
        self.desc = desc

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        done = len(net.history)  # epochs of a history loaded or trained before
        self.bar_ = tqdm(total=done + net.max_epochs, initial=done, desc=self.desc, unit="epoch")

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        losses = {
            key: f"{row[key]:.4g}" for key in ("train_loss", "valid_loss") if key in row
        }
        self.bar_.set_postfix(losses, refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        bar = self.__dict__.pop("bar_", None)
        if bar is not None:
            bar.close()

    def __getstate__(self):
        # A bar writes to a stream: it is not kept with a pickled model.
        state = dict(self.__dict__)
        state.pop("bar_", None)
        return state
