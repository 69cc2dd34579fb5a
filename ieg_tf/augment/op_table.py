"""Named augmentation ops driven by a level in [0, PARAMETER_MAX].

Maps a level to each op's magnitude as the reference does for 32x32 images
(the IEG authors' augmentation code, PARAMETER_MAX = 10):

| op | magnitude at level L |
|---|---|
| Rotate | +-3 L degrees (random sign) |
| ShearX/Y | +-0.03 L (random sign) |
| TranslateX/Y | +-L px at 32 px, scaled by size/32 (random sign) |
| Color, Contrast, Brightness, Sharpness | factor 0.18 L + 0.1 (L=5: identity) |
| Solarize | threshold 256 - int(25.6 L) (L=0: identity) |
| Posterize | 4 - int(0.4 L) bits (the reference's quirk: L=0 keeps 4 bits) |
| Cutout | int(2 L) px at 32 px, scaled by size/32, gray (128) |
| Identity, AutoContrast, Equalize, Invert | no magnitude |

Geometric ops fill with gray 128 (the reference's alpha-0 pixels became 0 in
[-1, 1] space). `apply_op` picks one op per image with `tf.switch_case`, so
only the chosen op runs. Runs per image (eager, tf.function or tf.data).

Images are uint8 or float in [0, 1] and come back in their dtype
(`image_dtype`): the table works on levels, so a float image is rounded to
levels once on entry and divided by 255 once on exit; levels, thresholds and
fills mean the same on both dtypes.
"""

import tensorflow as tf

from ieg_tf.augment import cutout as cutout_lib
from ieg_tf.augment import geometry
from ieg_tf.augment import image_dtype
from ieg_tf.augment import ops
from ieg_tf.augment import seeds
from ieg_tf.augment import sizes

PARAMETER_MAX = 10.0


def _scaled(level, max_value):
  """level / PARAMETER_MAX * max_value, in float64 so int() matches python."""
  return tf.cast(level, tf.float64) * (max_value / PARAMETER_MAX)


def _enhance_factor(level):
  return tf.cast(_scaled(level, 1.8) + 0.1, tf.float32)


def _signed(level, max_value, seed):
  return seeds.random_sign(seed, tf.cast(_scaled(level, max_value), tf.float32))


def _size_scale(size):
  return tf.cast(size, tf.float32) / float(sizes.REFERENCE_SIZE)


def _identity(image, level, seed):
  del level, seed
  return ops.identity(image)


def _autocontrast(image, level, seed):
  del level, seed
  return ops.autocontrast(image)


def _equalize(image, level, seed):
  del level, seed
  return ops.equalize(image)


def _invert(image, level, seed):
  del level, seed
  return ops.invert(image)


def _rotate(image, level, seed):
  return geometry.rotate(image, _signed(level, 30.0, seed))


def _shear_x(image, level, seed):
  return geometry.shear_x(image, _signed(level, 0.3, seed))


def _shear_y(image, level, seed):
  return geometry.shear_y(image, _signed(level, 0.3, seed))


def _translate_x(image, level, seed):
  pixels = _signed(level, 10.0, seed) * _size_scale(tf.shape(image)[1])
  return geometry.translate_x(image, pixels)


def _translate_y(image, level, seed):
  pixels = _signed(level, 10.0, seed) * _size_scale(tf.shape(image)[0])
  return geometry.translate_y(image, pixels)


def _solarize(image, level, seed):
  del seed
  threshold = 256 - tf.cast(tf.floor(_scaled(level, 256.0)), tf.int32)
  return ops.solarize(image, threshold)


def _posterize(image, level, seed):
  del seed
  bits = 4 - tf.cast(tf.floor(_scaled(level, 4.0)), tf.int32)
  return ops.posterize(image, bits)


def _color(image, level, seed):
  del seed
  return ops.color(image, _enhance_factor(level))


def _contrast(image, level, seed):
  del seed
  return ops.contrast(image, _enhance_factor(level))


def _brightness(image, level, seed):
  del seed
  return ops.brightness(image, _enhance_factor(level))


def _sharpness(image, level, seed):
  del seed
  return ops.sharpness(image, _enhance_factor(level))


def _cutout(image, level, seed):
  size = tf.floor(
    tf.cast(_scaled(level, 20.0), tf.float32) * _size_scale(tf.shape(image)[0])
  )
  return cutout_lib.cutout(image, seed, tf.cast(size, tf.int32))


OPS = {
  'Identity': _identity,
  'AutoContrast': _autocontrast,
  'Equalize': _equalize,
  'Rotate': _rotate,
  'Solarize': _solarize,
  'Color': _color,
  'Contrast': _contrast,
  'Brightness': _brightness,
  'Sharpness': _sharpness,
  'ShearX': _shear_x,
  'ShearY': _shear_y,
  'TranslateX': _translate_x,
  'TranslateY': _translate_y,
  'Posterize': _posterize,
  'Invert': _invert,
  'Cutout': _cutout,
}


def apply_named(name: str, image, level, seed) -> tf.Tensor:
  """Applies the op `name` at `level`.

  Args:
    name: a key of `OPS`.
    image: uint8 or float [H, W, C].
    level: float/int scalar in [0, PARAMETER_MAX].
    seed: int32/int64 [2] for the random sign or cutout position.

  Returns:
    Same shape and dtype as `image`.
  """
  level = tf.cast(level, tf.float32)
  return image_dtype.run_on_levels(lambda x: OPS[name](x, level, seed), image)


def apply_op(names, index, image, level, seed, enabled=None) -> tf.Tensor:
  """Applies `names[index]` at `level`, choosing the op at run time.

  Args:
    names: tuple of keys of `OPS` (python, fixed at trace time).
    index: int32 scalar in [0, len(names)).
    image: uint8 or float [H, W, C].
    level: float/int scalar in [0, PARAMETER_MAX].
    seed: int32/int64 [2].
    enabled: optional bool scalar; False returns `image` unchanged. Folded
      into the same `switch_case` (an extra identity branch) rather than a
      `tf.cond` around it, to keep one control-flow op per op choice.

  Returns:
    Same dtype and static shape as `image`.
  """
  level = tf.cast(level, tf.float32)
  index = tf.cast(index, tf.int32)

  def on_levels(image):
    branches = [(lambda fn=OPS[n]: fn(image, level, seed)) for n in names]
    choice = index
    if enabled is not None:
      branches.append(lambda: tf.identity(image))
      choice = tf.where(enabled, index, len(names))
    out = tf.switch_case(choice, branches)
    out.set_shape(image.shape)
    return out

  return image_dtype.run_on_levels(on_levels, image)
