"""Recommendations for someone who is not in the data, without retraining.

The default model is item-based (kind="auto" picks item rows on MovieLens-1M): it solves
a new person's output weights on the item codes from their five ratings (a small ridge
regression); a user-based model (kind="user") would encode their row of ratings instead.
Either way the ratings are "folded in" at prediction time, without retraining. Reads
$AUTOREC_DATA_HOME; $AUTOREC_EXAMPLE_EPOCHS caps the training epochs (CI uses 2).
"""

import os
import time

from autorec import AutoEncoderRecommender
from autorec.datasets import load_movielens_1m

data = load_movielens_1m()
model = AutoEncoderRecommender(random_state=0, verbose=1)  # the default: item-based
if "AUTOREC_EXAMPLE_EPOCHS" in os.environ:
    model.set_params(epochs=int(os.environ["AUTOREC_EXAMPLE_EPOCHS"]))
model.fit(data.ratings)  # trained once, on everyone else

# A new person rates five well-known movies (MovieLens-1M movie id -> stars).
my_ratings = {
    1: 5,  # Toy Story (1995)
    260: 5,  # Star Wars: Episode IV - A New Hope (1977)
    1270: 4,  # Back to the Future (1985)
    2571: 5,  # Matrix, The (1999)
    527: 2,  # Schindler's List (1993)
}
titles = data.movies.set_index("item_id")["title"]
print("The new user rated:")
for item, stars in my_ratings.items():
    print(f"  {stars} stars  {titles[item]}")

started = time.perf_counter()
recs = model.recommend(None, k=10, user_ratings=my_ratings, movies=data.movies)
elapsed = 1000 * (time.perf_counter() - started)
print(f"\nTen recommendations for the new user ({elapsed:.0f} ms, no retraining):")
for rank, movie in recs.iterrows():
    print(f"{rank:>4}  {movie.item_id:>5}  {movie.title}  ({movie.genres})")
assert not set(recs.item_id) & set(my_ratings), "rated movies are excluded"
