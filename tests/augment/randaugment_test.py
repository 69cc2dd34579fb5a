"""Tests of RandAugment and the CIFAR AutoAugment policy (per-image)."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.augment import autoaugment
from ieg_tf.augment import op_table
from ieg_tf.augment import randaugment
from ieg_tf.augment import seeds


def _image(size, channels, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(20, 200, (size, size, channels)).astype(np.uint8)


def _ramp():
  """All 256 values once, so solarize thresholds are distinguishable."""
  return np.arange(256, dtype=np.uint8).reshape(16, 16, 1)


def _eager(fn, image, count, base_seed=0):
  return [
    fn(image, seeds.element_seed(base_seed, i)).numpy() for i in range(count)
  ]


def _in_dataset(fn, image, count=16):
  images = tf.data.Dataset.from_tensors(image).repeat(count)
  element_seeds = tf.data.Dataset.range(count).map(
    lambda i: seeds.element_seed(11, i)
  )
  ds = tf.data.Dataset.zip((images, element_seeds)).map(fn)
  return list(ds.as_numpy_iterator())


class RandAugmentTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((8, 1), (28, 1), (32, 3), (224, 3))
  def test_shape_dtype_determinism(self, size, channels):
    x = _image(size, channels)
    seed = tf.constant([3, 1], tf.int64)
    out = randaugment.randaugment(x, seed)
    self.assertEqual(out.dtype, tf.uint8)
    self.assertEqual(out.shape, x.shape)
    self.assertAllEqual(out, randaugment.randaugment(x, seed))

  @parameterized.parameters((8, 1), (32, 3))
  def test_per_image_variety_in_dataset(self, size, channels):
    x = _image(size, channels)
    outs = _in_dataset(randaugment.randaugment, x)
    for out in outs:
      self.assertEqual(out.shape, x.shape)
    # About 30% of images get no op (both layers skipped or Identity), so
    # only ask for clearly more than one distinct result.
    self.assertGreater(len({o.tobytes() for o in outs}), 4)

  def test_probability_zero_is_identity(self):
    x = _image(16, 3)
    for out in _eager(
      lambda im, s: randaugment.randaugment(im, s, prob=0.0), x, 8
    ):
      self.assertAllEqual(out, x)

  def test_op_is_chosen_per_image(self):
    x = _image(8, 3)
    fn = lambda im, s: randaugment.randaugment(  # noqa: E731
      im, s, num_layers=1, prob=1.0, names=('Identity', 'Invert')
    )
    kinds = []
    for out in _eager(fn, x, 32):
      if np.array_equal(out, x):
        kinds.append('identity')
      else:
        self.assertAllEqual(out, 255 - x.astype(np.int64))
        kinds.append('invert')
    self.assertBetween(kinds.count('invert'), 4, 28)

  def test_random_magnitude_is_1_to_9_per_image(self):
    x = _ramp()
    fn = lambda im, s: randaugment.randaugment(  # noqa: E731
      im, s, num_layers=1, prob=1.0, names=('Solarize',)
    )
    solarized = {
      level: np.where(x < 256 - int(25.6 * level), x, 255 - x.astype(np.int64))
      for level in range(11)
    }
    levels = []
    for out in _eager(fn, x, 80):
      (level,) = [
        lv for lv, exp in solarized.items() if np.array_equal(out, exp)
      ]
      levels.append(level)
    self.assertEqual(set(levels), set(range(1, 10)))

  def test_fixed_magnitude(self):
    x = _ramp()
    fn = lambda im, s: randaugment.randaugment(  # noqa: E731
      im, s, num_layers=2, magnitude=0, prob=1.0, names=('Solarize',)
    )
    for out in _eager(fn, x, 4):
      self.assertAllEqual(out, x)

  def test_default_op_list_is_the_reference_14(self):
    self.assertLen(randaugment.RANDAUG_OPS, 14)
    self.assertLen(set(randaugment.RANDAUG_OPS), 14)
    self.assertTrue(set(randaugment.RANDAUG_OPS) <= set(op_table.OPS))
    self.assertNotIn('Invert', randaugment.RANDAUG_OPS)
    self.assertNotIn('Cutout', randaugment.RANDAUG_OPS)


class AutoAugmentTest(tf.test.TestCase, parameterized.TestCase):
  def test_policy_table(self):
    policy = autoaugment.CIFAR10_POLICY
    self.assertLen(policy, 25)
    for sub in policy:
      self.assertLen(sub, 2)
      for name, prob, level in sub:
        self.assertIn(name, op_table.OPS)
        self.assertBetween(prob, 0.0, 1.0)
        self.assertBetween(level, 0, 10)

  @parameterized.parameters((8, 1), (28, 1), (32, 3), (224, 3))
  def test_shape_dtype_determinism(self, size, channels):
    x = _image(size, channels)
    seed = tf.constant([5, 2], tf.int64)
    out = autoaugment.autoaugment(x, seed)
    self.assertEqual(out.dtype, tf.uint8)
    self.assertEqual(out.shape, x.shape)
    self.assertAllEqual(out, autoaugment.autoaugment(x, seed))

  @parameterized.parameters((8, 1), (32, 3))
  def test_per_image_variety_in_dataset(self, size, channels):
    x = _image(size, channels)
    outs = _in_dataset(autoaugment.autoaugment, x)
    self.assertGreater(len({o.tobytes() for o in outs}), 4)

  def test_sub_policy_is_chosen_per_image(self):
    x = _image(8, 3)
    policy = (
      (('Invert', 1.0, 0), ('Identity', 1.0, 0)),
      (('Identity', 1.0, 0), ('Identity', 1.0, 0)),
    )
    inverted = 0
    for out in _eager(
      lambda im, s: autoaugment.autoaugment(im, s, policy=policy), x, 32
    ):
      if np.array_equal(out, x):
        continue
      self.assertAllEqual(out, 255 - x.astype(np.int64))
      inverted += 1
    self.assertBetween(inverted, 4, 28)

  def test_stages_run_in_order_with_their_probability(self):
    x = _image(8, 3)
    invert_then_black = ((('Invert', 1.0, 0), ('Posterize', 1.0, 10)),)
    black_then_invert = ((('Posterize', 1.0, 10), ('Invert', 1.0, 0)),)
    never = ((('Invert', 0.0, 0), ('Posterize', 0.0, 10)),)
    seed = tf.constant([1, 1], tf.int64)
    run = lambda p: autoaugment.autoaugment(x, seed, policy=p)  # noqa: E731
    self.assertAllEqual(run(invert_then_black), np.zeros_like(x))
    self.assertAllEqual(run(black_then_invert), np.full_like(x, 255))
    self.assertAllEqual(run(never), x)

  def test_stage_probability_is_per_image(self):
    x = _image(8, 1)
    half = ((('Invert', 0.5, 0), ('Identity', 1.0, 0)),)
    outs = _eager(
      lambda im, s: autoaugment.autoaugment(im, s, policy=half), x, 32
    )
    inverted = sum(not np.array_equal(o, x) for o in outs)
    self.assertBetween(inverted, 4, 28)


if __name__ == '__main__':
  tf.test.main()
