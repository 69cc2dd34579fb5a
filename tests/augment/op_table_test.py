"""Every named op of ieg_tf.augment.op_table, eagerly and inside tf.data."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.augment import op_table
from ieg_tf.augment import seeds

ALL_OPS = tuple(sorted(op_table.OPS))
RANDOM_OPS = (
  'Rotate',
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Cutout',
)
# Level at which each op is the identity (None: no such level).
IDENTITY_LEVEL = {
  'Identity': 0,
  'Rotate': 0,
  'ShearX': 0,
  'ShearY': 0,
  'TranslateX': 0,
  'TranslateY': 0,
  'Solarize': 0,
  'Cutout': 0,
  'Color': 5,
  'Contrast': 5,
  'Brightness': 5,
  'Sharpness': 5,
  'AutoContrast': None,
  'Equalize': None,
  'Invert': None,
  'Posterize': None,
}


def _image(size, channels, seed=0):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 120, (size, size, channels)).astype(np.uint8)


def _shift(x, dy, dx, fill=128):
  out = np.full_like(x, fill)
  h, w = x.shape[:2]
  src = x[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
  out[max(dy, 0) : h - max(-dy, 0), max(dx, 0) : w - max(-dx, 0)] = src
  return out


class OpTableTest(tf.test.TestCase, parameterized.TestCase):
  def test_identity_table_covers_every_op(self):
    self.assertEqual(set(IDENTITY_LEVEL), set(op_table.OPS))

  @parameterized.parameters((8, 1), (32, 3))
  def test_every_op_eager_and_in_dataset(self, size, channels):
    """One dataset dispatches all ops (4 seeds each); eager must agree."""
    x = _image(size, channels)
    copies = 4
    indices = np.repeat(np.arange(len(ALL_OPS), dtype=np.int32), copies)
    ds = tf.data.Dataset.from_tensor_slices(indices).enumerate()
    ds = ds.map(
      lambda i, op: (
        op_table.apply_op(ALL_OPS, op, x, 7.0, seeds.element_seed(5, i)),
        op,
        seeds.element_seed(5, i),
      )
    )
    by_op = {name: [] for name in ALL_OPS}
    for got, op, seed in ds.as_numpy_iterator():
      name = ALL_OPS[op]
      self.assertEqual(got.dtype, np.uint8)
      self.assertEqual(got.shape, x.shape)
      self.assertAllEqual(got, op_table.apply_named(name, x, 7, seed))
      by_op[name].append(got.tobytes())
    for name, outs in by_op.items():
      self.assertLen(outs, copies)
      if name in RANDOM_OPS:  # Per-image variety from per-image seeds.
        self.assertGreater(len(set(outs)), 1, name)
      else:
        self.assertLen(set(outs), 1, name)
    seed = tf.constant([1, 2], tf.int64)
    for name in ALL_OPS:  # A fixed seed gives a fixed result.
      self.assertAllEqual(
        op_table.apply_named(name, x, 7, seed),
        op_table.apply_named(name, x, 7, seed),
      )

  @parameterized.parameters(
    *[n for n, lv in IDENTITY_LEVEL.items() if lv is not None]
  )
  def test_identity_level(self, name):
    x = _image(32, 3)
    out = op_table.apply_named(name, x, IDENTITY_LEVEL[name], [3, 4])
    self.assertAllEqual(out, x)

  @parameterized.parameters(range(11))
  def test_solarize_and_posterize_levels(self, level):
    x = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    threshold = 256 - int(25.6 * level)
    self.assertAllEqual(
      op_table.apply_named('Solarize', x, level, [0, 0]),
      np.where(x < threshold, x, 255 - x.astype(np.int64)),
    )
    bits = 4 - int(0.4 * level)
    mask = (0xFF << (8 - bits)) & 0xFF
    self.assertAllEqual(
      op_table.apply_named('Posterize', x, level, [0, 0]), x & mask
    )

  @parameterized.parameters(range(11))
  def test_enhance_factor_levels(self, level):
    x = np.full((4, 4, 3), 100, np.uint8)
    # factor 0.18 L + 0.1, so 100 * factor is an integer: no rounding tie.
    expected = min(255, 18 * level + 10)
    out = op_table.apply_named('Brightness', x, level, [0, 0])
    self.assertAllEqual(out, np.full_like(x, expected))

  @parameterized.parameters((32, 1), (32, 4), (64, 3))
  def test_translate_levels_scale_with_size(self, size, level):
    x = _image(size, 1)
    pixels = level * size // 32
    outs = {'x': set(), 'y': set()}
    for i in range(12):
      seed = seeds.element_seed(9, i)
      got_x = op_table.apply_named('TranslateX', x, level, seed).numpy()
      got_y = op_table.apply_named('TranslateY', x, level, seed).numpy()
      sign_x = [
        d for d in (pixels, -pixels) if np.array_equal(got_x, _shift(x, 0, d))
      ]
      sign_y = [
        d for d in (pixels, -pixels) if np.array_equal(got_y, _shift(x, d, 0))
      ]
      self.assertLen(sign_x, 1)
      self.assertLen(sign_y, 1)
      outs['x'].add(sign_x[0])
      outs['y'].add(sign_y[0])
    self.assertEqual(outs['x'], {pixels, -pixels})
    self.assertEqual(outs['y'], {pixels, -pixels})

  def test_rotate_level_is_3_degrees_per_level_either_sign(self):
    from ieg_tf.augment import geometry

    x = _image(16, 3)
    results = set()
    for i in range(12):
      got = op_table.apply_named('Rotate', x, 10, seeds.element_seed(1, i))
      if np.array_equal(got, geometry.rotate(x, 30.0)):
        results.add(30)
      else:
        self.assertAllEqual(got, geometry.rotate(x, -30.0))
        results.add(-30)
    self.assertEqual(results, {30, -30})

  @parameterized.parameters((32, 3), (32, 8), (64, 5))
  def test_cutout_level_size(self, size, level):
    x = _image(size, 1)
    side = int(2 * level * size / 32)
    sides = []
    for i in range(16):
      got = op_table.apply_named('Cutout', x, level, seeds.element_seed(2, i))
      rows, cols = np.nonzero(got.numpy()[..., 0] == 128)
      sides += [np.ptp(rows) + 1, np.ptp(cols) + 1]
    self.assertLessEqual(max(sides), side)
    self.assertEqual(max(sides), side)


if __name__ == '__main__':
  tf.test.main()
