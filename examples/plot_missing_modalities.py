"""
Samples that lack a modality
============================

Palmer penguins: body measurements, blood isotopes, the site and the sex
of 344 birds, some of whom lack isotopes or sex. A row entirely NaN (or
None) marks a missing modality; it is left out of the bird's code and
loss, and :meth:`~skmmae.MultimodalAutoencoder.predict_modality` predicts
one modality from the others.
"""

import matplotlib.pyplot as plt
import numpy as np

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_penguins

X, species = load_penguins(return_X_y=True)
lacking = {name: int(np.isnan(np.asarray(X[name], dtype=float)).all(axis=1).sum())
           for name in ("body", "isotopes")}
print("birds lacking a modality:", lacking)
ae = MultimodalAutoencoder(encoding_dim=2, max_epochs=40, random_state=0).fit(X)

# %%
# Codes from all modalities, and from the body measurements alone: the
# species stay apart either way.
has_body = ~np.isnan(np.asarray(X["body"], dtype=float)).all(axis=1)
from_all = ae.transform(X)
from_body = ae.transform({"body": X["body"][has_body]})
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharex=True, sharey=True)
for ax, codes, labels, title in (
    (axes[0], from_all, species, "from every modality a bird has"),
    (axes[1], from_body, species[has_body], "from body measurements alone"),
):
    for name in np.unique(labels):
        ax.scatter(*codes[labels == name].T, s=8, label=name)
    ax.set_title(title)
axes[0].legend()
plt.show()

# %%
# The isotopes of every bird, predicted from its other modalities:
predicted = ae.predict_modality(X, "isotopes")
print("predicted isotopes of the first birds:\n", np.round(predicted[:3], 2))
