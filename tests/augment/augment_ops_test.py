"""Numpy oracles for the pixel ops of ieg_tf.augment.ops.

Each expected value is recomputed here from the op's definition (PIL's
semantics as documented in ops.py), never by calling the library.
"""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.augment import ops


def _images(channels, size=12, seed=0, count=3):
  rng = np.random.default_rng(seed + channels)
  return [
    rng.integers(0, 256, (size, size + 3, channels)).astype(np.uint8)
    for _ in range(count)
  ]


def _luma(x):
  x = x.astype(np.int64)
  if x.shape[-1] == 1:
    return x.astype(np.float64)
  weighted = 299 * x[..., 0] + 587 * x[..., 1] + 114 * x[..., 2]
  return np.floor(weighted / 1000.0 + 0.5)[..., None]


def _blend_reference(degenerate, x, factor):
  """Unrounded d + factor * (x - d) in float64."""
  d = np.asarray(degenerate, np.float64)
  return d + np.float64(np.float32(factor)) * (x.astype(np.float64) - d)


class AugmentOpsTest(tf.test.TestCase, parameterized.TestCase):
  def assert_rounded_blend(self, out, exact):
    """out == clip(round(exact)), except where `exact` is a float tie.

    float32 arithmetic in the op may land on either side of a .5 tie that
    float64 resolves exactly, so at ties (within 1e-3) both neighbours are
    accepted; everywhere else the match must be exact.
    """
    out = np.asarray(out).astype(np.int64)
    lo = np.clip(np.floor(exact), 0, 255)
    hi = np.clip(np.ceil(exact), 0, 255)
    nearest = np.clip(np.round(exact), 0, 255)
    tie = np.abs(exact - np.floor(exact) - 0.5) < 1e-3
    self.assertTrue(np.all(np.where(tie, (out == lo) | (out == hi), True)))
    self.assertAllEqual(out[~tie], nearest[~tie])

  @parameterized.parameters(1, 3)
  def test_identity_and_invert(self, channels):
    for x in _images(channels):
      self.assertAllEqual(ops.identity(x), x)
      self.assertAllEqual(ops.invert(x), 255 - x.astype(np.int64))
      self.assertEqual(ops.invert(x).dtype, tf.uint8)

  @parameterized.product(channels=[1, 3], threshold=[0, 1, 100, 128, 255, 256])
  def test_solarize(self, channels, threshold):
    for x in _images(channels):
      expected = np.where(x < threshold, x, 255 - x.astype(np.int64))
      out = ops.solarize(x, threshold)
      self.assertEqual(out.dtype, tf.uint8)
      self.assertAllEqual(out, expected)

  @parameterized.product(channels=[1, 3], bits=list(range(9)))
  def test_posterize(self, channels, bits):
    for x in _images(channels):
      mask = (0xFF << (8 - bits)) & 0xFF
      self.assertAllEqual(ops.posterize(x, bits), x & mask)

  @parameterized.product(channels=[1, 3], factor=[0.0, 0.1, 0.5, 1.0, 1.9])
  def test_brightness(self, channels, factor):
    for x in _images(channels):
      exact = _blend_reference(0.0, x, factor)
      self.assert_rounded_blend(ops.brightness(x, factor), exact)

  @parameterized.product(channels=[1, 3], factor=[0.0, 0.28, 1.0, 1.9])
  def test_color(self, channels, factor):
    for x in _images(channels):
      exact = _blend_reference(_luma(x), x, factor)
      self.assert_rounded_blend(ops.color(x, factor), exact)

  @parameterized.product(channels=[1, 3], factor=[0.0, 0.46, 1.0, 1.9])
  def test_contrast(self, channels, factor):
    for x in _images(channels):
      mean = np.floor(_luma(x).mean() + 0.5)
      exact = _blend_reference(mean, x, factor)
      self.assert_rounded_blend(ops.contrast(x, factor), exact)

  @parameterized.product(channels=[1, 3], factor=[0.1, 1.0, 1.9])
  def test_sharpness(self, channels, factor):
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float64)
    for x in _images(channels):
      h, w, c = x.shape
      smooth = x.astype(np.float64).copy()
      for i in range(1, h - 1):
        for j in range(1, w - 1):
          for k in range(c):
            patch = x[i - 1 : i + 2, j - 1 : j + 2, k].astype(np.float64)
            smooth[i, j, k] = np.round((patch * kernel).sum() / 13.0)
      self.assertAllEqual(ops.smooth(x), smooth)
      exact = _blend_reference(smooth, x, factor)
      self.assert_rounded_blend(ops.sharpness(x, factor), exact)

  def test_smooth_tiny_images_keep_borders(self):
    for shape in [(1, 1, 3), (2, 5, 1), (3, 3, 1)]:
      x = np.arange(np.prod(shape)).reshape(shape).astype(np.uint8) * 7
      out = ops.smooth(x).numpy()
      if shape == (3, 3, 1):
        center = np.round(
          (x[:, :, 0].astype(np.float64).sum() + 4 * x[1, 1, 0]) / 13.0
        )
        x = x.copy()
        x[1, 1, 0] = center
      self.assertAllEqual(out, x)

  @parameterized.parameters(1, 3)
  def test_autocontrast(self, channels):
    rng = np.random.default_rng(5)
    for x in _images(channels) + [
      rng.integers(40, 90, (9, 7, channels)).astype(np.uint8)
    ]:
      expected = np.empty(x.shape, np.int64)
      for k in range(channels):
        ch = x[..., k].astype(np.float64)
        lo, hi = ch.min(), ch.max()
        expected[..., k] = (
          np.floor((ch - lo) * 255.0 / (hi - lo)) if hi > lo else ch
        )
      self.assertAllEqual(ops.autocontrast(x), expected)

  def test_autocontrast_constant_channel_unchanged(self):
    x = np.full((5, 5, 3), 77, np.uint8)
    x[..., 1] = np.arange(25).reshape(5, 5)
    out = ops.autocontrast(x).numpy()
    self.assertAllEqual(out[..., 0], x[..., 0])
    self.assertEqual(out[..., 1].min(), 0)
    self.assertEqual(out[..., 1].max(), 255)

  def _pil_equalize(self, x):
    """PIL's ImageOps.equalize lookup, written out with python loops."""
    out = np.empty(x.shape, np.int64)
    for k in range(x.shape[-1]):
      hist = np.bincount(x[..., k].ravel(), minlength=256)
      nonzero = [v for v in hist if v]
      step = (sum(nonzero) - nonzero[-1]) // 255 if len(nonzero) > 1 else 0
      if step == 0:
        lut = list(range(256))
      else:
        lut, n = [], step // 2
        for i in range(256):
          lut.append(min(n // step, 255))
          n += hist[i]
      out[..., k] = np.array(lut)[x[..., k]]
    return out

  @parameterized.parameters(1, 3)
  def test_equalize(self, channels):
    rng = np.random.default_rng(9)
    skewed = (rng.beta(2, 8, (40, 48, channels)) * 255).astype(np.uint8)
    few = rng.choice([3, 50, 51], (6, 6, channels)).astype(np.uint8)
    single = np.full((4, 4, channels), 9, np.uint8)
    # >= 510 pixels, so that step >= 2 and its rounding offset matters.
    for x in _images(channels, size=40) + [skewed, few, single]:
      self.assertAllEqual(ops.equalize(x), self._pil_equalize(x))

  def test_luma_oracle(self):
    (x,) = _images(3, count=1)
    self.assertAllEqual(ops.luma(x), _luma(x))
    # Exact .5 ties round up: 0.114 * 250 = 28.5, 0.299 * 50 = 14.95.
    ties = np.array([[[0, 0, 250], [50, 0, 250]]], np.uint8)
    self.assertAllEqual(ops.luma(ties)[..., 0], [[29, 43]])

  @parameterized.parameters(
    ('solarize', lambda x: ops.solarize(x, 128)),
    ('posterize', lambda x: ops.posterize(x, 3)),
    ('invert', ops.invert),
    ('brightness', lambda x: ops.brightness(x, 1.3)),
    ('color', lambda x: ops.color(x, 0.4)),
    ('contrast', lambda x: ops.contrast(x, 1.6)),
    ('sharpness', lambda x: ops.sharpness(x, 1.9)),
    ('autocontrast', ops.autocontrast),
    ('equalize', ops.equalize),
  )
  def test_same_result_inside_tf_data(self, name, fn):
    del name
    for channels in (1, 3):
      images = np.stack(_images(channels, count=4))
      ds = tf.data.Dataset.from_tensor_slices(images).map(fn)
      outs = list(ds.as_numpy_iterator())
      for image, out in zip(images, outs):
        self.assertEqual(out.dtype, np.uint8)
        self.assertEqual(out.shape, image.shape)
        self.assertAllEqual(out, fn(image))

  def test_identity_magnitudes(self):
    for x in _images(3) + _images(1):
      self.assertAllEqual(ops.solarize(x, 256), x)
      self.assertAllEqual(ops.posterize(x, 8), x)
      for op in (ops.brightness, ops.color, ops.contrast, ops.sharpness):
        self.assertAllEqual(op(x, 1.0), x)


if __name__ == '__main__':
  tf.test.main()
