"""Small torch building blocks shared by modalities and fusions."""

from torch import nn

__all__ = ["mlp", "mlp_decoder", "mlp_encoder"]


def mlp(sizes, final_activation=False):
    """A stack of ``Linear`` layers with ReLU between them.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first: ``(4, 8, 2)`` builds ``Linear(4, 8)``,
        ReLU, ``Linear(8, 2)``. A single size gives an identity.
    final_activation : bool, default=False
        Whether the last ``Linear`` is followed by a ReLU too.

    Returns
    -------
    torch.nn.Sequential
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if final_activation or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def mlp_encoder(n_in, hidden_dims):
    """An MLP ``n_in -> hidden_dims`` (ReLU after every layer) and its output width.

    With no hidden layers the encoder is the identity and the width ``n_in``.
    """
    sizes = (n_in, *hidden_dims)
    return mlp(sizes, final_activation=True), sizes[-1]


def mlp_decoder(encoding_dim, hidden_dims, n_out):
    """The mirrored MLP ``encoding_dim -> reversed(hidden_dims) -> n_out``, linear output."""
    return mlp((encoding_dim, *reversed(tuple(hidden_dims)), n_out))
