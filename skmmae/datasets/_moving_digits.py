"""Short clips of the sklearn digits moving on a canvas, with word captions."""

import numpy as np
from skorch.helper import SliceDict
from sklearn.datasets import load_digits

from ._digits import WORDS
from .._docstrings import fill_doc
from ._files import make_bunch
from ._tokens import decode_tokens, encode_tokens

__all__ = ["decode_captions", "encode_captions", "load_moving_digits"]

#: The direction of each index, and its (row, column) step per frame.
DIRECTIONS = ("up", "down", "left", "right")
STEPS = np.array([(-1, 0), (1, 0), (0, -1), (0, 1)])
#: The token of each caption id: 0 is the pad, then the digit words, then
#: the directions.
CAPTION_VOCABULARY = ("<pad>", *WORDS, *DIRECTIONS)
#: A caption has 2 words; the third position is always the end pad.
CAPTION_LEN = 3
N_FRAMES = 8
CANVAS = 16
DIGIT = 8
SEED = 0

_INTRO = """\
Moving digits with captions
---------------------------

Each scikit-learn digits image moving across a black canvas, one clip per
image, with a caption such as "seven left".

:modalities: "video": (1797, 8, 16, 16) float32, 8 frames of 16 x 16 pixels
             in [0, 1]; "caption": (1797, 3) int64, the words "<digit>
             <direction>" as ids (0 = pad, "zero" ... "nine" = 1..10,
             "up", "down", "left", "right" = 11..14), right-padded to 3.
:target: the digit, 0..9.

Made by ``skmmae.datasets.load_moving_digits`` itself, deterministically:
each 8 x 8 image, divided by 16, is placed on a 16 x 16 black canvas and
moves one pixel per frame for 8 frames, up, down, left or right. A random
generator with the fixed seed 0 (``numpy.random.default_rng(0)``) draws,
for every image in turn, the direction, the start along the motion (one of
the two that keep the digit inside the canvas in every frame) and the
offset across it (0..8 pixels from the top or left edge).

The images are the UCI ML Optical Recognition of Handwritten Digits data
(E. Alpaydin, C. Kaynak, 1998), licensed CC BY 4.0, as shipped in
scikit-learn (``sklearn.datasets.load_digits``); its description follows.

"""


def encode_captions(captions):
    """Turn captions "<digit word> <direction>" into word ids, right-padded with 0.

    Parameters
    ----------
    captions : sequence of str
        Space-separated words of the vocabulary: "zero" ... "nine", "up",
        "down", "left", "right" (at most 3 of them).

    Returns
    -------
    ndarray of shape (n_captions, 3), int64
        Ids 1..10 for the digit words, 11..14 for the directions, 0 after
        the last word.

    Examples
    --------
    >>> from skmmae.datasets import encode_captions
    >>> encode_captions(["seven left", "zero up"])
    array([[ 8, 13,  0],
           [ 1, 11,  0]])
    """
    return encode_tokens(
        captions,
        CAPTION_VOCABULARY,
        " ",
        CAPTION_LEN,
        "Caption {row} ({text!r}) must hold at most {max_len} space-separated words of "
        f"{CAPTION_VOCABULARY[1:]}.",
    )


def decode_captions(tokens):
    """Word ids -> captions: the words before the first pad of each row, space-separated.

    Parameters
    ----------
    tokens : array-like of shape (n_captions, max_len)
        Ids as made by :func:`encode_captions`, or reconstructed by the
        model; the ids after a row's first pad are ignored.

    Returns
    -------
    ndarray of shape (n_captions,), str
        The captions, their words separated by one space.

    Examples
    --------
    >>> from skmmae.datasets import decode_captions
    >>> decode_captions([[8, 13, 0], [3, 0, 12]])
    array(['seven left', 'two'], dtype='<U10')
    """
    return decode_tokens(tokens, CAPTION_VOCABULARY, " ")


def _starts(direction, rng):
    """Top-left (row, column) of each digit in the first frame ``(n, 2)``."""
    n = len(direction)
    travel = N_FRAMES - 1
    # Along the motion: `along` pixels from the edge it moves away from.
    along = rng.integers(CANVAS - DIGIT - travel + 1, size=n)
    across = rng.integers(CANVAS - DIGIT + 1, size=n)
    step = STEPS[direction]
    moving = step != 0
    forward_start = np.where(step.sum(axis=1) > 0, along, CANVAS - DIGIT - along)
    return np.where(moving, forward_start[:, np.newaxis], across[:, np.newaxis])


def _clips(images, starts, direction):
    """Each image drawn on a black canvas at its start plus ``t`` steps, frame ``t``."""
    n = len(images)
    clips = np.zeros((n, N_FRAMES, CANVAS, CANVAS), dtype=np.float32)
    offsets = np.arange(DIGIT)
    samples = np.arange(n)[:, np.newaxis, np.newaxis]
    for t in range(N_FRAMES):
        top, left = (starts + t * STEPS[direction]).T
        rows = (top[:, np.newaxis] + offsets)[:, :, np.newaxis]
        columns = (left[:, np.newaxis] + offsets)[:, np.newaxis, :]
        clips[samples, t, rows, columns] = images
    return clips


@fill_doc
def load_moving_digits(*, return_X_y=False):
    """Load clips of the digits images moving up, down, left or right, with captions.

    =================  ==============================================
    samples            1,797 (one clip per sklearn digits image)
    modalities         video (8, 16, 16) float32 in [0, 1];
                       caption 3 word ids ("<digit> <direction>")
    target             int, the digit
    =================  ==============================================

    Made here, not read from a file: each 8 x 8 image of
    ``sklearn.datasets.load_digits``, divided by 16, is put on a 16 x 16
    black canvas and moves one pixel per frame for 8 frames, in a direction
    (up, down, left, right) and from a start drawn for it by a random
    generator with a fixed seed, such that the digit stays whole in every
    frame. Every call gives the same clips. The caption names the digit and
    the direction, as word ids (see :func:`encode_captions`). Name the
    kinds, ``modalities={"video": "video", "caption": "tokens"}``: a 4-D
    array would be guessed to be images with the frames as channels, and
    integer ids to be continuous values.

    %(loader_parameters)s
            ``"video"``: (1797, 8, 16, 16) float32, (frame, row, column);
            ``"caption"``: (1797, 3) int64.
        target : ndarray of shape (1797,)
            The digit of each sample.
        target_names : ndarray of shape (10,)
            The words "zero" ... "nine".
        direction : ndarray of shape (1797,)
            The direction of motion, an index into ``direction_names``.
        direction_names : ndarray of shape (4,)
            "up", "down", "left", "right".
        vocabulary : tuple of str
            The caption word of each id; id 0 is ``"<pad>"``.
        start : ndarray of shape (1797, 2)
            Row and column of the digit's top-left pixel in the first frame;
            in frame ``t`` it is ``t`` pixels further in its direction.
    %(loader_end)s

    Examples
    --------
    Clips of 8 frames of 16 x 16 pixels, and their captions read back as words:

    >>> from skmmae.datasets import decode_captions, load_moving_digits
    >>> X, y = load_moving_digits(return_X_y=True)
    >>> X["video"].shape, X["caption"].shape
    ((1797, 8, 16, 16), (1797, 3))
    >>> y[:3], decode_captions(X["caption"][:3])
    (array([0, 1, 2]), array(['zero right', 'one left', 'two left'], dtype='<U10'))
    """
    digits = load_digits()
    target = digits.target.astype(np.int64)
    rng = np.random.default_rng(SEED)
    direction = rng.integers(len(DIRECTIONS), size=len(target))
    starts = _starts(direction, rng)
    captions = [f"{WORDS[d]} {DIRECTIONS[k]}" for d, k in zip(target, direction)]
    data = SliceDict(
        video=_clips((digits.images / 16.0).astype(np.float32), starts, direction),
        caption=encode_captions(captions),
    )
    return make_bunch(
        data,
        target,
        return_X_y,
        target_names=np.array(WORDS),
        direction=direction.astype(np.int64),
        direction_names=np.array(DIRECTIONS),
        start=starts.astype(np.int64),
        vocabulary=CAPTION_VOCABULARY,
        DESCR=_INTRO + digits.DESCR,
    )
