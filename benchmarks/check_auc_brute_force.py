"""The project's AUC (standard protocol) of the latest saved most-popular model,
whose integer counts tie often, against a brute-force count of every (test
item, other unseen item) pair, a tie counting as a wrong pair.

    python benchmarks/check_auc_brute_force.py      # after `kedro run`
"""

from __future__ import annotations

import numpy as np
from _common import latest_run

VARIANT = "ml-100k"


def brute_force_auc(scores: np.ndarray, train, test) -> float:
    """Mean over users with test items of the share of pairs ranked strictly right."""
    per_user = []
    for user in range(test.shape[0]):
        relevant = test[user].indices
        if not len(relevant):
            continue
        other = np.ones(test.shape[1], dtype=bool)
        other[train[user].indices] = False
        other[relevant] = False
        wins = scores[user, relevant][:, None] > scores[user, other][None, :]
        per_user.append(wins.mean())
    return float(np.mean(per_user))


def main() -> None:
    train, test, model, metrics = latest_run(VARIANT, "most_popular")
    ours = metrics["protocols"]["standard"]
    scores = model.score_users(np.arange(train.shape[0]), train.shape[1])
    theirs = brute_force_auc(scores, train, test)
    print(f"project (metrics JSON):  {ours['auc']:.12f}")
    print(f"brute-force pair count:  {theirs:.12f}")
    print(f"absolute difference:     {abs(ours['auc'] - theirs):.1e}")


if __name__ == "__main__":
    main()
