# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # NCF vs LightFM on MovieLens 100K
#
# The study of *NCF from scratch in TensorFlow* (dataroots), rebuilt as a Kedro
# pipeline: a Neural Collaborative Filtering model and LightFM, trained on the
# implicit feedback of MovieLens 100K (in the original notebook, a rating of 3 or more
# counts as an interaction), next to two baselines.
#
# This notebook trains nothing. It reads what `kedro run` saved in the data
# catalog, so run the pipeline first; every number below is the latest run's.

# %% [markdown]
# ## Setup
#
# The notebook works on the project it sits in, or on the one that the
# `NCF_MOVIELENS_PROJECT` environment variable names (the tests point it at a
# throw-away copy).

# %%
import os
from pathlib import Path

from kedro.utils import find_kedro_project

PROJECT_PATH = os.environ.get("NCF_MOVIELENS_PROJECT") or find_kedro_project(Path.cwd())
if PROJECT_PATH is None:
    raise RuntimeError(
        "No Kedro project here: start Jupyter inside the project or set "
        "NCF_MOVIELENS_PROJECT to its root"
    )
# The Kedro extension looks for the project from the working directory; starting
# there loads the catalog once, from the right project, as `kedro jupyter` does.
os.chdir(Path(PROJECT_PATH).resolve())
print("Project:", Path.cwd())

# %%
# Defines `catalog`, `context`, `session` and `pipelines`; linters cannot see them.
# %load_ext kedro.ipython

# %%
# Imported after the extension: loading a project drops its cached modules.
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from ncf_movielens.metrics import top_k_indices
from ncf_movielens.pipelines.reporting.nodes import plot_comparison
from ncf_movielens.runs import read_record
from ncf_movielens.study import MODELS

# %% [markdown]
# ## The data
#
# `split_options` say which ratings each user holds out for test (by default
# `ua`: the first ten in file order, the split `lightfm.datasets.fetch_movielens`
# reads). Both matrices are users x movies, 1 where the rating is at least
# `binarize_options.min_rating`.

# %%
# Parameters load as the typed groups the nodes take (`ncf_movielens.parameters`).
print(catalog.load("params:split_options"), catalog.load("params:binarize_options"))
train_matrix = catalog.load("train_matrix")
test_matrix = catalog.load("test_matrix")
pd.DataFrame(
    {
        "users": [m.shape[0] for m in (train_matrix, test_matrix)],
        "movies": [m.shape[1] for m in (train_matrix, test_matrix)],
        "interactions": [m.nnz for m in (train_matrix, test_matrix)],
        "density": [m.nnz / np.prod(m.shape) for m in (train_matrix, test_matrix)],
    },
    index=["train", "test"],
)

# %% [markdown]
# ## The models
#
# - **NCF (NeuMF)**, He et al. 2017: a GMF tower (the element-wise product of
#   a user and an item embedding, i.e. matrix factorisation) and an MLP tower
#   (dense layers over the concatenated embeddings), joined by one sigmoid
#   unit. It is trained *pointwise*, with binary cross-entropy: by default on
#   each interaction plus 4 unobserved movies per interaction, drawn anew every
#   epoch; with `kedro run --env=notebook`, as in the original notebook, on every user x movie
#   pair labelled 0 or 1.
# - **LightFM (WARP)**: matrix factorisation with biases, trained with the
#   Weighted Approximate-Rank Pairwise loss, which samples unseen movies until
#   one outranks a seen one and pushes it down. It optimises the top of the
#   ranking directly, which is what precision@k measures.
# - **Most popular**: everyone gets the movies with the most train
#   interactions. Not personal at all, so it is the floor a model must clear.
# - **EASE**, Steck 2019: a closed-form item-item linear model (one ridge
#   regression per movie, no training loop), a strong baseline on data this
#   size.

# %% [markdown]
# ## Two evaluation protocols
#
# Each model is scored for every user and every movie, then ranked twice
# (`ncf_movielens.metrics` computes both):
#
# - **notebook** reproduces the original notebook: Keras `Precision(top_k=k)` and
#   `Recall(top_k=k)` over the whole score matrix. Movies a user already rated
#   stay in the ranking, where they can never be hits (a movie in a user's
#   train data is never in their test data); hits are counted globally,
#   P = hits / (k x users), R = hits / test interactions.
# - **standard** is what RecBole and Microsoft Recommenders report: the user's
#   train movies are removed first, and each metric is computed per user and
#   averaged over the users with test movies. It adds NDCG, MAP, hit rate, MRR,
#   AUC, catalogue coverage and the share of recommendations among the 10 %
#   most popular movies.
#
# Every model that fits its train data scores seen movies high, but some more
# than others: the notebook protocol charges that against them, the standard one
# does not, so the two can order the models differently.

# %%
comparison = catalog.load("model_comparison")
table = catalog.load("model_comparison_table").set_index("model")
table

# %%
# One table per protocol, with the description the pipeline stored beside it.
for protocol, description in comparison["protocols"].items():
    display(Markdown(f"**Protocol `{protocol}`**: {description}"))
    display(table.filter(regex=f"^{protocol}/").round(4))

# %%
# Rank of each model (1 = best) by precision at the notebook's cut-off, per protocol.
top_k = catalog.load("params:evaluation_options").top_k
table.filter(regex=f"/precision@{top_k}$").rank(ascending=False, method="min").astype(
    int
)

# %% [markdown]
# ## Precision and recall at k, and NCF's training
#
# The standard protocol also keeps precision@k and recall@k for every k up to
# `curve_k`: a single cut-off can hide models that cross. NCF trains for up to
# `ncf.training_options.epochs` epochs and stops early once the validation loss
# has not improved for `early_stopping_patience` epochs; a validation loss that
# turns up while the training loss keeps falling is where it starts to memorise.

# %%
# The figure the pipeline saves as model_comparison_plot, drawn by the same node;
# the inline backend shows matplotlib figures as images.
# %matplotlib inline
metrics = {model.name: catalog.load(f"{model.name}_metrics") for model in MODELS}
training = catalog.load("ncf_training_history")
# Titled with the run that saved the metrics, as the pipeline titles it: its save
# version, and the environment its run record (data/runs/) names.
version = catalog.get("ncf_metrics").resolve_load_version()
record = read_record(Path.cwd(), version) or {}
run_info = {"save_version": version, "env": record.get("env") or "local"}
display(plot_comparison(run_info, training, *metrics.values()))
print(f"{training['epochs_run']} epochs, stopped early: {training['stopped_early']}")

# %% [markdown]
# ## What each model recommends
#
# The pipeline stores every user's top unseen movies per model. Three users
# side by side: the one `recommend.user_id` names (what
# `kedro run --pipelines=recommend` prints) and two drawn at random.

# %%
recommend = catalog.load("params:recommend")
recommendations = {
    model.name: catalog.load(f"{model.name}_recommendations") for model in MODELS
}

all_users = recommendations["ncf"]["user_id"].drop_duplicates()
others = all_users[all_users != recommend.user_id].sample(2, random_state=0)
users = [recommend.user_id, *others]

every = pd.concat(recommendations.values())
shown = every[every["user_id"].isin(users) & (every["rank"] <= recommend.top_k)]
# In the study's model order; the labels are the stored ones, which name a model's
# settings when an environment set them ("NCF (NeuMF), notebook settings").
labels = list(every["model"].unique())
shown.pivot(index=["user_id", "rank"], columns="model", values="title")[labels]

# %% [markdown]
# ## Scoring a user live
#
# The saved NCF model reloads as the project's Keras model (`NeuMF`, in
# `ncf_movielens.models.neumf`). Scoring one user with its `score_users`, the
# method the pipeline scores every model with, must give back the stored list.

# %%
ncf_model = catalog.load("ncf.model")
titles = catalog.load("movies").set_index("item_id")["title"]
user = recommend.user_id

scores = ncf_model.score_users(np.array([user - 1]), train_matrix.shape[1])
scores[0, train_matrix[user - 1].indices] = -np.inf  # seen movies are never shown
live = top_k_indices(scores, recommend.top_k)[0] + 1  # back to 1-based ids

# %%
stored = (
    recommendations["ncf"].query("user_id == @user").nsmallest(recommend.top_k, "rank")
)
pd.DataFrame(
    {
        "stored": stored["title"].to_numpy(),
        "live": titles.loc[live].to_numpy(),
        "stored score": stored["score"].to_numpy(),
        "live score": scores[0, live - 1],
    },
    index=pd.RangeIndex(1, len(live) + 1, name="rank"),
)

# %%
# Scores, not just titles: near-ties could swap two titles without anything
# being wrong, but the reloaded model must score the stored movies the same.
assert np.allclose(scores[0, stored["item_id"] - 1], stored["score"], atol=1e-5), (
    "ncf.model and ncf_recommendations come from different runs: "
    "rerun `kedro run --pipelines=recommendations`"
)
print("The reloaded model reproduces the stored recommendations.")
