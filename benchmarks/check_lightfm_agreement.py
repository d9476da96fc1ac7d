"""The project's LightFM precision@5 (standard protocol) against
``lightfm.evaluation.precision_at_k`` on the latest saved model and matrices.

    python benchmarks/check_lightfm_agreement.py      # after `kedro run`
"""

from __future__ import annotations

import json
import pickle

from _common import PROJECT, version_file
from lightfm.evaluation import precision_at_k
from scipy import sparse

VARIANT = "ml-100k"


def main() -> None:
    data = PROJECT / "data"
    primary = data / "03_primary" / VARIANT
    train = sparse.load_npz(version_file(primary / "train_matrix.npz")).tocsr()
    test = sparse.load_npz(version_file(primary / "test_matrix.npz")).tocsr()
    model_path = version_file(data / "06_models" / VARIANT / "lightfm_model.pkl")
    with model_path.open("rb") as handle:
        recommender = pickle.load(handle)  # a LightFMRecommender, the project's own
    metrics = json.loads(
        version_file(
            data / "08_reporting" / VARIANT / "lightfm_metrics.json"
        ).read_text()
    )
    ours = metrics["protocols"]["standard"]["precision@5"]
    theirs = float(
        precision_at_k(recommender.model, test, train_interactions=train, k=5).mean()
    )
    print(f"model: {model_path.relative_to(PROJECT)}")
    print(f"project (metrics JSON):      {ours:.8f}")
    print(f"lightfm.evaluation:          {theirs:.8f}")
    print(f"absolute difference:         {abs(ours - theirs):.1e}")


if __name__ == "__main__":
    main()
