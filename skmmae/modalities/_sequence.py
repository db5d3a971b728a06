"""Token sequences (text): embedding + GRU encoder, GRU decoder, masked cross-entropy.

A sequence is a row of integer token ids, right-padded with ``pad_id``. The
first pad of a row is its end: it is a token the model predicts (so the
model learns where a sequence stops), and every position after it is
ignored. The helpers below compute that end once, in torch, for the
encoder, the loss and the scaler's inverse alike.
"""

import numbers

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._layers import mlp_decoder, mlp_encoder
from .._values import as_integer_array, raise_for_rows
from ._base import Modality, check_values, invalid_parameter

__all__ = ["MAX_INFERRED_VOCAB", "Sequence"]

#: The largest vocabulary :class:`Sequence` learns from the data (without an
#: explicit ``vocab_size``): common subword vocabularies (30k-50k ids) fit.
MAX_INFERRED_VOCAB = 65_536


def sequence_lengths(tokens, pad_id):
    """Number of tokens before the first pad of each row (the row width if none).

    Parameters
    ----------
    tokens : torch.Tensor of shape (n_samples, max_len)
        Token ids.
    pad_id : int
        The padding id.

    Returns
    -------
    torch.Tensor of shape (n_samples,), int64
    """
    # A position is inside the sequence while no pad has been seen up to it.
    # As int64: ONNX has no cumulative sum of booleans.
    seen_pad = (tokens == pad_id).long().cumsum(dim=1) > 0
    return (~seen_pad).sum(dim=1)


def counted_positions(tokens, pad_id):
    """Mask of the positions that count: the tokens and the first pad.

    Returns
    -------
    torch.Tensor of shape (n_samples, max_len), bool
    """
    positions = torch.arange(tokens.shape[1], device=tokens.device)
    return positions <= sequence_lengths(tokens, pad_id)[:, None]


class TokenScaler(nn.Module):
    """Token ids stay ids; logits go back as ids, pad after the predicted end."""

    def __init__(self, pad_id):
        super().__init__()
        self.pad_id = pad_id

    def forward(self, x):
        return x.long()

    def inverse(self, logits):
        """Most likely id per position; every position after the first pad is pad."""
        ids = logits.argmax(dim=-1)
        return ids.masked_fill(~counted_positions(ids, self.pad_id), self.pad_id)


class SequenceEncoder(nn.Module):
    """Token ids ``(n, max_len)`` -> GRU states read at the end of each sequence.

    Two GRUs read each sequence up to and including its end (the first pad;
    the last position of a row without pad; position 0 of an empty row):
    one forwards, one backwards, and their states at the end are
    concatenated, ``(n, 2 * hidden_size)``. The backward reading makes the
    first tokens as present in the features as the last ones; a single
    forward GRU forgets them and trains much more slowly. Neither reading
    sees a position after the end: a GRU only looks back, and the backward
    one reads each row reversed within its own length (a gather, not a
    packed sequence, so shapes stay static for CUDA graphs).
    """

    def __init__(self, vocab_size, pad_id, embedding_dim, hidden_size):
        super().__init__()
        self.pad_id = pad_id
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.forward_gru = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.backward_gru = nn.GRU(embedding_dim, hidden_size, batch_first=True)

    def forward(self, tokens):
        n, max_len = tokens.shape
        end = sequence_lengths(tokens, self.pad_id).clamp(max=max_len - 1)[:, None]
        embedded = self.embedding(tokens)
        # Position t of the reversed row is position end - t of the row;
        # positions after the end stay where they are, behind what is read.
        positions = torch.arange(max_len, device=tokens.device)[None]
        reverse = torch.where(positions <= end, end - positions, positions)
        reversed_rows = embedded.gather(1, reverse[..., None].expand_as(embedded))
        rows = torch.arange(n, device=tokens.device)
        forward_states, _ = self.forward_gru(embedded)
        backward_states, _ = self.backward_gru(reversed_rows)
        end = end[:, 0]
        return torch.cat([forward_states[rows, end], backward_states[rows, end]], dim=1)


class PositionTable(nn.Module):
    """A learned embedding per position, added to ``x`` of shape ``(n, 1 or max_len, width)``.

    A layer of its own, so that private training can give it per-sample
    gradients (:mod:`skmmae.privacy`): each sample's gradient of the table
    is the gradient of the layer's output for that sample.
    """

    def __init__(self, max_len, width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, width) * 0.1)

    def forward(self, x):
        return x + self.weight


class SequenceDecoder(nn.Module):
    """Code ``(n, encoding_dim)`` -> logits ``(n, max_len, vocab_size)``, in one pass.

    An MLP maps the code to the GRU's initial state; the GRU then reads
    learned position embeddings plus a linear map of the code (not its own
    previous outputs), so all positions are decoded at once, without teacher
    forcing. Giving the code to every step, not only to the initial state,
    lets late positions use it directly; without it training often stalls
    at predicting the most frequent letter of each position.
    """

    def __init__(self, head, encoding_dim, max_len, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        self.head = head
        self.code_input = nn.Linear(encoding_dim, embedding_dim)
        self.positions = PositionTable(max_len, embedding_dim)
        self.gru = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.logits = nn.Linear(hidden_size, vocab_size)

    def forward(self, code):
        # tanh keeps the initial state in the range of the GRU's own states.
        h0 = torch.tanh(self.head(code)).unsqueeze(0).contiguous()
        inputs = self.positions(self.code_input(code)[:, None])
        states, _ = self.gru(inputs, h0)
        return self.logits(states)


class Sequence(Modality):
    """Token sequences (e.g. text): GRU encoder and decoder, cross-entropy per position.

    Each row holds the integer token ids of one sequence, right-padded with
    ``pad_id`` to a common length ``max_len``. The **first pad of a row marks
    its end**: it is predicted like a token, so the model learns where each
    sequence stops, and everything after it is ignored (set to ``pad_id`` by
    :meth:`validate`, left out of the loss, never seen by the encoder). A
    row without any pad fills all ``max_len`` positions; a row starting with
    a pad is an empty sequence.

    The encoder embeds the tokens (``padding_idx=pad_id``); one GRU reads
    each sequence forwards and one backwards, both up to and including its
    end, and their states there, concatenated, go through the estimator's
    MLP. The decoder is non-autoregressive: an MLP maps the code to the
    initial state of a GRU that reads learned position embeddings plus a
    linear map of the code, and a linear layer gives the logits of every
    position. ``inverse_transform`` returns the most likely ids, with
    ``pad_id`` everywhere after the first predicted pad.

    Parameters
    ----------
    vocab_size : int or None, default=None
        Number of token ids; ids must lie in ``[0, vocab_size)``. ``None``
        learns it in :meth:`fit` as the largest id seen plus one, so later
        data may not use larger ids. Learned vocabularies are limited to
        65,536 ids (``MAX_INFERRED_VOCAB``): the embedding and the output layer
        have a row per id, so a stray huge id would allocate gigabytes.
        Larger vocabularies must be given here.
    pad_id : int, default=0
        The padding id, which also marks the end of a sequence.
    embedding_dim : int, default=32
        Width of the token and position embeddings.
    hidden_size : int, default=64
        Width of the encoder's and decoder's GRU states.
    encoder, decoder : torch.nn.Module, callable or None, default=None
        Custom architectures; see :class:`Modality`. The encoder reads token
        ids ``(n_samples, max_len)`` (int64); the decoder returns logits
        ``(n_samples, max_len, vocab_size)``.

    Attributes
    ----------
    input_shape_ : tuple of int
        ``(max_len,)``.
    n_features_ : int
        ``max_len``.
    max_len_ : int
        Number of positions per row seen in :meth:`fit`. Shorter rows given
        later are right-padded with ``pad_id``; longer sequences are an error.
    vocab_size_ : int
        Number of token ids the model knows.

    Examples
    --------
    >>> import numpy as np
    >>> from skmmae.modalities import Sequence
    >>> tokens = np.array([[3, 1, 0, 0], [2, 2, 2, 1], [0, 5, 0, 0]])
    >>> m = Sequence().fit(tokens)
    >>> m.vocab_size_, m.max_len_
    (4, 4)

    The third row is empty (it starts with the pad); what follows its end is
    ignored. Shorter rows are padded:

    >>> m.validate(np.array([[0, 5, 0, 0], [1, 2, 3, 0]]))
    array([[0, 0, 0, 0],
           [1, 2, 3, 0]])
    >>> m.validate([[1, 2]])
    array([[1, 2, 0, 0]])
    >>> m.validate([[1, 9, 0, 0]], label="Modality 'text'")
    Traceback (most recent call last):
    ...
    ValueError: Modality 'text' has token ids outside the vocabulary [0, 4) in 1 rows (first: 0).
    """

    kind = "tokens"
    fits_on_summary = True

    def __init__(
        self,
        vocab_size=None,
        pad_id=0,
        embedding_dim=32,
        hidden_size=64,
        *,
        encoder=None,
        decoder=None,
    ):
        super().__init__(encoder=encoder, decoder=decoder)
        self.vocab_size = vocab_size
        self.pad_id = pad_id
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size

    # -- data -------------------------------------------------------------------

    def _validate(self, X, label):
        self._check_params(label)
        tokens = as_integer_array(X, label, ndims=(2,))
        if tokens.shape[1] == 0:
            raise ValueError(
                f"{label} has no positions (shape {tokens.shape}); sequences need at "
                "least one column."
            )
        tokens = self._after_end_to_pad(tokens)
        self._check_ids(tokens, self.vocab_size, label)
        if self.vocab_size is None and not hasattr(self, "vocab_size_"):  # fitting
            self._check_inferred_vocabulary(tokens, label)
        return tokens

    def _model_values(self, values, label):
        values = self._to_fitted_length(values, label)
        # The model has no logit for ids >= vocab_size_ (learned in fit when
        # vocab_size is None, so new data may use ids never seen there).
        self._check_ids(values, self.vocab_size_, label)
        return values

    def _check_params(self, label):
        def is_int(value, low):
            integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            return integral and value >= low

        for name, low in (("pad_id", 0), ("embedding_dim", 1), ("hidden_size", 1)):
            if not is_int(getattr(self, name), low):
                raise invalid_parameter(
                    self, label, name, f"an integer >= {low}", getattr(self, name)
                )
        if self.vocab_size is not None and not is_int(self.vocab_size, self.pad_id + 1):
            raise invalid_parameter(
                self, label, "vocab_size", f"None or an integer greater than "
                f"pad_id={self.pad_id}", self.vocab_size,
            )

    def _after_end_to_pad(self, tokens):
        """Set every position after the first pad to ``pad_id``: it is ignored."""
        after_end = (tokens == self.pad_id).cumsum(axis=1) > 0
        return np.where(after_end, self.pad_id, tokens)

    def _to_fitted_length(self, tokens, label):
        width = tokens.shape[1]
        if width < self.max_len_:
            pad = np.full((len(tokens), self.max_len_ - width), self.pad_id, dtype=np.int64)
            return np.concatenate([tokens, pad], axis=1)
        if width > self.max_len_:
            # Extra columns are fine as long as they hold only padding.
            too_long = (tokens[:, self.max_len_ :] != self.pad_id).any(axis=1)
            check_values(
                not too_long.any(),
                label,
                f"has sequences longer than the {self.max_len_} positions seen in fit; "
                "they are",
                lambda: too_long,
            )
            return np.ascontiguousarray(tokens[:, : self.max_len_])
        return tokens

    @staticmethod
    def _check_inferred_vocabulary(tokens, label):
        # Before anything is allocated: the model has a row per id.
        too_large = tokens >= MAX_INFERRED_VOCAB
        if too_large.any():
            raise_for_rows(
                label,
                f"has token ids of {MAX_INFERRED_VOCAB} or more (the largest is "
                f"{int(tokens.max())})",
                too_large.any(axis=1),
                "Without vocab_size, the vocabulary is the largest id plus one, and "
                "the model holds an embedding and a logit per id. Give the vocabulary "
                "size explicitly (e.g. Sequence(vocab_size=...)), or map the ids to a "
                "compact range.",
            )

    def _check_ids(self, tokens, vocab_size, label):
        if vocab_size is None:
            negative = (tokens < 0).any(axis=1)
            message = "has negative token ids (ids start at 0)"
            check_values(not negative.any(), label, message, lambda: negative)
            return
        outside = ((tokens < 0) | (tokens >= vocab_size)).any(axis=1)
        check_values(
            not outside.any(),
            label,
            f"has token ids outside the vocabulary [0, {vocab_size})",
            lambda: outside,
        )

    def _statistics_from_values(self):
        if self.vocab_size is not None:
            return []
        return ["the vocabulary size, from the largest token id (vocab_size=None): pass vocab_size"]

    def _fit(self, summary):
        self.max_len_ = self.input_shape_[0]
        if self.vocab_size is None:
            self.vocab_size_ = max(int(summary.maximum), self.pad_id) + 1
        else:
            self.vocab_size_ = int(self.vocab_size)

    # -- model parts --------------------------------------------------------------

    def build_scaler(self):
        """Return the module that keeps ids as they are and turns logits into ids."""
        return TokenScaler(self.pad_id)

    def decoder_output_shape(self):
        """``(max_len, vocab_size)``: the logits of every position."""
        return (self.max_len_, self.vocab_size_)

    def sample_loss(self, output, target):
        """Each row's mean cross-entropy over its positions up to and including its end."""
        # The target may arrive as float (losses are reduced in float32).
        target = target.long()
        counted = counted_positions(target, self.pad_id).to(output.dtype)
        # Weighted by a mask rather than indexed with it: boolean indexing has
        # a data-dependent shape, which a CUDA graph cannot capture.
        per_position = F.cross_entropy(output.transpose(1, 2), target, reduction="none")
        return (per_position * counted).sum(dim=1) / counted.sum(dim=1)

    def _example_batch(self):
        return torch.full((2, self.max_len_), self.pad_id, dtype=torch.long)

    def _default_encoder(self, hidden_dims):
        tokens = SequenceEncoder(
            self.vocab_size_, self.pad_id, self.embedding_dim, self.hidden_size
        )
        body, width = mlp_encoder(2 * self.hidden_size, hidden_dims)
        return nn.Sequential(tokens, body), width

    def _default_decoder(self, encoding_dim, hidden_dims):
        head = mlp_decoder(encoding_dim, hidden_dims, self.hidden_size)
        return SequenceDecoder(
            head,
            encoding_dim,
            self.max_len_,
            self.vocab_size_,
            self.embedding_dim,
            self.hidden_size,
        )
