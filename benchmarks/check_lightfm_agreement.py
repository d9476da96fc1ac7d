"""The project's LightFM precision@5 (standard protocol) against
``lightfm.evaluation.precision_at_k`` on the latest saved model and matrices.

    python benchmarks/check_lightfm_agreement.py      # after `kedro run`
"""

from __future__ import annotations

from _common import latest_run
from lightfm.evaluation import precision_at_k

VARIANT = "ml-100k"


def main() -> None:
    train, test, recommender, metrics = latest_run(VARIANT, "lightfm")
    ours = metrics["protocols"]["standard"]["precision@5"]
    theirs = float(
        precision_at_k(recommender.model, test, train_interactions=train, k=5).mean()
    )
    print(f"project (metrics JSON):      {ours:.8f}")
    print(f"lightfm.evaluation:          {theirs:.8f}")
    print(f"absolute difference:         {abs(ours - theirs):.1e}")


if __name__ == "__main__":
    main()
