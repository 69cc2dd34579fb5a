"""Tests of ieg_tf.data.probe: balance, disjointness, order, determinism."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.data import hashing
from ieg_tf.data import probe
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError


def _train(num_classes=5, n=400, seed=0):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, num_classes, n)
  ids = rng.permutation(5 * n)[:n]
  images = rng.integers(0, 256, (n, 2, 2, 1), dtype=np.uint8)
  return Split(labels=labels, ids=ids, images=images)


def _round_robin_oracle(labels):
  """Plain-Python round robin: positions of [c0, c1, ..., c0, c1, ...]."""
  queues = {c: [i for i, lab in enumerate(labels) if lab == c] for c in labels}
  order = []
  while any(queues.values()):
    for c in sorted(queues):
      if queues[c]:
        order.append(queues[c].pop(0))
  return order


class SplitProbeTest(tf.test.TestCase, parameterized.TestCase):
  def test_balanced_disjoint_interleaved(self):
    train = _train()
    p, rest = probe.split_probe(train, 5, per_class=7, hold_ratio=None, seed=3)
    self.assertLen(p, 35)
    self.assertAllEqual(p.labels, np.tile(np.arange(5), 7))
    self.assertEmpty(np.intersect1d(p.ids, rest.ids))
    self.assertAllEqual(
      np.sort(np.concatenate([p.ids, rest.ids])), np.sort(train.ids)
    )
    # The rest keeps the original order.
    position = {int(i): k for k, i in enumerate(train.ids)}
    self.assertTrue(np.all(np.diff([position[int(i)] for i in rest.ids]) > 0))
    # Images travel with their ids.
    for k in (0, 11, 34):
      self.assertAllEqual(p.images[k], train.images[position[int(p.ids[k])]])

  def test_choice_is_the_smallest_hashes_per_class(self):
    train = _train()
    p, _ = probe.split_probe(train, 5, per_class=4, hold_ratio=None, seed=9)
    keys = hashing.hash64(9, train.ids, hashing.Stream.PROBE)
    for c in range(5):
      members = np.flatnonzero(train.labels == c)
      best = members[np.argsort(keys[members])[:4]]
      self.assertAllEqual(p.ids[p.labels == c], train.ids[best])

  def test_deterministic_order_invariant_and_nested(self):
    train = _train()
    p, _ = probe.split_probe(train, 5, per_class=6, hold_ratio=None, seed=2)
    perm = np.random.default_rng(4).permutation(len(train))
    q, _ = probe.split_probe(
      train.take(perm), 5, per_class=6, hold_ratio=None, seed=2
    )
    self.assertAllEqual(p.ids, q.ids)
    small, _ = probe.split_probe(train, 5, per_class=3, hold_ratio=None, seed=2)
    self.assertAllEqual(small.ids, p.ids[:15])
    other, _ = probe.split_probe(train, 5, per_class=6, hold_ratio=None, seed=8)
    self.assertNotAllEqual(np.sort(other.ids), np.sort(p.ids))

  @parameterized.parameters((0.1, 8), (0.05, 4), (0.0, 0), (0.013, 1))
  def test_hold_ratio(self, ratio, per_class):
    train = _train()  # 400 examples, 5 classes.
    self.assertEqual(int(np.floor(400 * ratio)) // 5, per_class)
    p, rest = probe.split_probe(
      train, 5, per_class=None, hold_ratio=ratio, seed=1
    )
    self.assertLen(p, 5 * per_class)
    self.assertLen(rest, 400 - 5 * per_class)

  def test_uses_clean_labels(self):
    train = _train()
    noisy = (train.labels + 1) % 5
    train = train.with_labels(noisy, train.labels)
    p, rest = probe.split_probe(train, 5, per_class=5, hold_ratio=None, seed=1)
    self.assertAllEqual(p.labels, np.tile(np.arange(5), 5))
    self.assertAllEqual(p.labels, p.clean_labels)
    self.assertAllEqual(rest.labels, (rest.clean_labels + 1) % 5)

  def test_zero_per_class_gives_empty_probe(self):
    train = _train()
    p, rest = probe.split_probe(train, 5, per_class=0, hold_ratio=None, seed=1)
    self.assertLen(p, 0)
    self.assertEqual(p.image_shape, train.image_shape)
    self.assertAllEqual(rest.ids, train.ids)

  def test_too_many_per_class(self):
    labels = np.array([0] * 10 + [1] * 3 + [2] * 10)
    train = Split(
      labels=labels,
      ids=np.arange(23),
      images=np.zeros((23, 1, 1, 1), np.uint8),
    )
    with self.assertRaisesRegex(UserError, 'class 1 has only 3'):
      probe.split_probe(train, 3, per_class=4, hold_ratio=None, seed=1)
    with self.assertRaisesRegex(UserError, 'class 3 has only 0'):
      probe.split_probe(train, 4, per_class=1, hold_ratio=None, seed=1)

  def test_bad_arguments(self):
    train = _train()
    with self.assertRaisesRegex(UserError, 'probe_per_class.*-1'):
      probe.split_probe(train, 5, per_class=-1, hold_ratio=None, seed=1)
    with self.assertRaisesRegex(UserError, 'hold_ratio.*1.5'):
      probe.split_probe(train, 5, per_class=None, hold_ratio=1.5, seed=1)
    with self.assertRaises(ValueError):
      probe.split_probe(train, 5, per_class=2, hold_ratio=0.1, seed=1)
    with self.assertRaises(ValueError):
      probe.split_probe(train, 5, per_class=None, hold_ratio=None, seed=1)


class InterleaveTest(tf.test.TestCase):
  def test_matches_round_robin_oracle(self):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 50)
    split = Split(
      labels=labels,
      ids=np.arange(50) * 3,
      images=np.zeros((50, 1, 1, 1), np.uint8),
    )
    out = probe.interleave_by_class(split)
    want = _round_robin_oracle(list(labels))
    self.assertAllEqual(out.ids, split.ids[want])
    self.assertAllEqual(out.labels, labels[want])

  def test_unequal_classes(self):
    labels = np.array([2, 0, 0, 2, 0, 1, 2, 2])
    split = Split(
      labels=labels, ids=np.arange(8), images=np.zeros((8, 1, 1, 1), np.uint8)
    )
    out = probe.interleave_by_class(split)
    self.assertAllEqual(out.labels, [0, 1, 2, 0, 2, 0, 2, 2])
    self.assertAllEqual(out.ids, [1, 5, 0, 2, 3, 4, 6, 7])


class HoldoutFlagsTest(tf.test.TestCase):
  def test_every_second_example_of_a_class(self):
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 0, 3])
    got = probe.holdout_flags(labels)
    # Per class, in stored order: ranks 1, 3, ... are held out.
    want = np.zeros(10, bool)
    for c in np.unique(labels):
      members = np.flatnonzero(labels == c)
      want[members[1::2]] = True
    self.assertAllEqual(got, want)
    # Class 3 has one example: it stays for training.
    self.assertFalse(got[9])

  def test_half_of_a_balanced_probe_per_class(self):
    labels = np.tile(np.arange(10), 10)
    got = probe.holdout_flags(labels)
    for c in range(10):
      self.assertEqual(got[labels == c].sum(), 5)


if __name__ == '__main__':
  tf.test.main()
