"""Who this process is in a multi-worker NCF training, and what share of the
work it takes (issue 15, the groundwork of ``tf.distribute`` training).

TensorFlow's ``MultiWorkerMirroredStrategy`` reads the cluster from the
``TF_CONFIG`` environment variable, as Kubeflow's TFJob, Vertex AI and
SageMaker set it::

    {
        "cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
        "task": {"type": "worker", "index": 1},
    }

The chief is the ``chief`` task if the cluster names one, else worker 0; only
it writes the run's outputs. This module only reads and checks that
description, and splits the positives and the batch between the workers; it
imports no TensorFlow, so the hooks can ask it before any is loaded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: The task types that train (a parameter server or an evaluator does not).
TRAINING_TASKS = ("chief", "worker")


class ClusterConfigError(ValueError):
    """``TF_CONFIG`` is missing, not JSON, or does not describe this task."""


@dataclass(frozen=True)
class WorkerRole:
    """This process's place among the ``count`` training workers: ``index``
    0 is the chief (the ``chief`` task, else worker 0)."""

    index: int
    count: int
    address: str
    peers: tuple[str, ...]

    @property
    def is_chief(self) -> bool:
        return self.index == 0


def worker_role(environ: Mapping[str, str] | None = None) -> WorkerRole:
    """This process's role, from ``TF_CONFIG`` in ``environ`` (default
    ``os.environ``); a ``ClusterConfigError`` names what is wrong with it."""
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    if not text:
        raise ClusterConfigError(
            "TF_CONFIG is not set: distribution multi_worker needs each "
            'process to be told its cluster and task, e.g. TF_CONFIG=\'{"cluster": '
            '{"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", '
            '"index": 0}}\''
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClusterConfigError(f"TF_CONFIG is not JSON: {error}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ClusterConfigError("TF_CONFIG needs a 'cluster' and a 'task' object")
    # Training order: the chief first, then the workers in their listed order.
    peers: list[tuple[str, int, str]] = []
    for kind in TRAINING_TASKS:
        addresses = cluster.get(kind, [])
        if not isinstance(addresses, list) or not all(
            isinstance(address, str) for address in addresses
        ):
            raise ClusterConfigError(
                f"TF_CONFIG cluster.{kind} must be a list of 'host:port' strings"
            )
        peers.extend(
            (kind, number, address) for number, address in enumerate(addresses)
        )
    if len(cluster.get("chief", [])) > 1:
        raise ClusterConfigError("TF_CONFIG cluster.chief names more than one task")
    if not peers:
        raise ClusterConfigError("TF_CONFIG cluster names no chief and no worker")
    kind, number = task.get("type"), task.get("index", 0)
    for index, peer in enumerate(peers):
        if peer[:2] == (kind, number):
            return WorkerRole(
                index=index,
                count=len(peers),
                address=peer[2],
                peers=tuple(address for *_, address in peers),
            )
    raise ClusterConfigError(
        f"TF_CONFIG task {{'type': {kind!r}, 'index': {number!r}}} is not one of "
        f"the cluster's training tasks ({len(peers)}: "
        + ", ".join(f"{k}:{n}" for k, n, _ in peers)
        + ")"
    )


def local_batch_size(global_batch: int, workers: int) -> int:
    """Each worker's share of a global batch; the split must be even, so that
    every step averages the same number of rows on every worker."""
    if workers < 1 or global_batch % workers:
        raise ValueError(
            f"batch_size {global_batch} does not split evenly between {workers} "
            f"workers: use a multiple of {workers}"
        )
    return global_batch // workers


def shard(rows: np.ndarray, role: WorkerRole) -> np.ndarray:
    """This worker's rows: every ``count``-th one from its ``index``; the
    shards are disjoint, cover ``rows`` and differ in size by at most one."""
    return rows[role.index :: role.count]


def worker_seed(seed: int, role: WorkerRole) -> int:
    """The seed of this worker's negative draws: the run's seed plus its index,
    so each worker draws differently and every rerun draws the same."""
    return seed + role.index


def steps_per_epoch(rows: int, rows_per_positive: int, batch: int, workers: int) -> int:
    """Full local batches every worker can fill from its shard of ``rows``
    positives (each with ``rows_per_positive - 1`` negatives): the smallest
    shard's, so that all workers take the same number of steps (a worker with
    one step more would wait for the others forever)."""
    smallest = rows // workers
    steps = smallest * rows_per_positive // batch
    if steps < 1:
        raise ValueError(
            f"{rows} positives between {workers} workers fill no batch of {batch} "
            "rows per worker: use a smaller batch_size or fewer workers"
        )
    return steps
