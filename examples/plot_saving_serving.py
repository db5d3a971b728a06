"""
Saving, loading and serving with ONNX
=====================================

``save`` writes a fitted model without pickle (weights in safetensors, the
rest in JSON); :func:`skmmae.load` reads it back. ``export_onnx`` writes
the encoder as an ONNX graph that onnxruntime runs without torch.
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime

from skmmae import MultimodalAutoencoder, load
from skmmae.datasets import load_mfeat

X, y = load_mfeat(return_X_y=True)
ae = MultimodalAutoencoder(encoding_dim=4, max_epochs=5, random_state=0).fit(X)
folder = tempfile.mkdtemp()

path = os.path.join(folder, "mfeat.safetensors")
ae.save(path)
loaded = load(path)
print("same codes after loading:", np.array_equal(loaded.transform(X), ae.transform(X)))

encoder = ae.export_onnx(os.path.join(folder, "encoder.onnx"))
feeds = {name: np.asarray(block, dtype=np.float32) for name, block in X.items()}
served = onnxruntime.InferenceSession(encoder).run(None, feeds)[0]
print(f"largest difference, onnxruntime against transform: "
      f"{np.abs(served - ae.transform(X)).max():.1e}")

# %%
plt.scatter(ae.transform(X)[:, 0], served[:, 0], s=4)
plt.xlabel("code 0, transform")
plt.ylabel("code 0, onnxruntime")
plt.show()
