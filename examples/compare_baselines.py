"""The autoencoder beside the global-mean and user+item bias baselines, same split.

Reads $AUTOREC_DATA_HOME; $AUTOREC_EXAMPLE_EPOCHS caps the training epochs (CI uses 2).
"""

import os
import time

import pandas as pd

from autorec import AutoEncoderRecommender
from autorec.baselines import BiasBaseline, GlobalMean
from autorec.datasets import load_movielens_1m
from autorec.evaluation import rating_scores, split

data = load_movielens_1m()
train, test = split(data.ratings, "standard", random_state=0)  # per-user 75/25

autoencoder = AutoEncoderRecommender(random_state=0, verbose=1)
if "AUTOREC_EXAMPLE_EPOCHS" in os.environ:
    autoencoder.set_params(epochs=int(os.environ["AUTOREC_EXAMPLE_EPOCHS"]))
models = {
    "GlobalMean": GlobalMean(),
    "BiasBaseline": BiasBaseline(),
    "AutoEncoderRecommender": autoencoder,
}

rows = []
for name, model in models.items():
    started = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - started
    scores = rating_scores(model, train, test)  # RMSE, and top-k ranked by raw outputs
    rows.append(
        {
            "model": name,
            "RMSE train": scores["rmse_train"],
            "RMSE test": scores["rmse_test"],
            "top-5 acc. %": scores["top_k_accuracy"][5],
            "top-10 acc. %": scores["top_k_accuracy"][10],
            "fit s": seconds,
        }
    )

print(f"MovieLens-1M, per-user 75/25 split: {len(train):,} train / {len(test):,} test ratings")
print(pd.DataFrame(rows).set_index("model").round(4).to_string())
