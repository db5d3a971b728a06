"""Real data sets shipped with skmmae (no network needed), and generators of synthetic ones."""

from ._basic_motions import load_basic_motions
from ._digits import decode_words, encode_words, load_digits_words
from ._lagged import make_lagged
from ._mfeat import load_mfeat
from ._moving_digits import decode_captions, encode_captions, load_moving_digits
from ._penguins import load_penguins
from ._spoken_digits import load_spoken_digits

__all__ = [
    "decode_captions",
    "decode_words",
    "encode_captions",
    "encode_words",
    "load_basic_motions",
    "load_digits_words",
    "load_mfeat",
    "load_moving_digits",
    "load_penguins",
    "load_spoken_digits",
    "make_lagged",
]
