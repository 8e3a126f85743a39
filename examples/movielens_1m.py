"""The MovieLens-1M study through the public API: split, train, score, recommend.

Reads the data from $AUTOREC_DATA_HOME (else the user cache folder; downloaded from
GroupLens when missing). $AUTOREC_EXAMPLE_EPOCHS caps the training epochs (CI uses 2).
"""

import os

from autorec import AutoEncoderRecommender
from autorec.datasets import load_movielens_1m
from autorec.evaluation import rating_scores, split

data = load_movielens_1m()
train, test = split(data.ratings, "standard", random_state=0)  # 25% of each user's in test
print(f"{len(train):,} training and {len(test):,} test ratings")

model = AutoEncoderRecommender(random_state=0, verbose=1)
if "AUTOREC_EXAMPLE_EPOCHS" in os.environ:
    model.set_params(epochs=int(os.environ["AUTOREC_EXAMPLE_EPOCHS"]))
model.fit(train)  # the test ratings are never seen
print(f"epochs run: {len(model.history_['val_rmse'])}, fit time {model.fit_seconds_:.0f} s")

# RMSE on the rated pairs and the study's top-k accuracy (each user's test movies ranked
# by raw predicted rating). Movies rated only in the test set are unknown to the model:
# predict warns once and falls back to the user's mean rating.
scores = rating_scores(model, train, test)
print(f"RMSE train {scores['rmse_train']:.4f}, test {scores['rmse_test']:.4f}")
for k, accuracy in scores["top_k_accuracy"].items():
    print(f"top-{k} accuracy {accuracy:.2f} %")

# Five movies each user has not rated in training, best first, with titles and genres.
recs = model.recommend([8, 9, 13, 15, 18, 20], k=5, movies=data.movies)
for user, top in recs.groupby("user_id", sort=False):
    print(f"\nuser {user}: rank, movie id, title, genres")
    for rank, movie in top.iterrows():
        print(f"{rank:>4}  {movie.item_id:>5}  {movie.title}  ({movie.genres})")
