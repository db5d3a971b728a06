"""
Uncertain codes and new samples
===============================

With ``variational=True`` each code is a Gaussian. The product of experts
fusion (``fusion="poe"``) is less certain of a sample that brings less
evidence: the posterior standard deviation grows when modalities are
missing. ``sample`` draws new samples of every modality from the prior.
"""

import matplotlib.pyplot as plt
import numpy as np

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat
from skmmae.options import Variational

X, y = load_mfeat(return_X_y=True)
vae = MultimodalAutoencoder(
    encoding_dim=8, fusion="poe", variational=Variational(beta=0.1), max_epochs=10,
    random_state=0,
).fit(X)

views = list(X)
stds = [vae.transform({name: X[name] for name in views[:k]}, return_std=True)[1].mean()
        for k in range(1, len(views) + 1)]
for k, std in enumerate(stds, start=1):
    print(f"{k} view(s): mean posterior standard deviation {std:.3f}")

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
left.plot(range(1, len(views) + 1), stds, marker="o")
left.set_xlabel("views given")
left.set_ylabel("posterior std (mean)")
drawn = vae.sample(8, random_state=0)["pix"]  # the 240-pixel view, 16 x 15
right.imshow(np.hstack([p.reshape(16, 15) for p in drawn]), cmap="gray_r")
right.set_title("new samples of the pixel view")
right.set_axis_off()
plt.show()
