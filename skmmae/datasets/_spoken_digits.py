"""Spoken digits (espeak-ng speech as log-mel spectrograms) paired with their words."""

import numpy as np
from skorch.helper import SliceDict

from ._digits import VOCABULARY, WORDS, encode_words
from .._docstrings import fill_doc
from ._files import load_arrays, make_bunch, read_description

__all__ = ["load_spoken_digits"]


@fill_doc
def load_spoken_digits(*, return_X_y=False):
    """Load the words "zero" ... "nine" spoken by 112 synthetic voices, with the words.

    =================  ==============================================
    samples            1,120 (112 voices x 10 words)
    modalities         audio (32, 32) float32: 32 mel bands x 32
                       frames, dB in [-80, 0];
                       text 6 character ids (0 = pad, 'a'..'z' = 1..26)
    target             int, the digit
    =================  ==============================================

    The speech was made with the espeak-ng synthesizer (7 English accents,
    4 voice variants, 2 speeds, 2 pitches) by ``tools/make_spoken_digits.py``
    and shipped as log-mel spectrograms; ``DESCR`` tells how, and the
    license. Each spectrogram is a time series with the mel bands as
    channels: name its kind, ``modalities={"audio": "timeseries", "text":
    "tokens"}`` (a 3-D array is not guessed, and integer ids would be taken
    for continuous values). The words are encoded as in
    :func:`load_digits_words`.

    %(loader_parameters)s
            ``"audio"``: (1120, 32, 32) float32, (mel band, frame);
            ``"text"``: (1120, 6) int64.
        target : ndarray of shape (1120,)
            The digit of each sample.
        target_names : ndarray of shape (10,)
            The words "zero" ... "nine".
        voice : ndarray of shape (1120,), str
            The espeak-ng voice, accent and variant, e.g. ``"en-us+f2"``.
        speed : ndarray of shape (1120,)
            Words per minute, 140 or 190.
        pitch : ndarray of shape (1120,)
            espeak-ng pitch (0..99), 35 or 65.
        trimmed_frames : ndarray of shape (1120,)
            Number of 10 ms frames of each utterance after trimming its
            silence, before resampling to 32 frames: its duration.
        vocabulary : tuple of str
            The token of each id; id 0 is ``"<pad>"``.
        mel_frequencies : ndarray of shape (32,)
            Center frequency of each mel band, in Hz.
    %(loader_end)s

    Examples
    --------
    Mel spectrograms of 32 bands by 32 frames, and the words spoken:

    >>> from skmmae.datasets import decode_words, load_spoken_digits
    >>> X, y = load_spoken_digits(return_X_y=True)
    >>> X["audio"].shape, X["text"].shape
    ((1120, 32, 32), (1120, 6))
    >>> y[:3], decode_words(X["text"][:3])
    (array([0, 1, 2]), array(['zero', 'one', 'two'], dtype='<U4'))
    """
    arrays = load_arrays("spoken_digits.npz")
    target = arrays["digit"].astype(np.int64)
    data = SliceDict(
        audio=arrays["audio"].astype(np.float32),
        text=encode_words([WORDS[digit] for digit in target]),
    )
    return make_bunch(
        data,
        target,
        return_X_y,
        target_names=np.array(WORDS),
        voice=arrays["voice"],
        speed=arrays["speed"].astype(np.int64),
        pitch=arrays["pitch"].astype(np.int64),
        trimmed_frames=arrays["trimmed_frames"].astype(np.int64),
        mel_frequencies=arrays["mel_frequencies"].astype(np.float64),
        vocabulary=VOCABULARY,
        DESCR=read_description("spoken_digits.rst"),
    )
