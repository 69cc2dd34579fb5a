"""Tests of the SimCLR pieces: colour distortion, blur, random resized crop."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.augment import color
from ieg_tf.augment import seeds
from ieg_tf.augment import simclr


def _float_image(h, w, c, seed=0):
  rng = np.random.default_rng(seed)
  return rng.uniform(0.0, 1.0, (h, w, c)).astype(np.float32)


def _uint8_image(h, w, c, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (h, w, c)).astype(np.uint8)


def _gray_oracle(x):
  # tf.image.rgb_to_grayscale's published weights.
  g = x[..., 0] * 0.2989 + x[..., 1] * 0.587 + x[..., 2] * 0.114
  return np.repeat(g[..., None], x.shape[-1], -1)


class ColorTest(tf.test.TestCase, parameterized.TestCase):
  def test_grayscale_oracle(self):
    x = _float_image(5, 6, 3)
    self.assertAllClose(color.grayscale(x), _gray_oracle(x), atol=1e-6)
    one = _float_image(5, 6, 1)
    self.assertAllEqual(color.grayscale(one), one)

  @parameterized.parameters(1, 3)
  def test_zero_strength_jitter_is_identity(self, channels):
    x = _float_image(8, 8, channels)
    out = color.color_jitter(x, [1, 2], 0.0)
    self.assertAllClose(out, x, atol=1e-5)

  @parameterized.parameters(1, 3)
  def test_distort_probabilities(self, channels):
    x = _float_image(8, 8, channels)
    seed = tf.constant([3, 4], tf.int64)
    self.assertAllEqual(
      color.color_distort(x, seed, 1.0, jitter_prob=0.0, gray_prob=0.0), x
    )
    gray = color.color_distort(x, seed, 1.0, jitter_prob=0.0, gray_prob=1.0)
    expected = _gray_oracle(x) if channels == 3 else x
    self.assertAllClose(gray, expected, atol=1e-6)

  @parameterized.parameters(1, 3)
  def test_jitter_range_determinism_variety_in_dataset(self, channels):
    x = _float_image(8, 8, channels)
    count = 16
    images = tf.data.Dataset.from_tensors(x).repeat(count)
    element_seeds = tf.data.Dataset.range(count).map(
      lambda i: seeds.element_seed(4, i)
    )
    ds = tf.data.Dataset.zip((images, element_seeds)).map(
      lambda im, s: (color.color_distort(im, s, 1.0), s)
    )
    outs = []
    for out, seed in ds.as_numpy_iterator():
      self.assertEqual(out.dtype, np.float32)
      self.assertEqual(out.shape, x.shape)
      self.assertBetween(out.min(), 0.0, 1.0)
      self.assertBetween(out.max(), 0.0, 1.0)
      self.assertAllClose(out, color.color_distort(x, seed, 1.0), atol=1e-6)
      outs.append(out.tobytes())
    self.assertGreater(len(set(outs)), count // 2)

  def test_gaussian_kernel_oracle(self):
    sigma, radius = 1.3, 4
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-(t**2) / (2 * sigma**2))
    self.assertAllClose(color.gaussian_kernel(sigma, radius), k / k.sum())

  @parameterized.parameters((1, 0.7), (3, 2.0))
  def test_gaussian_blur_oracle(self, channels, sigma):
    x = _float_image(12, 9, channels)
    radius = 2
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-(t**2) / (2 * sigma**2))
    k /= k.sum()
    padded = np.pad(x, [(radius, radius), (radius, radius), (0, 0)], 'reflect')
    expected = np.zeros(x.shape, np.float64)
    for a in range(2 * radius + 1):
      for b in range(2 * radius + 1):
        expected += k[a] * k[b] * padded[a : a + 12, b : b + 9]
    out = color.gaussian_blur(x, sigma, radius)
    self.assertAllClose(out, expected, atol=1e-5)
    self.assertAllEqual(color.gaussian_blur(x, sigma, 0), x)

  def test_random_blur(self):
    x = _float_image(40, 40, 3)
    self.assertAllEqual(color.random_blur(x, [1, 1], 40, prob=0.0), x)
    blurred = color.random_blur(x, [1, 1], 40, prob=1.0).numpy()
    # Blurring i.i.d. noise lowers its variance.
    self.assertLess(blurred.var(), 0.9 * x.var())
    self.assertBetween(blurred.min(), 0.0, 1.0)


class RandomResizedCropTest(tf.test.TestCase, parameterized.TestCase):
  def test_full_scale_same_size_is_identity(self):
    x = _uint8_image(10, 10, 3)
    out = simclr.random_resized_crop(
      x, [2, 3], (10, 10), scale=(1.0, 1.0), ratio=(1.0, 1.0)
    )
    self.assertAllClose(out, x / 255.0, atol=1e-6)

  def test_quarter_area_square_is_a_window(self):
    x = _uint8_image(16, 16, 1)
    windows = {
      (t, left): x[t : t + 8, left : left + 8] / 255.0
      for t in range(9)
      for left in range(9)
    }
    positions = set()
    for i in range(12):
      out = simclr.random_resized_crop(
        x, seeds.element_seed(6, i), (8, 8), scale=(0.25, 0.25), ratio=(1, 1)
      ).numpy()
      hits = [k for k, w in windows.items() if np.allclose(out, w, atol=1e-6)]
      self.assertLen(hits, 1)
      positions.add(hits[0])
    self.assertGreater(len(positions), 1)

  @parameterized.parameters((8, 1, (8, 8)), (224, 3, (32, 48)))
  def test_view_shape_range_in_dataset(self, size, channels, out_size):
    x = _uint8_image(size, size, channels)
    fn = lambda im, s: simclr.simclr_view(  # noqa: E731
      im, s, out_size=out_size, strength=1.0, blur=True
    )
    images = tf.data.Dataset.from_tensors(x).repeat(6)
    element_seeds = tf.data.Dataset.range(6).map(
      lambda i: seeds.element_seed(8, i)
    )
    ds = tf.data.Dataset.zip((images, element_seeds)).map(fn)
    outs = list(ds.as_numpy_iterator())
    for out in outs:
      self.assertEqual(out.shape, out_size + (channels,))
      self.assertBetween(out.min(), 0.0, 1.0)
      self.assertBetween(out.max(), 0.0, 1.0)
    self.assertLen({o.tobytes() for o in outs}, 6)


if __name__ == '__main__':
  tf.test.main()
