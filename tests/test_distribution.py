"""ncf_movielens.distribution: TF_CONFIG read the way TensorFlow's multi-worker
strategy reads it, refused with the field at fault, and the work split evenly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ncf_movielens.distribution import (
    ClusterConfigError,
    local_batch_size,
    shard,
    steps_per_epoch,
    worker_role,
    worker_seed,
)

WORKERS = ["127.0.0.1:2222", "127.0.0.1:2223", "127.0.0.1:2224"]


def _env(cluster, task) -> dict[str, str]:
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}


def test_worker_zero_is_chief_without_a_chief_task():
    roles = [
        worker_role(_env({"worker": WORKERS}, {"type": "worker", "index": i}))
        for i in range(3)
    ]
    assert [role.index for role in roles] == [0, 1, 2]
    assert [role.is_chief for role in roles] == [True, False, False]
    assert {role.count for role in roles} == {3}
    assert roles[2].address == WORKERS[2] and roles[0].peers == tuple(WORKERS)


def test_a_chief_task_comes_first():
    cluster = {"chief": ["10.0.0.9:2222"], "worker": WORKERS[:2]}
    chief = worker_role(_env(cluster, {"type": "chief", "index": 0}))
    first_worker = worker_role(_env(cluster, {"type": "worker", "index": 0}))
    assert (chief.index, chief.is_chief, chief.count) == (0, True, 3)
    assert (first_worker.index, first_worker.is_chief) == (1, False)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "TF_CONFIG is not set"),
        ({"TF_CONFIG": "{not json"}, "not JSON"),
        ({"TF_CONFIG": json.dumps({"cluster": {}})}, "'cluster' and a 'task'"),
        (_env({"worker": "127.0.0.1:2222"}, {"type": "worker"}), "cluster.worker"),
        (_env({"ps": WORKERS}, {"type": "ps", "index": 0}), "no chief and no worker"),
        (_env({"worker": WORKERS}, {"type": "worker", "index": 3}), "worker:2"),
    ],
)
def test_bad_tf_config_is_refused_naming_the_fault(environ, message):
    with pytest.raises(ClusterConfigError, match=message):
        worker_role(environ)


def test_shards_are_disjoint_cover_everything_and_are_even():
    rows = np.arange(10)
    roles = [
        worker_role(_env({"worker": WORKERS}, {"type": "worker", "index": i}))
        for i in range(3)
    ]
    parts = [shard(rows, role) for role in roles]
    assert sorted(np.concatenate(parts).tolist()) == rows.tolist()
    assert [len(part) for part in parts] == [4, 3, 3]
    assert [worker_seed(42, role) for role in roles] == [42, 43, 44]


def test_batch_and_steps_split_so_that_every_worker_takes_the_same_steps():
    assert local_batch_size(16384, 2) == 8192
    with pytest.raises(ValueError, match="multiple of 3"):
        local_batch_size(16384, 3)
    # 10 positives on 3 workers: the smallest shard has 3, so 3 x 5 rows = 15
    # rows each, one full batch of 8 per worker.
    assert steps_per_epoch(10, 5, 8, 3) == 1
    with pytest.raises(ValueError, match="fill no batch"):
        steps_per_epoch(10, 5, 16, 3)
