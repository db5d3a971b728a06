"""Text <-> token ids, right-padded with id 0, for the loaders' text modalities."""

import numpy as np

__all__ = ["PAD_ID", "decode_tokens", "encode_tokens"]

#: Id 0 pads a row and marks the end of its text.
PAD_ID = 0


def _split(text, separator):
    return list(text) if separator == "" else text.split(separator) if text else []


def encode_tokens(texts, vocabulary, separator, max_len, error):
    """Texts -> ids ``(n_texts, max_len)`` int64, right-padded with :data:`PAD_ID`.

    ``separator`` splits a text into tokens (``""``: one token per
    character). A text with a token outside ``vocabulary[1:]`` or more than
    ``max_len`` tokens raises ``ValueError(error.format(row=, text=, max_len=))``.
    """
    index = {token: i for i, token in enumerate(vocabulary) if i != PAD_ID}
    ids = np.full((len(texts), max_len), PAD_ID, dtype=np.int64)
    for row, text in enumerate(texts):
        tokens = _split(text, separator)
        if len(tokens) > max_len or not all(token in index for token in tokens):
            raise ValueError(error.format(row=row, text=text, max_len=max_len))
        ids[row, : len(tokens)] = [index[token] for token in tokens]
    return ids


def decode_tokens(tokens, vocabulary, separator):
    """Ids -> texts: the tokens before the first pad of each row, joined by ``separator``."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be 2-D (n_samples, max_len); got shape {tokens.shape}.")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= len(vocabulary)):
        raise ValueError(f"tokens must be ids in [0, {len(vocabulary)}).")
    texts = []
    for row in tokens:
        end = np.flatnonzero(row == PAD_ID)
        ids = row[: end[0]] if len(end) else row
        texts.append(separator.join(vocabulary[i] for i in ids))
    return np.array(texts, dtype=str)
