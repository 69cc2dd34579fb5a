"""The image dtype convention of every augmentation op: uint8 or float.

uint8 images hold levels 0..255. Float images (float16, bfloat16, float32,
float64) hold the same levels divided by 255, i.e. values in [0, 1]: the
convention of `tf.image.convert_image_dtype`. Every primitive op returns the
dtype it was given: uint8 in -> uint8 out; float in -> the same float dtype
out, in [0, 1]. Magnitudes, thresholds and fill values are always given in
LEVEL units (solarize threshold 128, posterize bits, gray fill 128), so they
mean the same on both dtypes: fill 128 is 128 / 255 = 0.502 on a float image.

How each family of ops handles floats (decided here once, not per op):

* Level ops (`on_levels` / `run_on_levels`): the PIL-semantics pixel ops of
  `ops` and everything built on them (`op_table`, `randaugment`,
  `autoaugment`). A float image is clipped to [0, 1] and rounded to the
  nearest level, round(255 x) (half to even); the uint8 op runs; its result
  is divided by 255 in the input dtype. These ops are 8-bit by definition
  (posterize keeps bits, equalize uses a 256-bin histogram, PIL rounds every
  blend), so float and uint8 inputs give the same levels. Detail finer than
  half a level (< 0.002) in a float input is rounded away, as
  tensorflow/models' AutoAugment does by casting to uint8. A policy converts
  once on entry: its inner ops then see uint8 and convert nothing.
* Dtype-generic ops (identity, flip, pad-and-crop, cutout, the projective
  transforms of `geometry`): run in the input dtype, no rounding; only the
  fill value is scaled (`fill_value`).
* Unit-float ops (`on_unit_float`): SimCLR colour distortion and blur, which
  are defined on continuous values. They run in float32 [0, 1]; a uint8
  image is divided by 255 on entry and rounded back (half to even) on exit,
  other float dtypes are cast.

Precision of float outputs: k / 255 is not exact in a float dtype. The stored
value is within 1e-5 level of k (float32), 0.07 level (float16) or 0.5 level
(bfloat16), and the rounding on entry recovers k exactly for all four.
All functions are trace-time dtype dispatch: for uint8 images they add no op.
"""

import functools

import tensorflow as tf

FLOAT_DTYPES = (tf.float16, tf.bfloat16, tf.float32, tf.float64)
MAX_LEVEL = 255.0


def check(dtype) -> tf.DType:
  """Returns `dtype` if it is uint8 or a float dtype, else raises TypeError."""
  dtype = tf.as_dtype(dtype)
  if dtype != tf.uint8 and dtype not in FLOAT_DTYPES:
    raise TypeError(
      f'Augmentation ops take uint8 images (0..255) or float images in '
      f'[0, 1] (float16/bfloat16/float32/float64), got {dtype.name}.'
    )
  return dtype


def to_levels(image) -> tf.Tensor:
  """uint8 or float [..] image -> uint8 levels (round(255 x), x clipped).

  Args:
    image: uint8 (returned as is) or float in [0, 1] (out-of-range values
      are clipped).

  Returns:
    uint8, same shape.
  """
  image = tf.convert_to_tensor(image)
  if check(image.dtype) == tf.uint8:
    return image
  # float32 is exact enough for every input dtype: 255 x needs ~16 bits.
  x = tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 1.0)
  return tf.cast(tf.round(x * MAX_LEVEL), tf.uint8)


def from_levels(levels, dtype) -> tf.Tensor:
  """uint8 levels -> `dtype`: unchanged for uint8, levels / 255 for floats."""
  dtype = check(dtype)
  if dtype == tf.uint8:
    return tf.convert_to_tensor(levels, tf.uint8)
  wide = tf.float64 if dtype == tf.float64 else tf.float32
  return tf.cast(tf.cast(levels, wide) / MAX_LEVEL, dtype)


def fill_value(fill, dtype) -> tf.Tensor:
  """A fill given in levels (0..255), as a scalar of the image's `dtype`."""
  dtype = check(dtype)
  if dtype == tf.uint8:
    return tf.cast(fill, tf.uint8)
  return tf.cast(tf.cast(fill, tf.float64) / MAX_LEVEL, dtype)


@tf.autograph.experimental.do_not_convert  # See `on_levels`.
def run_on_levels(fn, image) -> tf.Tensor:
  """fn(uint8 levels of `image`), returned in `image`'s dtype.

  Args:
    fn: uint8 [H, W, C] -> uint8 [H, W, C].
    image: uint8, or float in [0, 1].

  Returns:
    fn's result in the dtype of `image`.
  """
  image = tf.convert_to_tensor(image)
  dtype = check(image.dtype)
  if dtype == tf.uint8:
    return fn(image)
  return from_levels(fn(to_levels(image)), dtype)


def on_levels(fn):
  """Decorator: `fn(image, ...)` written for uint8 also takes float images."""

  # The ops are plain TF (tf.cond / switch_case, python branches only on
  # static values), so AutoGraph has nothing to convert; converting the
  # wrapped policies inside tf.data once mis-called a converted helper
  # (`TypeError: tf___tables() takes 1 positional argument but 2 were
  # given`) in a long benchmark process.
  @tf.autograph.experimental.do_not_convert
  @functools.wraps(fn)
  def wrapper(image, *args, **kwargs):
    return run_on_levels(lambda x: fn(x, *args, **kwargs), image)

  return wrapper


def on_unit_float(fn):
  """Decorator: `fn(image, ...)` written for float32 [0, 1] takes any dtype.

  uint8 images are divided by 255 on entry and rounded to levels on exit;
  other float dtypes are cast to float32 and back.
  """

  @tf.autograph.experimental.do_not_convert  # See `on_levels`.
  @functools.wraps(fn)
  def wrapper(image, *args, **kwargs):
    image = tf.convert_to_tensor(image)
    dtype = check(image.dtype)
    if dtype == tf.float32:
      return fn(image, *args, **kwargs)
    if dtype == tf.uint8:
      x = tf.cast(image, tf.float32) / MAX_LEVEL
      return to_levels(fn(x, *args, **kwargs))
    return tf.cast(fn(tf.cast(image, tf.float32), *args, **kwargs), dtype)

  return wrapper
