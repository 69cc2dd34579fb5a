"""Geometric ops through `tf.raw_ops.ImageProjectiveTransformV3` (core TF).

Pure functions: an image [H, W, C] and a magnitude in, an image of the same
dtype out. uint8 (levels 0..255) or float (levels / 255, in [0, 1]) images,
see `image_dtype`: the transform runs in the input dtype (no rounding for
floats), and `fill` is always in levels, scaled to the dtype. Pixels that
come from outside the image get `fill`, by default 128: the reference filled
with alpha 0, which it turned into 0 in [-1, 1] space, i.e. mid-gray (128
on uint8, 128 / 255 on floats). Nearest-neighbour sampling by default, as
the reference's PIL calls, so integer translations move pixels exactly.

A transform [a0, a1, a2, b0, b1, b2, c0, c1] maps each OUTPUT pixel (x, y) to
the INPUT point ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k) with
k = c0 x + c1 y + 1; x is the column, y the row, pixel centers at integers.
"""

import math

import tensorflow as tf

from ieg_tf.augment import image_dtype

FILL = 128


def transform(image, matrix, fill=FILL, interpolation='NEAREST') -> tf.Tensor:
  """Applies one projective transform (output -> input mapping).

  Args:
    image: uint8 or float [H, W, C].
    matrix: float32 [8], see the module docstring.
    fill: level (0..255) for pixels mapped from outside the image.
    interpolation: 'NEAREST' or 'BILINEAR'.

  Returns:
    [H, W, C] of the dtype of `image`. Runs per image (eager, tf.function or
    tf.data).
  """
  image = tf.convert_to_tensor(image)
  fill = image_dtype.fill_value(fill, image.dtype)
  out = tf.raw_ops.ImageProjectiveTransformV3(
    images=image[None],
    transforms=tf.reshape(tf.cast(matrix, tf.float32), [1, 8]),
    output_shape=tf.shape(image)[:2],
    fill_value=tf.cast(fill, tf.float32),
    interpolation=interpolation,
    fill_mode='CONSTANT',
  )[0]
  out.set_shape(image.shape)
  return out


def _matrix(a0, a1, a2, b0, b1, b2):
  values = [a0, a1, a2, b0, b1, b2, 0.0, 0.0]
  return tf.stack([tf.cast(v, tf.float32) for v in values])


def rotate(image, degrees, fill=FILL) -> tf.Tensor:
  """Rotates counter-clockwise (as seen on screen) about the image center.

  Args:
    image: uint8 or float [H, W, C].
    degrees: float scalar; 0 is the identity, 90 equals `np.rot90`.
    fill: value of the uncovered corners.

  Returns:
    Same shape and dtype as `image`.
  """
  shape = tf.cast(tf.shape(image), tf.float32)
  cy, cx = (shape[0] - 1.0) / 2.0, (shape[1] - 1.0) / 2.0
  rad = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
  cos, sin = tf.cos(rad), tf.sin(rad)
  # Output (x, y) samples the input at R(-angle) about the center (y down).
  matrix = _matrix(
    cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy
  )
  return transform(image, matrix, fill)


def shear_x(image, shear, fill=FILL) -> tf.Tensor:
  """Output (x, y) samples input (x + shear * y, y); origin at the top-left.

  Args:
    image: uint8 or float [H, W, C].
    shear: float scalar; 0 is the identity.
    fill: value of the uncovered pixels.

  Returns:
    Same shape and dtype as `image`.
  """
  return transform(image, _matrix(1.0, shear, 0.0, 0.0, 1.0, 0.0), fill)


def shear_y(image, shear, fill=FILL) -> tf.Tensor:
  """Output (x, y) samples input (x, y + shear * x); origin at the top-left.

  Args:
    image: uint8 or float [H, W, C].
    shear: float scalar; 0 is the identity.
    fill: value of the uncovered pixels.

  Returns:
    Same shape and dtype as `image`.
  """
  return transform(image, _matrix(1.0, 0.0, 0.0, shear, 1.0, 0.0), fill)


def translate_x(image, pixels, fill=FILL) -> tf.Tensor:
  """Moves the content `pixels` to the right: out[y, x] = in[y, x - pixels].

  Args:
    image: uint8 or float [H, W, C].
    pixels: float scalar (negative moves left); 0 is the identity.
    fill: value of the uncovered columns.

  Returns:
    Same shape and dtype as `image`.
  """
  neg = -tf.cast(pixels, tf.float32)
  return transform(image, _matrix(1.0, 0.0, neg, 0.0, 1.0, 0.0), fill)


def translate_y(image, pixels, fill=FILL) -> tf.Tensor:
  """Moves the content `pixels` down: out[y, x] = in[y - pixels, x].

  Args:
    image: uint8 or float [H, W, C].
    pixels: float scalar (negative moves up); 0 is the identity.
    fill: value of the uncovered rows.

  Returns:
    Same shape and dtype as `image`.
  """
  neg = -tf.cast(pixels, tf.float32)
  return transform(image, _matrix(1.0, 0.0, 0.0, 0.0, 1.0, neg), fill)
