"""Real data sets shipped with skmmae (no network needed)."""

from ._digits import decode_words, encode_words, load_digits_words
from ._mfeat import load_mfeat
from ._spoken_digits import load_spoken_digits

__all__ = [
    "decode_words",
    "encode_words",
    "load_digits_words",
    "load_mfeat",
    "load_spoken_digits",
]
