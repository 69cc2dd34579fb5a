"""Numpy oracles for ieg_tf.augment.geometry (projective-transform ops)."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.augment import geometry


def _image(h, w, c, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (h, w, c)).astype(np.uint8)


def _translate_oracle(x, dx, dy, fill):
  """out[y, x] = in[y - dy, x - dx], `fill` where that is outside."""
  h, w, _ = x.shape
  out = np.full_like(x, fill)
  for i in range(h):
    for j in range(w):
      si, sj = i - dy, j - dx
      if 0 <= si < h and 0 <= sj < w:
        out[i, j] = x[si, sj]
  return out


def _shear_oracle(x, sx, sy, fill):
  """Integer shears: out[y, x] = in[y + sy * x, x + sx * y]."""
  h, w, _ = x.shape
  out = np.full_like(x, fill)
  for i in range(h):
    for j in range(w):
      si, sj = i + sy * j, j + sx * i
      if 0 <= si < h and 0 <= sj < w:
        out[i, j] = x[si, sj]
  return out


class GeometryTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.product(
    shape=[(8, 8, 1), (7, 10, 3)], dx=[-3, 0, 2], dy=[-1, 0, 5]
  )
  def test_translate_integer_pixels(self, shape, dx, dy):
    x = _image(*shape)
    out = geometry.translate_y(geometry.translate_x(x, dx), dy)
    self.assertEqual(out.dtype, tf.uint8)
    self.assertAllEqual(out, _translate_oracle(x, dx, dy, 128))

  @parameterized.parameters((1, 0), (-1, 0), (0, 1), (0, -1))
  def test_shear_integer_oracle(self, sx, sy):
    x = _image(6, 9, 3)
    out = geometry.shear_y(x, sy) if sy else geometry.shear_x(x, sx)
    self.assertAllEqual(out, _shear_oracle(x, sx, sy, 128))

  @parameterized.parameters((5, 5, 1), (8, 8, 3), (6, 10, 3))
  def test_rotate_multiples_of_90(self, h, w, c):
    x = _image(h, w, c)
    self.assertAllEqual(geometry.rotate(x, 0.0), x)
    self.assertAllEqual(geometry.rotate(x, 180.0), np.rot90(x, 2))
    if h == w:  # Counter-clockwise, as np.rot90.
      self.assertAllEqual(geometry.rotate(x, 90.0), np.rot90(x, 1))
      self.assertAllEqual(geometry.rotate(x, -90.0), np.rot90(x, -1))

  def test_rotate_corners_are_filled(self):
    x = np.zeros((16, 16, 3), np.uint8)
    out = geometry.rotate(x, 45.0, fill=200).numpy()
    self.assertAllEqual(out[0, 0], [200, 200, 200])
    self.assertAllEqual(out[8, 8], [0, 0, 0])

  def test_zero_magnitude_is_identity(self):
    x = _image(9, 9, 3)
    for op in (
      geometry.rotate,
      geometry.shear_x,
      geometry.shear_y,
      geometry.translate_x,
      geometry.translate_y,
    ):
      self.assertAllEqual(op(x, 0.0), x)

  def test_fill_value_and_bilinear(self):
    x = np.full((4, 4, 1), 10, np.uint8)
    out = geometry.translate_x(x, 2, fill=0).numpy()
    self.assertAllEqual(out[:, :2, 0], np.zeros((4, 2)))
    half = geometry.transform(
      x, [1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 0.0, 0.0], interpolation='BILINEAR'
    ).numpy()
    self.assertAllEqual(half[:, :3, 0], np.full((4, 3), 10))

  @parameterized.parameters(
    ('rotate', lambda x: geometry.rotate(x, 90.0)),
    ('shear_x', lambda x: geometry.shear_x(x, 1.0)),
    ('shear_y', lambda x: geometry.shear_y(x, -1.0)),
    ('translate_x', lambda x: geometry.translate_x(x, -2.0)),
    ('translate_y', lambda x: geometry.translate_y(x, 3.0)),
  )
  def test_same_result_inside_tf_data(self, name, fn):
    del name
    for c in (1, 3):
      images = np.stack([_image(8, 8, c, seed=s) for s in range(3)])
      outs = list(
        tf.data.Dataset.from_tensor_slices(images).map(fn).as_numpy_iterator()
      )
      for image, out in zip(images, outs):
        self.assertEqual(out.shape, image.shape)
        self.assertAllEqual(out, fn(image))


if __name__ == '__main__':
  tf.test.main()
