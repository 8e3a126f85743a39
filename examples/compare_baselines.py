"""The autoencoder beside the global-mean and user+item bias baselines, same split.

Reads $AUTOREC_DATA_HOME; $AUTOREC_EXAMPLE_EPOCHS caps the training epochs (CI uses 2).
"""

import os
import time

import pandas as pd

from autorec import AutoEncoderRecommender
from autorec.baselines import BiasBaseline, GlobalMean
from autorec.datasets import load_movielens_1m, train_test_split
from autorec.metrics import rmse, top_k_accuracy

data = load_movielens_1m()
train, test = train_test_split(data.ratings, test_size=0.25, by="user", random_state=0)

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
    if isinstance(model, AutoEncoderRecommender):
        scores = model.predict(test, clip=False)  # rank by raw outputs
    else:
        scores = model.predict(test)
    rows.append(
        {
            "model": name,
            "RMSE train": rmse(train.rating, model.predict(train)),
            "RMSE test": rmse(test.rating, model.predict(test)),
            "top-5 acc. %": top_k_accuracy(test.user_id, test.rating, scores, k=5),
            "top-10 acc. %": top_k_accuracy(test.user_id, test.rating, scores, k=10),
            "fit s": seconds,
        }
    )

print(f"MovieLens-1M, per-user 75/25 split: {len(train):,} train / {len(test):,} test ratings")
print(pd.DataFrame(rows).set_index("model").round(4).to_string())
