"""Tests of ieg_tf.augment.cutout and ieg_tf.augment.crop_flip."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.augment import crop_flip
from ieg_tf.augment import cutout
from ieg_tf.augment import seeds


def _image(h, w, c, low=0, high=128, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(low, high, (h, w, c)).astype(np.uint8)


def _map_seeds(fn, image, count):
  images = tf.data.Dataset.from_tensors(image).repeat(count)
  element_seeds = tf.data.Dataset.range(count).map(
    lambda i: seeds.element_seed(3, i)
  )
  ds = tf.data.Dataset.zip((images, element_seeds)).map(fn)
  return list(ds.as_numpy_iterator())


class FillBoxTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(
    (2, 3, 4, 5), (-3, -2, 6, 6), (7, 8, 10, 10), (0, 0, 0, 3), (9, 0, 4, 4)
  )
  def test_numpy_oracle(self, top, left, height, width):
    x = _image(10, 12, 3)
    expected = x.copy()
    expected[
      max(top, 0) : max(top + height, 0), max(left, 0) : max(left + width, 0)
    ] = 128
    self.assertAllEqual(cutout.fill_box(x, top, left, height, width), expected)


class CutoutTest(tf.test.TestCase, parameterized.TestCase):
  def _box(self, out):
    """The filled pixels of `out` (input values are < 128) as a box."""
    rows, cols = np.nonzero(np.all(out == 128, axis=-1))
    return rows.min(), rows.max() + 1, cols.min(), cols.max() + 1, rows.size

  @parameterized.parameters((32, 16), (8, 4), (9, 5))
  def test_clipped_square_at_every_possible_center(self, size, cut):
    x = _image(size, size, 3)
    outs = _map_seeds(lambda im, s: cutout.cutout(im, s, cut), x, 300)
    corners, seen_rows = set(), set()
    # The filled span along one axis for each possible center pixel.
    spans = {
      (max(c - cut // 2, 0), min(c - cut // 2 + cut, size)) for c in range(size)
    }
    for out in outs:
      top, bottom, left, right, count = self._box(out)
      self.assertEqual(count, (bottom - top) * (right - left))
      self.assertIn((top, bottom), spans)
      self.assertIn((left, right), spans)
      expected = x.copy()
      expected[top:bottom, left:right] = 128
      self.assertAllEqual(out, expected)
      corners.add((top == 0, bottom == size, left == 0, right == size))
      seen_rows.add((top, bottom))
    # Every center row occurs: the center is uniform over the whole image.
    self.assertEqual(seen_rows, spans)
    # Boxes clipped at each border and unclipped ones all occur.
    self.assertIn((False, False, False, False), corners)
    self.assertTrue(any(c[0] for c in corners) and any(c[3] for c in corners))

  def test_determinism_and_gray_one_channel(self):
    x = _image(8, 8, 1)
    seed = tf.constant([4, 4], tf.int32)
    out = cutout.cutout(x, seed, 4)
    self.assertAllEqual(out, cutout.cutout(x, seed, 4))
    self.assertEqual(out.dtype, tf.uint8)
    self.assertTrue(np.any(out.numpy() == 128))


class CropFlipTest(tf.test.TestCase, parameterized.TestCase):
  def test_pad_and_crop_offsets_are_uniform_translations(self):
    x = _image(6, 7, 3, low=1, high=256)
    pad = 2
    padded = np.pad(x, [(pad, pad), (pad, pad), (0, 0)], constant_values=128)
    outs = _map_seeds(
      lambda im, s: crop_flip.pad_and_crop(im, s, pad, fill=128), x, 300
    )
    seen = []
    for out in outs:
      hits = [
        (t, left)
        for t in range(2 * pad + 1)
        for left in range(2 * pad + 1)
        if np.array_equal(out, padded[t : t + 6, left : left + 7])
      ]
      self.assertLen(hits, 1)
      seen.append(hits[0])
    counts = np.zeros((2 * pad + 1, 2 * pad + 1))
    for t, left in seen:
      counts[t, left] += 1
    self.assertTrue(np.all(counts > 0))

  def test_zero_pad_is_identity(self):
    x = _image(5, 5, 1)
    self.assertAllEqual(crop_flip.pad_and_crop(x, [1, 2], 0), x)

  def test_flip_is_mirror_or_identity_and_both_occur(self):
    x = _image(4, 6, 3)
    outs = _map_seeds(crop_flip.random_flip, x, 32)
    flipped = 0
    for out in outs:
      if np.array_equal(out, x[:, ::-1]):
        flipped += 1
      else:
        self.assertAllEqual(out, x)
    self.assertBetween(flipped, 1, 31)


if __name__ == '__main__':
  tf.test.main()
