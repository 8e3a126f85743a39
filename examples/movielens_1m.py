"""The MovieLens-1M study through the public API: split, train, score, recommend.

Reads the data from $AUTOREC_DATA_HOME (else the user cache folder; downloaded from
GroupLens when missing). $AUTOREC_EXAMPLE_EPOCHS caps the training epochs (CI uses 2).
"""

import os

from autorec import AutoEncoderRecommender
from autorec.datasets import load_movielens_1m, train_test_split
from autorec.metrics import rmse, top_k_accuracy

data = load_movielens_1m()
train, test = train_test_split(data.ratings, test_size=0.25, by="user", random_state=0)
print(f"{len(train):,} training and {len(test):,} test ratings")

model = AutoEncoderRecommender(random_state=0, verbose=1)
if "AUTOREC_EXAMPLE_EPOCHS" in os.environ:
    model.set_params(epochs=int(os.environ["AUTOREC_EXAMPLE_EPOCHS"]))
model.fit(train)  # the test ratings are never seen
print(f"epochs run: {len(model.history_['val_rmse'])}, fit time {model.fit_seconds_:.0f} s")

# Movies rated only in the test set are unknown to the model: predict warns and falls back.
rmse_train = rmse(train.rating, model.predict(train))
rmse_test = rmse(test.rating, model.predict(test))
print(f"RMSE train {rmse_train:.4f}, test {rmse_test:.4f}")
scores = model.predict(test, clip=False)  # rank by raw scores: clipping ties the top
for k in (5, 10):
    accuracy = top_k_accuracy(test.user_id, test.rating, scores, k=k)
    print(f"top-{k} accuracy {accuracy:.2f} %")

# Five movies each user has not rated in training, best first, with titles and genres.
recs = model.recommend([8, 9, 13, 15, 18, 20], k=5, movies=data.movies)
for user, top in recs.groupby("user_id", sort=False):
    print(f"\nuser {user}: rank, movie id, title, genres")
    for rank, movie in top.iterrows():
        print(f"{rank:>4}  {movie.item_id:>5}  {movie.title}  ({movie.genres})")
