"""Per-worker input pipelines: every example once per epoch across workers.

A multi-worker (or multi-host TPU) job calls the same `dataset_fn` once per
worker with that worker's `tf.distribute.InputContext`. These tests build
the pipelines of a two-worker job directly from two InputContexts and check
that the shards partition the data: the train stream shows each example
exactly once per epoch over both workers (and reshuffles the next epoch),
and the eval stream covers each test example exactly once, padding masked.
"""

import collections

import numpy as np
import tensorflow as tf

from ieg_tf.data import pipeline
from ieg_tf.data.split import Split

_WORKERS = 2
_GLOBAL_BATCH = 8  # 2 workers x 1 replica x 4


def _split(n: int, seed: int = 0) -> Split:
  rng = np.random.default_rng(seed)
  # Pixel (0, 0) encodes the row, so eval images can be told apart.
  images = rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
  images[:, 0, 0, 0] = np.arange(n)
  return Split(
    labels=rng.integers(0, 3, n), ids=np.arange(100, 100 + n), images=images
  )


def _contexts():
  return [
    tf.distribute.InputContext(
      num_input_pipelines=_WORKERS,
      input_pipeline_id=i,
      num_replicas_in_sync=_WORKERS,
    )
    for i in range(_WORKERS)
  ]


class MultiWorkerInputTest(tf.test.TestCase):
  def _train_ids(self, split, spec, batches: int) -> list:
    """ids [batches * per-replica batch] of each worker's pipeline."""
    fn = pipeline.train_dataset_fn(split, _split(10, seed=1), spec)
    out = []
    for ctx in _contexts():
      ds = fn(ctx)
      rows = []
      for batch in ds.take(batches):
        train = batch['train'] if spec.with_probe else batch
        rows.append(train['id'].numpy())
      out.append(np.concatenate(rows))
    return out

  def test_train_shards_cover_each_example_once_per_epoch(self):
    n = 48  # each worker's shard: 24 rows = 6 batches of 4
    split = _split(n)
    for with_probe in (False, True):
      spec = pipeline.TrainInput(
        global_batch=_GLOBAL_BATCH,
        with_probe=with_probe,
        strong_view=with_probe,
        flip=False,
        seed=7,
      )
      per_epoch = n // _WORKERS // (_GLOBAL_BATCH // _WORKERS)
      ids = self._train_ids(split, spec, 2 * per_epoch)
      shard = n // _WORKERS
      for epoch in range(2):
        seen = [w[epoch * shard : (epoch + 1) * shard] for w in ids]
        # Disjoint shards whose union is the whole split, once each.
        self.assertEmpty(set(seen[0]) & set(seen[1]))
        both = collections.Counter(np.concatenate(seen).tolist())
        self.assertEqual(both, collections.Counter(split.ids.tolist()))
      for w in ids:
        # The second epoch is a new permutation of the same shard.
        self.assertCountEqual(w[:shard], w[shard:])
        self.assertNotAllEqual(w[:shard], w[shard:])

  def test_train_batches_are_per_replica_sized(self):
    spec = pipeline.TrainInput(global_batch=_GLOBAL_BATCH, flip=False)
    for ctx in _contexts():
      ds = pipeline.train_dataset_fn(_split(16), None, spec)(ctx)
      self.assertEqual(ds.element_spec['id'].shape.as_list(), [4])

  def test_eval_shards_cover_each_example_once(self):
    n = 21  # odd: the workers' shards differ in size and need padding
    split = _split(n)
    fn = pipeline.eval_dataset_fn(split, _GLOBAL_BATCH)
    firsts, steps = [], []
    for ctx in _contexts():
      batches = list(fn(ctx))
      steps.append(len(batches))
      for b in batches:
        keep = b['mask'].numpy() > 0
        firsts.append(b['image'].numpy()[keep, 0, 0, 0])
        self.assertAllEqual(b['mask'].numpy(), keep.astype(np.float32))
    # Same step count on every worker (a collective per step), >= 1 pad row.
    self.assertEqual(steps[0], steps[1])
    self.assertGreater(steps[0] * _GLOBAL_BATCH, n)
    # Pixel (0, 0) after the eval view is a strictly increasing map of the
    # row number, so n distinct values mean n distinct examples.
    firsts = np.concatenate(firsts)
    self.assertLen(firsts, n)
    self.assertLen(np.unique(firsts), n)


if __name__ == '__main__':
  tf.test.main()
