"""
A multimodal code before a classifier, with a grid search
=========================================================

Six views of 2,000 handwritten digits (UCI Multiple Features): the
autoencoder learns one code from all of them, a logistic regression
classifies the codes, and :class:`~sklearn.model_selection.GridSearchCV`
picks the code size by cross-validation.
"""

import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skmmae import MultimodalAutoencoder
from skmmae.datasets import load_mfeat
from skmmae.plotting import plot_codes

X, y = load_mfeat(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipe = make_pipeline(
    MultimodalAutoencoder(max_epochs=10, random_state=0), LogisticRegression(max_iter=2000)
)
search = GridSearchCV(pipe, {"multimodalautoencoder__encoding_dim": [4, 16]}, cv=2)
search.fit(X_train, y_train)
print("best code size:", search.best_params_["multimodalautoencoder__encoding_dim"])
print(f"test accuracy: {search.score(X_test, y_test):.3f}")

# %%
# The codes of the test digits, coloured by digit (their first two
# principal components):
plot_codes(search.best_estimator_[0], X_test, labels=y_test, s=8)
plt.show()
