"""skmmae: multimodal autoencoders for scikit-learn, trained through skorch."""

from .autoencoder import MultimodalAutoencoder
from .persistence import load

__version__ = "0.1.0"

__all__ = ["MultimodalAutoencoder", "__version__", "load"]
