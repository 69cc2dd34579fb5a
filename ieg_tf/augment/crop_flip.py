"""Pad-and-random-crop and random horizontal flip (the IEG weak geometry).

Both run in the input dtype: uint8 or float images (see `image_dtype`); the
padding `fill` is a level (0..255), scaled to the dtype.
"""

import tensorflow as tf

from ieg_tf.augment import image_dtype
from ieg_tf.augment import seeds


def pad_and_crop(image, seed, pad, fill=0) -> tf.Tensor:
  """Pads `pad` px per side with `fill`, then crops back to the input size.

  The crop offset is uniform over the (2*pad + 1)^2 positions, i.e. a random
  translation by [-pad, pad] px in each direction (IEG's
  `resize_image_with_crop_or_pad` + `random_crop`, and `zero_pad_and_crop`).

  Args:
    image: uint8 or float [H, W, C].
    seed: int32/int64 [2].
    pad: pixels per side (python int or int32 scalar), >= 0.
    fill: level of the padding (0 = black; 128 = mid-gray, the reference's
      0 in [-1, 1] space).

  Returns:
    Same shape and dtype as `image`. Runs per image (eager, tf.function or
    tf.data).
  """
  image = tf.convert_to_tensor(image)
  shape = tf.shape(image)
  seed_y, seed_x = seeds.split(seed, 2)
  top = seeds.randint(seed_y, 0, 2 * pad + 1)
  left = seeds.randint(seed_x, 0, 2 * pad + 1)
  padded = tf.pad(
    image,
    [[pad, pad], [pad, pad], [0, 0]],
    constant_values=image_dtype.fill_value(fill, image.dtype),
  )
  out = tf.slice(padded, [top, left, 0], shape)
  out.set_shape(image.shape)
  return out


def random_flip(image, seed) -> tf.Tensor:
  """Mirrors left-right with probability 1/2.

  Args:
    image: [H, W, C] of any dtype.
    seed: int32/int64 [2].

  Returns:
    Same shape and dtype as `image`.
  """
  image = tf.convert_to_tensor(image)
  return tf.cond(
    seeds.coin(seed, 0.5), lambda: tf.reverse(image, [1]), lambda: image
  )
