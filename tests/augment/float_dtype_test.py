"""uint8 vs float images: every augmentation op, eagerly and in tf.data.

Oracle: a float image holding levels / 255 must give `op(uint8 image) / 255`
in its own dtype. Bounds, in levels (1 level = 1/255), with their reason:
* Level ops (ops, op_table, RandAugment, AutoAugment) and dtype-generic ops
  with nearest sampling (geometry, cutout, crop, flip): the float input is
  rounded back to the exact levels, so the only difference is how the float
  dtype stores k / 255: half an ulp near 1, i.e. 1e-4 level (float32;
  also float64, whose geometry fill passes through the transform kernel's
  float32 fill_value), 0.0625 (float16), 0.5 (bfloat16: 8 significant
  bits).
  Discontinuous ops (solarize, posterize, equalize, autocontrast) are
  therefore compared on images built from exact uint8 levels, as all are.
* Bilinear geometry: the uint8 kernel truncates its result, the float one
  does not round at all, so < 1 level; the float kernel also interpolates in
  its own dtype (input, weights, sum and output rounded): + 4 x storage.
* SimCLR colour ops compute in float32; the uint8 path rounds the result to
  a level: <= 0.5 level, plus for float16 / bfloat16 the input's storage
  error carried through the jitter (factors up to 1.4 each, three in a row:
  x 2.8) and the output's storage error: 0.8 / 2.5 levels.
"""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.augment import autoaugment
from ieg_tf.augment import color
from ieg_tf.augment import crop_flip
from ieg_tf.augment import cutout
from ieg_tf.augment import geometry
from ieg_tf.augment import image_dtype
from ieg_tf.augment import op_table
from ieg_tf.augment import ops
from ieg_tf.augment import randaugment
from ieg_tf.augment import simclr

FLOATS = ('float16', 'bfloat16', 'float32', 'float64')
# Storage error of k / 255 in each dtype, in levels (see the docstring).
STORAGE = {'float16': 0.0625, 'bfloat16': 0.5, 'float32': 1e-4, 'float64': 1e-4}
SEED = (7, 3)

LEVEL_OPS = {
  'invert': ops.invert,
  'solarize_0': lambda x: ops.solarize(x, 0),
  'solarize_128': lambda x: ops.solarize(x, 128),
  'solarize_205': lambda x: ops.solarize(x, 205),
  'solarize_256': lambda x: ops.solarize(x, 256),
  'posterize_1': lambda x: ops.posterize(x, 1),
  'posterize_4': lambda x: ops.posterize(x, 4),
  'posterize_8': lambda x: ops.posterize(x, 8),
  'brightness': lambda x: ops.brightness(x, 1.36),
  'color': lambda x: ops.color(x, 0.46),
  'contrast': lambda x: ops.contrast(x, 1.72),
  'sharpness': lambda x: ops.sharpness(x, 1.9),
  'smooth': ops.smooth,
  'autocontrast': ops.autocontrast,
  'equalize': ops.equalize,
  'randaugment': lambda x: randaugment.randaugment(x, SEED),
  'randaugment_m9': lambda x: randaugment.randaugment(
    x, SEED, magnitude=9, prob=1.0
  ),
  'autoaugment': lambda x: autoaugment.autoaugment(x, SEED),
  **{
    f'table_{name}': (
      lambda x, name=name: op_table.apply_named(name, x, 7, SEED)
    )
    for name in sorted(op_table.OPS)
  },
}
GENERIC_OPS = {
  'identity': ops.identity,
  'rotate': lambda x: geometry.rotate(x, 27.0),
  'shear_x': lambda x: geometry.shear_x(x, 0.3),
  'shear_y': lambda x: geometry.shear_y(x, -0.21),
  'translate_x': lambda x: geometry.translate_x(x, 3.0),
  'translate_y': lambda x: geometry.translate_y(x, -2.0),
  'cutout': lambda x: cutout.cutout(x, SEED, 6),
  'fill_box': lambda x: cutout.fill_box(x, -2, 3, 5, 4),
  'pad_and_crop': lambda x: crop_flip.pad_and_crop(x, SEED, 4, fill=128),
  'flip': lambda x: crop_flip.random_flip(x, (1, 1)),
}
BILINEAR_OPS = {
  'rotate_bilinear': lambda x: geometry.transform(
    x, [0.9, -0.3, 2.5, 0.3, 0.9, -1.2, 0.0, 0.0], interpolation='BILINEAR'
  ),
}
COLOR_OPS = {
  'grayscale': color.grayscale,
  'color_jitter': lambda x: color.color_jitter(x, SEED, 0.5),
  'color_distort': lambda x: color.color_distort(x, SEED, 0.5, 1.0, 0.0),
  'gaussian_blur': lambda x: color.gaussian_blur(x, 1.3, 3),
  'random_blur': lambda x: color.random_blur(x, SEED, 40, prob=1.0),
}
COLOR_BOUND = {'float16': 0.8, 'bfloat16': 2.5, 'float32': 0.5, 'float64': 0.5}
ALL_OPS = {**LEVEL_OPS, **GENERIC_OPS, **BILINEAR_OPS, **COLOR_OPS}


def _bound(name, dtype):
  if name in COLOR_OPS:
    return COLOR_BOUND[dtype] + 1e-3
  if name in BILINEAR_OPS:
    return 1.0 + 4 * STORAGE[dtype]
  return STORAGE[dtype]


def _levels(channels, size=16, seed=0):
  """uint8 [size, size + 3, C] with every level 0..255 present."""
  rng = np.random.default_rng(seed + channels)
  x = rng.integers(0, 256, (size, size + 3, channels)).astype(np.uint8)
  x.reshape(-1)[:256] = np.arange(256)
  return x


def _as_float(levels, dtype):
  return tf.cast(tf.constant(levels, tf.float64) / 255.0, dtype)


def _in_levels(out):
  return tf.cast(out, tf.float64).numpy() * 255.0


class ImageDtypeTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(*FLOATS)
  def test_every_level_round_trips(self, dtype):
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    as_float = image_dtype.from_levels(levels, dtype)
    self.assertEqual(as_float.dtype, tf.as_dtype(dtype))
    self.assertAllClose(
      _in_levels(as_float), levels, atol=STORAGE[dtype], rtol=0
    )
    self.assertAllEqual(image_dtype.to_levels(as_float), levels)

  def test_rounds_to_the_nearest_level_and_clips(self):
    x = tf.constant([-0.3, 0.0, 0.4 / 255, 0.6 / 255, 127.4 / 255, 1.0, 1.7])
    self.assertAllEqual(image_dtype.to_levels(x), [0, 0, 0, 1, 127, 255, 255])

  def test_fill_value_is_a_level_on_every_dtype(self):
    self.assertEqual(image_dtype.fill_value(128, tf.uint8).numpy(), 128)
    for dtype in FLOATS:
      fill = image_dtype.fill_value(128, dtype)
      self.assertEqual(fill.dtype, tf.as_dtype(dtype))
      self.assertNear(float(fill) * 255.0, 128.0, STORAGE[dtype])

  def test_other_dtypes_are_rejected(self):
    with self.assertRaisesRegex(TypeError, 'uint8 images .* or float'):
      ops.invert(np.zeros((2, 2, 1), np.int32))
    with self.assertRaisesRegex(TypeError, 'int16'):
      geometry.rotate(np.zeros((2, 2, 1), np.int16), 3.0)


class FloatMatchesUint8Test(tf.test.TestCase, parameterized.TestCase):
  @parameterized.product(dtype=FLOATS, channels=[1, 3])
  def test_every_op_eager(self, dtype, channels):
    levels = _levels(channels)
    image = _as_float(levels, dtype)
    for name, fn in ALL_OPS.items():
      expected = fn(levels)
      self.assertEqual(expected.dtype, tf.uint8, name)
      out = fn(image)
      self.assertEqual(out.dtype, tf.as_dtype(dtype), name)
      self.assertEqual(out.shape, levels.shape, name)
      values = tf.cast(out, tf.float64).numpy()
      self.assertBetween(values.min(), 0.0, 1.0, name)
      self.assertBetween(values.max(), 0.0, 1.0, name)
      diff = np.abs(_in_levels(out) - expected.numpy())
      self.assertLessEqual(diff.max(), _bound(name, dtype), name)

  @parameterized.parameters(*range(len(FLOATS)))
  def test_every_op_inside_tf_data(self, index):
    """Same result in tf.data as eagerly, dtype kept.

    Every op runs in tf.data with one float dtype (ops rotate over the
    dtypes, which keeps tracing time down; the conversion code is shared),
    RandAugment and AutoAugment with all four.
    """
    dtype = FLOATS[index]
    names = sorted(ALL_OPS)[index :: len(FLOATS)]
    names = sorted(set(names) | {'randaugment', 'autoaugment'})
    levels = np.stack([_levels(3, seed=s) for s in range(2)])
    images = _as_float(levels, dtype)
    ds = tf.data.Dataset.from_tensor_slices(images).map(
      lambda x: {name: ALL_OPS[name](x) for name in names}
    )
    for image, outs in zip(images, ds.as_numpy_iterator()):
      for name in names:
        self.assertEqual(tf.as_dtype(outs[name].dtype), dtype, name)
        self.assertAllEqual(outs[name], ALL_OPS[name](image), msg=name)

  @parameterized.parameters('bfloat16', 'float32')
  def test_policies_over_many_seeds(self, dtype):
    """RandAugment and AutoAugment: float == uint8 for many op choices."""
    levels = _levels(3)
    image = _as_float(levels, dtype)
    policies = {
      'randaugment': lambda x, s: randaugment.randaugment(x, s, prob=1.0),
      'autoaugment': autoaugment.autoaugment,
    }
    for name, fn in policies.items():
      for i in range(16):
        out = fn(image, (i, 5))
        self.assertEqual(out.dtype, tf.as_dtype(dtype))
        diff = np.abs(_in_levels(out) - fn(levels, (i, 5)).numpy())
        self.assertLessEqual(diff.max(), STORAGE[dtype], name)

  def test_level_ops_round_off_grid_floats_to_the_nearest_level(self):
    levels = _levels(3)
    rng = np.random.default_rng(1)
    jitter = rng.uniform(-0.45, 0.45, levels.shape)
    off_grid = np.clip((levels + jitter) / 255.0, 0.0, 1.0).astype(np.float32)
    for name, fn in LEVEL_OPS.items():
      diff = np.abs(_in_levels(fn(off_grid)) - fn(levels).numpy())
      self.assertLessEqual(diff.max(), STORAGE['float32'], name)

  def test_generic_ops_keep_off_grid_values(self):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 1.0, (8, 9, 3))
    out = geometry.translate_x(x, 2.0).numpy()
    self.assertAllEqual(out[:, 2:], x[:, :-2])
    self.assertAllClose(out[:, :2], np.full((8, 2, 3), 128 / 255.0))
    self.assertAllEqual(crop_flip.pad_and_crop(x, SEED, 0), x)
    boxed = cutout.fill_box(x, 0, 0, 2, 2, fill=255).numpy()
    self.assertAllEqual(boxed[:2, :2], np.ones((2, 2, 3)))
    self.assertAllEqual(boxed[2:], x[2:])


class SimclrViewDtypeTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(*FLOATS)
  def test_view_of_float_matches_view_of_uint8(self, dtype):
    levels = _levels(3, size=40)
    view = lambda x: simclr.simclr_view(  # noqa: E731
      x, SEED, out_size=(24, 24), blur=True
    )
    expected = view(levels)
    self.assertEqual(expected.dtype, tf.float32)  # What views.py feeds on.
    out = view(_as_float(levels, dtype))
    self.assertEqual(out.dtype, tf.as_dtype(dtype))
    values = tf.cast(out, tf.float64).numpy()
    self.assertBetween(values.min(), 0.0, 1.0)
    self.assertBetween(values.max(), 0.0, 1.0)
    bound = {'float16': 1.0, 'bfloat16': 3.0}.get(dtype, 0.01)
    diff = np.abs(_in_levels(out) - _in_levels(expected))
    self.assertLessEqual(diff.max(), bound)


if __name__ == '__main__':
  tf.test.main()
