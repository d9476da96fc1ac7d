"""Synthetic MovieLens-format data: long-tailed users and items with a cluster
structure that recommenders can learn. Tests and scale benchmarks use it, since
the MovieLens terms forbid shipping the real files."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from ncf_movielens.movielens.fetch import RawFiles
from ncf_movielens.movielens.variants import GENRES

U_DATA_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
#: Below this share of new pairs per draw nearly every pair is taken, and the
#: rest is filled uniformly from the free pairs instead.
_MIN_YIELD = 0.05
#: Rows formatted at once when writing ``u.data``.
_CHUNK_ROWS = 1 << 20


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.permutation(weights / weights.sum())


def _draw(p: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` i.i.d. draws of ``0..len(p)-1`` with probabilities ``p``, in
    random order: multinomial counts, repeated and shuffled, which is several
    times faster than ``rng.choice(p=...)`` on large catalogues."""
    counts = rng.multinomial(count, p)
    return rng.permutation(np.repeat(np.arange(len(p)), counts))


class _ItemDraws:
    """Items by popularity, from the whole catalogue or from one taste cluster."""

    def __init__(self, item_p: np.ndarray, item_cluster: np.ndarray, n_clusters: int):
        self.p = item_p
        self.members = [np.flatnonzero(item_cluster == c) for c in range(n_clusters)]
        self.member_p = [
            item_p[members] / item_p[members].sum() if len(members) else members
            for members in self.members
        ]
        self.has_items = np.array([len(members) > 0 for members in self.members])

    def popular(self, count: int, rng: np.random.Generator) -> np.ndarray:
        return _draw(self.p, count, rng)

    def in_cluster(
        self, cluster: int, count: int, rng: np.random.Generator
    ) -> np.ndarray:
        return self.members[cluster][_draw(self.member_p[cluster], count, rng)]


def make_ratings(
    n_users: int = 60,
    n_items: int = 80,
    n_ratings: int = 1500,
    *,
    n_clusters: int = 4,
    affinity: float = 0.75,
    seed: int = 0,
) -> pd.DataFrame:
    """Ratings (user_id, item_id, rating, timestamp), 1-based ids, no repeated
    (user, item) pair, every user and item id in range at least once.

    Users and items follow Zipf-like popularity. Each user and item belongs to
    one of ``n_clusters`` taste clusters; a share ``affinity`` of each user's
    ratings go to items of the user's cluster, and those ratings are higher.
    Pairs are drawn in rounds and repeats dropped, so the most popular items
    and users saturate (no pair is rated twice). 25M ratings take about 20 s
    and 3 GB.
    """
    if n_ratings > n_users * n_items:
        raise ValueError(
            f"n_ratings {n_ratings} exceeds the {n_users} x {n_items} possible pairs"
        )
    if n_ratings < max(n_users, n_items):
        raise ValueError(
            f"n_ratings {n_ratings} is below max(n_users, n_items) = "
            f"{max(n_users, n_items)}: every user and item needs a rating"
        )
    rng = np.random.default_rng(seed)
    user_cluster = rng.integers(n_clusters, size=n_users)
    item_cluster = rng.integers(n_clusters, size=n_items)
    user_p = _zipf_weights(n_users, 0.8, rng)
    items = _ItemDraws(_zipf_weights(n_items, 1.0, rng), item_cluster, n_clusters)

    def draw_pairs(count: int) -> np.ndarray:
        # Users in id order: the items are shuffled, so the pairing is random.
        users = np.repeat(np.arange(n_users), rng.multinomial(count, user_p))
        clusters = user_cluster[users]
        chosen = np.empty(count, dtype=np.int64)
        pick = (rng.random(count) < affinity) & items.has_items[clusters]
        chosen[~pick] = items.popular(count - int(pick.sum()), rng)
        for c in np.flatnonzero(items.has_items):
            slots = np.flatnonzero(pick & (clusters == c))
            chosen[slots] = items.in_cluster(c, len(slots), rng)
        return users.astype(np.int64) * n_items + chosen

    # Sorted, distinct user * n_items + item codes; each round adds new pairs.
    codes = _sorted_unique(_covering_pairs(n_users, n_items, user_p, items, rng))
    share_new = 1.0
    while len(codes) < n_ratings:
        need = n_ratings - len(codes)
        count = min(int(need / share_new * 1.1) + 16, 8 * need + 1024)
        drawn = _sorted_unique(draw_pairs(count))
        fresh = drawn[~_contains(codes, drawn)]
        share_new = max(len(fresh) / count, 1e-3)
        if len(fresh) > need:  # any subset of i.i.d. draws is as random
            fresh = np.sort(rng.choice(fresh, need, replace=False))
        codes = np.insert(codes, np.searchsorted(codes, fresh), fresh)
        if share_new < _MIN_YIELD and n_users * n_items <= 20 * n_ratings:
            # Nearly every pair is taken: fill the rest from the free pairs.
            codes = _fill_uniformly(codes, n_users * n_items, n_ratings, rng)

    user_idx, item_idx = np.divmod(codes, n_items)
    liked = user_cluster[user_idx] == item_cluster[item_idx]
    rating = np.rint(np.where(liked, 4.2, 2.4) + rng.normal(0, 0.9, n_ratings))
    timestamp = 874_724_710 + rng.integers(0, 20_000_000, n_ratings)
    order = rng.permutation(n_ratings)  # u.data is in no particular order
    return pd.DataFrame(
        {
            "user_id": user_idx[order] + 1,
            "item_id": item_idx[order] + 1,
            "rating": np.clip(rating[order], 1, 5).astype(np.int64),
            "timestamp": timestamp[order].astype(np.int64),
        }
    )


def _covering_pairs(
    n_users: int,
    n_items: int,
    user_p: np.ndarray,
    items: _ItemDraws,
    rng: np.random.Generator,
) -> np.ndarray:
    """Codes of ``max(n_users, n_items)`` distinct pairs that hold every user and
    every item: each id of the larger side once, paired with every id of the
    smaller side once and then with popular ones."""
    if n_users >= n_items:
        users = np.arange(n_users)
        extra = items.popular(n_users - n_items, rng)
        item_ids = rng.permutation(np.concatenate([np.arange(n_items), extra]))
    else:
        item_ids = np.arange(n_items)
        extra = _draw(user_p, n_items - n_users, rng)
        users = rng.permutation(np.concatenate([np.arange(n_users), extra]))
    return users.astype(np.int64) * n_items + item_ids


def _sorted_unique(codes: np.ndarray) -> np.ndarray:
    # np.unique hashes first in NumPy 2.3+, many times slower on large int64.
    codes = np.sort(codes)
    return codes[np.concatenate(([True], codes[1:] != codes[:-1]))]


def _contains(sorted_codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is in the sorted array ``sorted_codes``."""
    if not len(sorted_codes):
        return np.zeros(len(values), dtype=bool)
    position = np.searchsorted(sorted_codes, values)
    return sorted_codes[np.minimum(position, len(sorted_codes) - 1)] == values


def _fill_uniformly(
    codes: np.ndarray, n_cells: int, n_ratings: int, rng: np.random.Generator
) -> np.ndarray:
    free = np.setdiff1d(np.arange(n_cells), codes, assume_unique=True)
    picked = rng.choice(free, n_ratings - len(codes), replace=False)
    return np.sort(np.concatenate([codes, picked]))


def make_movies(n_items: int, seed: int = 0) -> pd.DataFrame:
    """Movies (item_id, title, genre flags) in the ``u.item`` column order; each
    has at least one genre."""
    rng = np.random.default_rng(seed)
    genres = rng.random((n_items, len(GENRES))) < 0.15
    genres[np.arange(n_items), rng.integers(len(GENRES), size=n_items)] = True
    frame = pd.DataFrame(genres.astype(int), columns=list(GENRES))
    frame.insert(0, "url", "")
    frame.insert(0, "video_release_date", "")
    frame.insert(0, "release_date", "01-Jan-1995")
    frame.insert(0, "title", [f"Movie {i} (1995)" for i in range(1, n_items + 1)])
    frame.insert(0, "item_id", np.arange(1, n_items + 1))
    return frame


def _u_data_chunks(ratings: pd.DataFrame) -> Iterator[bytes]:
    """``u.data`` lines (tab-separated, ``\\n``-terminated) a chunk at a time;
    Arrow's CSV writer formats integers a few times faster than pandas."""
    options = pa_csv.WriteOptions(include_header=False, delimiter="\t")
    for start in range(0, len(ratings), _CHUNK_ROWS):
        chunk = ratings.iloc[start : start + _CHUNK_ROWS][U_DATA_COLUMNS]
        sink = io.BytesIO()
        pa_csv.write_csv(
            pa.Table.from_pandas(chunk, preserve_index=False), sink, options
        )
        yield sink.getvalue()


def write_u_data(ratings: pd.DataFrame, path: str | Path) -> str:
    """Write ``ratings`` as a GroupLens ``u.data`` file, a chunk at a time (no
    file-sized string in memory), and return the file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as file:
        for chunk in _u_data_chunks(ratings):
            digest.update(chunk)
            file.write(chunk)
    return digest.hexdigest()


def _u_item(movies: pd.DataFrame) -> bytes:
    text = movies.to_csv(sep="|", header=False, index=False, lineterminator="\n")
    return text.encode("latin-1")


def write_raw_files(
    ratings: pd.DataFrame, movies: pd.DataFrame, directory: str | Path
) -> str:
    """``u.data`` and ``u.item`` in ``directory`` (a MovieLens raw cache); returns
    the SHA-256 of ``u.data``, which the cache source checks."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "u.item").write_bytes(_u_item(movies))
    return write_u_data(ratings, directory / "u.data")


def to_raw_files(ratings: pd.DataFrame, movies: pd.DataFrame) -> RawFiles:
    """The two tables as GroupLens ``u.data`` / ``u.item`` bytes."""
    return {"u.data": b"".join(_u_data_chunks(ratings)), "u.item": _u_item(movies)}


def make_raw_files(
    n_users: int = 60, n_items: int = 80, n_ratings: int = 1500, seed: int = 0
) -> RawFiles:
    """A small synthetic MovieLens in GroupLens file format."""
    return to_raw_files(
        make_ratings(n_users, n_items, n_ratings, seed=seed), make_movies(n_items, seed)
    )
