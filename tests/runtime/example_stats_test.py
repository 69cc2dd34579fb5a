"""ExampleStats: window means, last values, mirrored updates, checkpoints."""

import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.runtime import devices
from ieg_tf.runtime.example_stats import ExampleStats

devices.ensure_logical_cpus(2)

NAMES = ('weight', 'relabel')


def _batches(num_examples, steps, batch, seed=0):
  """Random (step, index, values) with repeated rows inside a batch too."""
  rng = np.random.default_rng(seed)
  out = []
  for step in range(steps):
    index = rng.integers(0, num_examples, batch).astype(np.int32)
    values = {n: rng.random(batch).astype(np.float32) for n in NAMES}
    out.append((step, index, values))
  return out


def _oracle(num_examples, batches, window_start):
  """numpy window mean (fallback: last value, NaN) and counts."""
  out = {}
  for n in NAMES:
    sums = np.zeros(num_examples)
    counts = np.zeros(num_examples)
    last = np.full(num_examples, np.nan)
    for step, index, values in batches:
      v = values[n]
      finite = np.isfinite(v)
      if step >= window_start:
        np.add.at(sums, index[finite], v[finite])
        np.add.at(counts, index[finite], 1.0)
      # Rows repeated in one batch: the tests keep their values equal.
      last[index[finite]] = v[finite]
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), last)
    out[n], out[f'{n}/count'], out[f'{n}/last'] = mean, counts, last
  return out


def _dedupe_last(batches):
  """Makes a row repeated in a batch carry one value (scatter order)."""
  fixed = []
  for step, index, values in batches:
    values = dict(values)
    for n in NAMES:
      first = {}
      v = values[n].copy()
      for i, row in enumerate(index):
        v[i] = first.setdefault(row, v[i])
      values[n] = v
    fixed.append((step, index, values))
  return fixed


def _run(strategy, stats, batches):
  """Feeds the batches through strategy.run, split over the replicas."""
  replicas = strategy.num_replicas_in_sync

  @tf.function
  def step_fn(step, index, values):
    def replica_fn(step, index, values):
      stats.update(step, dict(values, index=index))

    def local(ctx, x):
      # Contiguous slice of the global batch for each replica.
      per = x.shape[0] // replicas
      return x[ctx.replica_id_in_sync_group * per :][:per]

    args = tf.nest.map_structure(
      lambda x: strategy.experimental_distribute_values_from_function(
        lambda ctx: local(ctx, x)
      ),
      (index, values),
    )
    strategy.run(replica_fn, args=(step,) + args)

  for step, index, values in batches:
    step_fn(tf.constant(step, tf.int64), index, values)


class ExampleStatsTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(
    ('default', None), ('one_device', 'one'), ('mirrored', 'mirrored')
  )
  def test_matches_numpy_oracle(self, kind):
    if kind is None:
      strategy = tf.distribute.get_strategy()
    elif kind == 'one':
      strategy = tf.distribute.OneDeviceStrategy('/cpu:0')
    else:
      strategy = devices.cpu_mirrored_strategy(2)
      self.assertEqual(strategy.num_replicas_in_sync, 2)
    n, window_start = 13, 4
    batches = _dedupe_last(_batches(n, steps=7, batch=6))
    with strategy.scope():
      stats = ExampleStats(n, NAMES, window_start_step=window_start)
    _run(strategy, stats, batches)
    got = stats.snapshot()
    want = _oracle(n, batches, window_start)
    for key, value in want.items():
      self.assertAllClose(got[key], value, msg=key)
    # The oracle is not vacuous: some rows fall back, some are averaged.
    counts = got['weight/count']
    self.assertTrue(np.any(counts > 1))
    fallback = (counts == 0) & np.isfinite(got['weight'])
    self.assertTrue(np.any(fallback))
    if kind == 'mirrored':
      for var in stats.sums + stats.counts + stats.last:
        copies = [v.numpy() for v in strategy.experimental_local_results(var)]
        self.assertAllEqual(copies[0], copies[1])

  def test_window_mean_and_fallback_by_hand(self):
    stats = ExampleStats(4, ('weight',), window_start_step=2)
    for step, index, w in (
      (0, [0, 1], [0.9, 0.8]),
      (1, [0, 2], [0.7, 0.6]),
      (2, [0, 1], [0.1, 0.3]),
      (3, [0, 1], [0.2, float('nan')]),
    ):
      stats.update(
        tf.constant(step, tf.int64),
        {'index': tf.constant(index), 'weight': tf.constant(w)},
      )
    snap = stats.snapshot()
    # Row 0: window steps 2, 3 -> (0.1 + 0.2) / 2; row 1: NaN skipped -> 0.3;
    # row 2: only before the window -> last value 0.6; row 3 never seen.
    self.assertAllClose(snap['weight'][:3], [0.15, 0.3, 0.6])
    self.assertTrue(np.isnan(snap['weight'][3]))
    self.assertAllClose(snap['weight/count'], [2, 1, 0, 0])
    self.assertAllClose(snap['weight/last'][:3], [0.2, 0.3, 0.6])

  def test_checkpoint_round_trip(self):
    strategy = devices.cpu_mirrored_strategy(2)
    batches = _dedupe_last(_batches(9, steps=5, batch=4, seed=3))
    with strategy.scope():
      stats = ExampleStats(9, NAMES, window_start_step=2)
    _run(strategy, stats, batches)
    path = tf.train.Checkpoint(example_stats=stats).save(
      os.path.join(self.get_temp_dir(), 'ckpt')
    )
    with strategy.scope():
      fresh = ExampleStats(9, NAMES, window_start_step=2)
    tf.train.Checkpoint(example_stats=fresh).restore(
      path
    ).assert_existing_objects_matched()
    want, got = stats.snapshot(), fresh.snapshot()
    self.assertEqual(set(want), set(got))
    for key in want:
      self.assertAllClose(got[key], want[key], msg=key)
    self.assertGreater(float(np.sum(got['weight/count'])), 0)

  def test_rejects_bad_arguments(self):
    with self.assertRaises(ValueError):
      ExampleStats(0, ('weight',), 0)
    with self.assertRaises(ValueError):
      ExampleStats(3, ('weight', 'weight'), 0)
    with self.assertRaises(ValueError):
      ExampleStats(3, ('index',), 0)


if __name__ == '__main__':
  tf.test.main()
