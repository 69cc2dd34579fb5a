"""The probe stream: class balanced every step, disjoint across replicas.

Checked on one replica, two replicas (MirroredStrategy on two logical CPUs)
and two workers (the pipelines of a two-worker job built from two
InputContexts, as in multi_worker_input_test.py), against a numpy oracle of
which probe rows every replica of every step must read.
"""

import collections

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.data import pipeline
from ieg_tf.data import probe as probe_lib
from ieg_tf.data.split import Split
from ieg_tf.runtime import devices

devices.ensure_logical_cpus(2)

_C = 4


def _split(labels, offset):
  labels = np.asarray(labels)
  n = len(labels)
  rng = np.random.default_rng(n + offset)
  return Split(
    labels=labels,
    ids=np.arange(n) + offset,
    images=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
  )


def _probe(per_class):
  """A probe of `per_class` per class, stored class-interleaved."""
  return _split(np.tile(np.arange(_C), per_class), offset=1000)


def _spec(global_batch, start_step=0):
  return pipeline.TrainInput(
    global_batch=global_batch,
    with_probe=True,
    strong_view=True,
    flip=False,
    seed=5,
    start_step=start_step,
  )


def _oracle_ids(probe, global_batch, replicas, steps, start_step=0):
  """ids [steps, replicas, per-replica batch] the replicas must read."""
  cycle = probe_lib.balanced_cycle(probe.labels)
  b = global_batch // replicas
  out = np.zeros((steps, replicas, b), np.int64)
  for s in range(steps):
    for r in range(replicas):
      q = ((start_step + s) * replicas + r) * b + np.arange(b)
      out[s, r] = probe.ids[cycle[q % len(cycle)]]
  return out


def _strategy_ids(strategy, probe, global_batch, steps, start_step=0):
  fn = pipeline.train_dataset_fn(
    _split(np.arange(64) % _C, 0), probe, _spec(global_batch, start_step)
  )
  it = iter(strategy.distribute_datasets_from_function(fn))
  out = []
  for _ in range(steps):
    ids = strategy.experimental_local_results(next(it)['probe']['id'])
    out.append(np.stack([x.numpy() for x in ids]))
  return np.stack(out)


def _two_worker_ids(probe, global_batch, steps, replicas_per_worker):
  """ids [steps, replicas, b]: worker w's replicas are w * rpw + (0..rpw)."""
  workers = 2
  fn = pipeline.train_dataset_fn(
    _split(np.arange(64) % _C, 0), probe, _spec(global_batch)
  )
  per_worker = []
  for w in range(workers):
    ctx = tf.distribute.InputContext(
      num_input_pipelines=workers,
      input_pipeline_id=w,
      num_replicas_in_sync=workers * replicas_per_worker,
    )
    batches = [
      b['probe']['id'].numpy()
      for b in fn(ctx).take(steps * replicas_per_worker)
    ]
    per_worker.append(np.reshape(batches, (steps, replicas_per_worker, -1)))
  return np.concatenate(per_worker, axis=1)


class _SequentialSplit(Split):
  """An in-memory split read like records: in stored order only."""

  @property
  def random_access(self) -> bool:
    return False


class BalancedCycleTest(tf.test.TestCase):
  def test_interleaved_probe_is_its_own_cycle(self):
    labels = np.tile(np.arange(5), 3)
    self.assertAllEqual(probe_lib.balanced_cycle(labels), np.arange(15))

  def test_unequal_classes_are_balanced_in_every_window(self):
    # A provided probe: class 0 has 5 rows, class 1 two, class 2 one.
    labels = np.array([0, 0, 1, 0, 2, 0, 1, 0])
    cycle = probe_lib.balanced_cycle(labels)
    self.assertLen(cycle, 3 * 5)
    self.assertCountEqual(np.unique(cycle), np.arange(len(labels)))
    stream = np.tile(labels[cycle], 3)
    for width in (1, 2, 3, 4, 7):
      for start in range(len(cycle)):
        counts = np.bincount(stream[start : start + width], minlength=3)
        self.assertLessEqual(counts.max() - counts.min(), 1)
    # Within a class the rows rotate: class 1's rows alternate.
    self.assertAllEqual(cycle[labels[cycle] == 1], [2, 6, 2, 6, 2])


class ProbePositionTest(tf.test.TestCase):
  def test_oracle(self):
    per_step, shards = 6, 3
    k = np.arange(40)
    for shard in range(shards):
      got = pipeline.probe_position(k, per_step, shard, shards).numpy()
      want = (k // per_step * shards + shard) * per_step + k % per_step
      self.assertAllEqual(got, want)
    # Over all shards, every global position is taken exactly once.
    every = np.concatenate(
      [pipeline.probe_position(k[:18], per_step, s, shards) for s in range(3)]
    )
    self.assertCountEqual(every, np.arange(54))


class ProbeStreamTest(tf.test.TestCase, parameterized.TestCase):
  def _check_balance_and_disjointness(self, ids, probe):
    label_of = dict(zip(probe.ids.tolist(), probe.labels.tolist()))
    steps, replicas, b = ids.shape
    for s in range(steps):
      for r in range(replicas):
        counts = collections.Counter(label_of[i] for i in ids[s, r])
        per_class = [counts.get(c, 0) for c in range(_C)]
        self.assertLessEqual(max(per_class) - min(per_class), 1)
        if len(probe) <= b:  # It fits: the whole probe, every replica.
          self.assertCountEqual(set(ids[s, r]), probe.ids)
      period = len(probe_lib.balanced_cycle(probe.labels))
      # Room for all (and no class padded by repeats): no row read twice.
      if period == len(probe) >= replicas * b:
        self.assertLen(set(ids[s].ravel()), replicas * b)

  @parameterized.named_parameters(
    ('rotating', 10, 12),  # 40 probe rows, 12 per replica
    ('fits', 3, 16),  # 12 probe rows, 16 per replica
    ('exact', 4, 16),  # 16 probe rows, 16 per replica
  )
  def test_one_replica(self, per_class, batch):
    probe = _probe(per_class)
    strategy = tf.distribute.OneDeviceStrategy('/cpu:0')
    got = _strategy_ids(strategy, probe, batch, steps=5)
    self.assertAllEqual(got, _oracle_ids(probe, batch, 1, 5))
    self._check_balance_and_disjointness(got, probe)

  @parameterized.named_parameters(('rotating', 10, 24), ('fits', 3, 32))
  def test_two_replicas(self, per_class, global_batch):
    probe = _probe(per_class)
    got = _strategy_ids(
      devices.cpu_mirrored_strategy(2), probe, global_batch, 5
    )
    self.assertAllEqual(got, _oracle_ids(probe, global_batch, 2, 5))
    self._check_balance_and_disjointness(got, probe)
    if per_class == 10:
      # The two replicas of a step read different rows.
      self.assertEmpty(set(got[0, 0]) & set(got[0, 1]))

  @parameterized.parameters(1, 2)
  def test_two_workers(self, replicas_per_worker):
    probe = _probe(10)
    global_batch = 8 * 2 * replicas_per_worker
    got = _two_worker_ids(probe, global_batch, 5, replicas_per_worker)
    replicas = 2 * replicas_per_worker
    self.assertAllEqual(got, _oracle_ids(probe, global_batch, replicas, 5))
    self._check_balance_and_disjointness(got, probe)
    # The workers do not read the same rows (they all did before).
    self.assertEmpty(set(got[0, 0]) & set(got[0, replicas_per_worker]))

  @parameterized.parameters(0, 3)
  def test_records_probe_follows_the_same_positions(self, start_step):
    # A probe read sequentially (records) gives the rows of the oracle too.
    probe = _probe(10)
    sequential = _SequentialSplit(
      labels=probe.labels, ids=probe.ids, images=probe.images
    )
    strategy = devices.cpu_mirrored_strategy(2)
    got = _strategy_ids(strategy, sequential, 24, 4, start_step)
    self.assertAllEqual(got, _oracle_ids(probe, 24, 2, 4, start_step))
    workers = _two_worker_ids(sequential, 32, 4, 2)
    self.assertAllEqual(workers, _oracle_ids(probe, 32, 4, 4))

  def test_unequal_provided_probe_stays_balanced(self):
    labels = np.concatenate([np.zeros(9), np.ones(5), [2, 2, 3]]).astype(int)
    probe = _split(labels, offset=500)
    got = _strategy_ids(devices.cpu_mirrored_strategy(2), probe, 16, 6)
    self.assertAllEqual(got, _oracle_ids(probe, 16, 2, 6))
    self._check_balance_and_disjointness(got, probe)

  def test_holdout_flag_is_fixed_per_example(self):
    # Every probe row carries its example's held-out flag, the same in
    # every step, on both pipelines' paths (random access and records).
    probe = _probe(10)
    want = dict(zip(probe.ids.tolist(), probe_lib.holdout_flags(probe.labels)))
    sequential = _SequentialSplit(
      labels=probe.labels, ids=probe.ids, images=probe.images
    )
    for split in (probe, sequential):
      fn = pipeline.train_dataset_fn(
        _split(np.arange(64) % _C, 0), split, _spec(12)
      )
      ctx = tf.distribute.InputContext()
      for batch in fn(ctx).take(6):
        ids = batch['probe']['id'].numpy().tolist()
        got = batch['probe']['holdout'].numpy()
        self.assertEqual(batch['probe']['holdout'].dtype, tf.bool)
        self.assertAllEqual(got, [want[i] for i in ids])

  def test_restart_at_a_step_reads_the_same_rows(self):
    probe = _probe(10)
    strategy = devices.cpu_mirrored_strategy(2)
    full = _strategy_ids(strategy, probe, 24, 6)
    resumed = _strategy_ids(strategy, probe, 24, 3, start_step=3)
    self.assertAllEqual(full[3:], resumed)


if __name__ == '__main__':
  tf.test.main()
