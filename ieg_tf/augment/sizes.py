"""Image sizes: static python ints when known, int32 scalars otherwise.

The reference constants (pad 2, pad 4, cutout 16, translate up to 10 px) are
for 32x32 CIFAR images; `scaled_px` maps them to other sizes so that, e.g., a
224x224 image gets a proportionally sized cutout.
"""

import tensorflow as tf

REFERENCE_SIZE = 32


def image_hw(image):
  """(height, width) of [H, W, C]: ints if static, else int32 scalars."""
  shape = image.shape
  dynamic = tf.shape(image)
  h = shape[0] if shape[0] is not None else dynamic[0]
  w = shape[1] if shape[1] is not None else dynamic[1]
  return h, w


def scaled_px(value_at_32: int, size, minimum: int = 1):
  """`value_at_32 * size / 32` rounded half up, and at least `minimum`.

  Integer arithmetic, so the result is exact and the same for a python int
  and a tensor `size`.

  Args:
    value_at_32: the reference constant for a 32-pixel side (python int).
    size: the side length (python int or int32 scalar tensor).
    minimum: lower bound of the result.

  Returns:
    python int when `size` is an int, else int32 scalar tensor.
  """
  num = 2 * value_at_32 * size + REFERENCE_SIZE
  if isinstance(size, int):
    return max(minimum, num // (2 * REFERENCE_SIZE))
  return tf.maximum(minimum, num // (2 * REFERENCE_SIZE))
