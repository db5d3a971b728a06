"""Video: clips of frames, 3-D convolutions over time, height and width, image losses."""

from ._image import PixelModality

__all__ = ["Video"]


class Video(PixelModality):
    """Clips ``(n, time, channels, height, width)``, or ``(n, time, height, width)`` grayscale.

    The encoder is a stack of stride-2 3-D convolutions (kernel 3, ReLU)
    over time, height and width, and the estimator's MLP; the decoder
    mirrors it with transposed 3-D convolutions and is cropped to the exact
    clip size, so any number of frames and any frame size work. Values are
    scored as :class:`Image` scores pixels: binary cross-entropy for
    intensities in [0, 1], else the MSE of values standardized per pixel
    and frame.

    The model reads clips as ``(n, channels, time, height, width)``: clips
    given with the channels after the time axis are reordered on the way in
    and back on the way out, and grayscale clips get a channel axis of 1
    that reconstructions lose again, so that :meth:`restore` (and the
    estimator's ``inverse_transform``) gives clips in the layout and rank
    that :meth:`fit` got.

    A 5-D array is guessed to be video; a 4-D one is guessed to be colour
    images ``(n, channels, height, width)``: name the kind of grayscale
    clips, ``modalities={name: "video"}``.

    Parameters
    ----------
    channels : sequence of int, default=(16, 32)
        Output channels of each encoder convolution; each halves the number
        of frames, the height and the width (rounding up). The decoder
        mirrors them.
    pixel_loss : {"auto", "bce", "mse"}, default="auto"
        ``"bce"``: intensities in [0, 1] are the targets of a binary
        cross-entropy on the decoder's logits, and reconstructions are
        sigmoids (in [0, 1]). ``"mse"``: each value is standardized with its
        mean and standard deviation over the training clips at its frame,
        channel and pixel (constant ones keep a scale of 1), the loss is the
        MSE in those units, and reconstructions are in original units.
        ``"auto"`` picks ``"bce"`` when every training value is in [0, 1],
        else ``"mse"``.
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`Modality`. The encoder reads
        ``(n_samples, channels, time, height, width)`` in model units (as
        given for ``"bce"``, standardized for ``"mse"``); the decoder
        returns that shape (logits for ``"bce"``).

    Attributes
    ----------
    input_shape_ : tuple of int
        ``(channels, time, height, width)``: one clip in the model's order;
        grayscale ``(n, time, height, width)`` input has 1 channel.
    n_features_ : int
        Number of values in one clip.
    input_ndim_ : int
        Rank of the array given to :meth:`fit` (4 or 5); reconstructions
        have this rank and its axis order.
    loss_ : {"bce", "mse"}
        The loss in use (``pixel_loss`` resolved).
    mean_ : ndarray of shape (channels, time, height, width)
        Per-value mean; only for the ``"mse"`` loss.
    scale_ : ndarray of shape (channels, time, height, width)
        Per-value standard deviation (1 for constant values); only for the
        ``"mse"`` loss.

    See Also
    --------
    Image : The same losses for single frames.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skmmae.modalities import Video
    >>> clips = np.random.default_rng(0).random((5, 6, 3, 8, 9))  # (n, time, RGB, H, W)
    >>> m = Video(channels=(4, 8)).fit(clips, label="Modality 'clip'")
    >>> m.loss_, m.input_shape_
    ('bce', (3, 6, 8, 9))
    >>> m.validate(clips).shape  # the model's order
    (5, 3, 6, 8, 9)
    >>> decoder = m.build_decoder(encoding_dim=3, hidden_dims=(16,))
    >>> with torch.no_grad():
    ...     logits = decoder(torch.zeros(2, 3))
    >>> logits.shape
    torch.Size([2, 3, 6, 8, 9])
    >>> m.restore(m.build_scaler().inverse(logits).numpy()).shape  # the user's order
    (2, 6, 3, 8, 9)
    >>> m.validate(clips[:, 0, 0], label="Modality 'clip'")  # one grayscale frame each
    Traceback (most recent call last):
    ...
    ValueError: Modality 'clip' must be a 4-D or 5-D array: (n_samples, time, channels, height, width), or (n_samples, time, height, width) for grayscale; got shape (5, 8, 9).
    """

    kind = "video"
    _spatial_ndim = 3
    _channel_axis = 2
    _layout = (
        "(n_samples, time, channels, height, width), or (n_samples, time, height, width) "
        "for grayscale"
    )
