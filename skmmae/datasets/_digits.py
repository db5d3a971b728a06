"""Digit images paired with the digit's English word, as character tokens."""

import numpy as np
from skorch.helper import SliceDict
from sklearn.datasets import load_digits

from .._docstrings import fill_doc
from ._files import make_bunch
from ._tokens import decode_tokens, encode_tokens

__all__ = ["decode_words", "encode_words", "load_digits_words"]

#: The token of each id: 0 is the pad (end of word), then 'a'..'z' as 1..26.
VOCABULARY = ("<pad>", *"abcdefghijklmnopqrstuvwxyz")
#: The longest words ("three", "seven", "eight") have 5 letters; one more
#: position gives every word an explicit end pad, so the end is always learned.
MAX_LEN = 6
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_INTRO = """\
Digits with words
-----------------

The scikit-learn digits images paired with the English word of each digit.

:modalities: "image": (1797, 8, 8) float32, the pixel counts 0..16 divided
             by 16 (values in [0, 1]); "text": (1797, 6) int64, the word
             ("zero" ... "nine") as character ids, 0 = pad (end of word),
             'a'..'z' = 1..26, right-padded to 6 positions (every word ends
             with at least one pad).
:target: the digit, 0..9.

The images are the UCI ML Optical Recognition of Handwritten Digits data
(E. Alpaydin, C. Kaynak, 1998), as shipped in scikit-learn
(``sklearn.datasets.load_digits``); its description follows.

"""


def encode_words(words, max_len=MAX_LEN):
    """Lower-case words -> character ids ``(n_words, max_len)``, right-padded with 0.

    Parameters
    ----------
    words : sequence of str
        Words of the letters 'a'..'z', each shorter than ``max_len`` or as long.
    max_len : int, default=6
        Number of positions per row.

    Returns
    -------
    ndarray of shape (n_words, max_len), int64

    Examples
    --------
    >>> from skmmae.datasets import encode_words
    >>> encode_words(["one", "six"])
    array([[15, 14,  5,  0,  0,  0],
           [19,  9, 24,  0,  0,  0]])
    """
    return encode_tokens(
        words,
        VOCABULARY,
        "",
        max_len,
        "Word {row} ({text!r}) must hold only the letters 'a'..'z' and have at most "
        "max_len={max_len} of them.",
    )


def decode_words(tokens):
    """Character ids -> words: the letters before the first pad of each row.

    Parameters
    ----------
    tokens : array-like of shape (n_words, max_len)
        Ids as made by :func:`encode_words` (or reconstructed by the model).

    Returns
    -------
    ndarray of shape (n_words,), str

    Examples
    --------
    >>> from skmmae.datasets import decode_words
    >>> decode_words([[15, 14, 5, 0, 0, 0], [0, 3, 0, 0, 0, 0]])
    array(['one', ''], dtype='<U3')
    """
    return decode_tokens(tokens, VOCABULARY, "")


@fill_doc
def load_digits_words(*, return_X_y=False):
    """Load the digits images with each digit's word as character tokens.

    =================  ==============================================
    samples            1,797
    modalities         image (8, 8) float32 in [0, 1];
                       text 6 character ids (0 = pad, 'a'..'z' = 1..26)
    target             int, the digit
    =================  ==============================================

    The images come from ``sklearn.datasets.load_digits`` (the UCI Optical
    Recognition of Handwritten Digits data, shipped with scikit-learn, no
    download). Words are right-padded with 0 to 6 positions, so every word
    ends with a pad, which :class:`~skmmae.modalities.Sequence` reads as the
    end of the sequence.

    %(loader_parameters)s
            ``"image"``: (1797, 8, 8) float32; ``"text"``: (1797, 6) int64.
        target : ndarray of shape (1797,)
            The digit of each sample.
        target_names : ndarray of shape (10,)
            The words "zero" ... "nine".
        vocabulary : tuple of str
            The token of each id; id 0 is ``"<pad>"``.
    %(loader_end)s

    Examples
    --------
    >>> from skmmae.datasets import decode_words, load_digits_words
    >>> X, y = load_digits_words(return_X_y=True)
    >>> y[:3], decode_words(X["text"][:3])
    (array([0, 1, 2]), array(['zero', 'one', 'two'], dtype='<U4'))
    >>> X["image"].shape, X["text"].shape
    ((1797, 8, 8), (1797, 6))
    """
    digits = load_digits()
    target = digits.target.astype(np.int64)
    images = (digits.images / 16.0).astype(np.float32)
    data = SliceDict(image=images, text=encode_words([WORDS[d] for d in target]))
    return make_bunch(
        data,
        target,
        return_X_y,
        target_names=np.array(WORDS),
        vocabulary=VOCABULARY,
        DESCR=_INTRO + digits.DESCR,
    )
