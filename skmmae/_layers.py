"""Small torch building blocks shared by modalities and fusions."""

import torch
from torch import nn

__all__ = ["Dropout", "LayerSpec", "dropout", "mlp", "mlp_decoder", "mlp_encoder"]

# Each element's random number is a 16-bit piece of a 64-bit draw.
_LEVELS = 2**16


def dropout(x, p):
    """Zero each element of ``x`` with probability ``p``, scale the rest by ``1 / (1 - p)``.

    What ``torch.nn.functional.dropout(x, p, training=True)`` does, with a
    cheaper mask on the CPU: torch draws one Bernoulli variate per element
    there, which took about a quarter of a default CPU fit; this draws 64
    random bits per 4 elements and compares each 16-bit piece with a
    threshold (``p`` rounded to a multiple of 1/65536), about twice as fast.
    On other devices torch's fused kernel is the faster one, and is used.

    Parameters
    ----------
    x : Tensor
        The values.
    p : float
        The probability of an element being zeroed, in [0, 1).

    Returns
    -------
    Tensor
        Like ``x``.

    Examples
    --------
    >>> import torch
    >>> from skmmae._layers import dropout
    >>> _ = torch.manual_seed(0)
    >>> y = dropout(torch.ones(100_000), 0.25)
    >>> round((y == 0).float().mean().item(), 2), round(y.max().item(), 4)
    (0.25, 1.3333)
    """
    if x.device.type != "cpu" or not p:
        return nn.functional.dropout(x, p, training=True)
    words = torch.randint(-(2**63), 2**63 - 1, ((x.numel() + 3) // 4,), dtype=torch.int64)
    pieces = words.view(torch.int16)[: x.numel()].view(x.shape)
    # int16 pieces are uniform on [-32768, 32767]: below this, probability p.
    threshold = round(p * _LEVELS) - _LEVELS // 2
    return torch.where(pieces >= threshold, x * (1.0 / (1.0 - p)), 0.0)


class Dropout(nn.Dropout):
    """``torch.nn.Dropout`` with :func:`dropout`'s cheaper mask on the CPU.

    Parameters
    ----------
    p : float, default=0.5
        The probability of an element being zeroed in training.

    Examples
    --------
    >>> import torch
    >>> from skmmae._layers import Dropout
    >>> layer = Dropout(0.1).eval()
    >>> torch.equal(layer(torch.ones(3)), torch.ones(3))
    True
    """

    def forward(self, x):
        if not self.training or not self.p:
            return x
        return dropout(x, self.p)


class LayerSpec(tuple):
    """Hidden layer widths that also carry the options of those layers.

    A tuple of ints (so every kind can read it as plain widths), plus the
    normalization and dropout that :func:`mlp_encoder` and
    :func:`mlp_decoder` put after each hidden layer.

    Parameters
    ----------
    widths : sequence of int
        The hidden widths.
    layer_norm : bool, default=False
        ``LayerNorm`` after each hidden ``Linear`` (before its ReLU).
    dropout : float, default=0.0
        ``Dropout`` with this probability after each hidden ReLU.

    Examples
    --------
    >>> from skmmae._layers import LayerSpec, mlp_encoder
    >>> hidden = LayerSpec((8, 4), layer_norm=True, dropout=0.1)
    >>> tuple(hidden), hidden[-1]
    ((8, 4), 4)
    >>> encoder, width = mlp_encoder(6, hidden)
    >>> [type(layer).__name__ for layer in encoder][:4], width
    (['Linear', 'LayerNorm', 'ReLU', 'Dropout'], 4)
    """

    def __new__(cls, widths, layer_norm=False, dropout=0.0):
        hidden = super().__new__(cls, tuple(int(w) for w in widths))
        hidden.layer_norm = bool(layer_norm)
        hidden.dropout = float(dropout)
        return hidden

    def __getnewargs__(self):
        return (tuple(self), self.layer_norm, self.dropout)

    def __repr__(self):
        return (
            f"LayerSpec({tuple(self)!r}, layer_norm={self.layer_norm}, "
            f"dropout={self.dropout})"
        )


def mlp(sizes, final_activation=False, layer_norm=False, dropout=0.0):
    """A stack of ``Linear`` layers with ReLU between them.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first: ``(4, 8, 2)`` builds ``Linear(4, 8)``,
        ReLU, ``Linear(8, 2)``. A single size gives an identity.
    final_activation : bool, default=False
        Whether the last ``Linear`` is followed by a ReLU too.
    layer_norm : bool, default=False
        ``LayerNorm`` after each ``Linear`` that a ReLU follows, before it.
    dropout : float, default=0.0
        ``Dropout`` after each ReLU.

    Returns
    -------
    torch.nn.Sequential
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if final_activation or i < len(sizes) - 2:
            if layer_norm:
                layers.append(nn.LayerNorm(n_out))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(Dropout(dropout))
    return nn.Sequential(*layers)


def _options(hidden_dims):
    return {
        "layer_norm": getattr(hidden_dims, "layer_norm", False),
        "dropout": getattr(hidden_dims, "dropout", 0.0),
    }


def mlp_encoder(n_in, hidden_dims):
    """An MLP ``n_in -> hidden_dims`` (ReLU after every layer) and its output width.

    With no hidden layers the encoder is the identity and the width ``n_in``.
    A :class:`LayerSpec` also sets normalization and dropout.
    """
    sizes = (n_in, *hidden_dims)
    return mlp(sizes, final_activation=True, **_options(hidden_dims)), sizes[-1]


def mlp_decoder(encoding_dim, hidden_dims, n_out):
    """The mirrored MLP ``encoding_dim -> reversed(hidden_dims) -> n_out``, linear output.

    A :class:`LayerSpec` also sets the hidden layers' normalization and dropout.
    """
    sizes = (encoding_dim, *reversed(tuple(hidden_dims)), n_out)
    return mlp(sizes, **_options(hidden_dims))
