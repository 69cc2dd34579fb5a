"""Cutout: a square of constant value at a random center, clipped at borders.

uint8 or float images (see `image_dtype`): the box is written in the input
dtype and `fill` is a level (0..255), i.e. 128 / 255 on float images.
"""

import tensorflow as tf

from ieg_tf.augment import image_dtype
from ieg_tf.augment import seeds


def fill_box(image, top, left, height, width, fill=128) -> tf.Tensor:
  """Sets the rows [top, top+height) x cols [left, left+width) to `fill`.

  The box may stick out of the image on any side (negative `top`, ...); only
  its part inside the image is filled.

  Args:
    image: uint8 or float [H, W, C].
    top, left: int32 scalars, the box's upper-left corner.
    height, width: int32 scalars, the box's size.
    fill: level (0..255) written into the box (all channels).

  Returns:
    Same shape and dtype as `image`.
  """
  image = tf.convert_to_tensor(image)
  shape = tf.shape(image)
  rows = tf.range(shape[0])[:, None]
  cols = tf.range(shape[1])[None, :]
  inside = (
    (rows >= top)
    & (rows < top + height)
    & (cols >= left)
    & (cols < left + width)
  )
  fill = image_dtype.fill_value(fill, image.dtype)
  return tf.where(inside[:, :, None], fill, image)


def cutout(image, seed, size, fill=128) -> tf.Tensor:
  """Fills a `size` x `size` square centered at a uniform random pixel.

  As the reference: the center is uniform over all H x W pixels and the
  square [c - size//2, c - size//2 + size) is clipped at the borders, so
  near an edge less than size^2 pixels change.

  Args:
    image: uint8 or float [H, W, C].
    seed: int32/int64 [2].
    size: side of the square (python int or int32 scalar), >= 0.
    fill: level; 128 (mid-gray, IEG's CIFAR strong view: 0 in [-1, 1]) by
      default.

  Returns:
    Same shape and dtype as `image`. Runs per image (eager, tf.function or
    tf.data).
  """
  image = tf.convert_to_tensor(image)
  shape = tf.shape(image)
  seed_y, seed_x = seeds.split(seed, 2)
  center_y = seeds.randint(seed_y, 0, shape[0])
  center_x = seeds.randint(seed_x, 0, shape[1])
  half = size // 2
  out = fill_box(image, center_y - half, center_x - half, size, size, fill)
  out.set_shape(image.shape)
  return out
