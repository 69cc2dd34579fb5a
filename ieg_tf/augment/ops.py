"""Primitive pixel ops on uint8 or float images of any size (C = 1 or 3).

Pure functions: an image [H, W, C] and plain magnitudes in, an image of the
same dtype out, no randomness. They follow the PIL operations the reference
applied (the IEG authors' augmentation code), with the rounding
stated per op. Runs per image in any context (eager, tf.function, tf.data).

Dtypes (`image_dtype`): uint8 images hold levels 0..255; float images
(float16/bfloat16/float32/float64) hold levels / 255, in [0, 1]. Every op
returns its input's dtype. The ops are defined on levels: a float image is
rounded to the nearest level on entry (`image_dtype.on_levels`) and the
result divided by 255, so `op(x / 255) * 255 == op(x)` for uint8 x, up to
the float dtype's representation of k / 255. Magnitudes (solarize threshold,
posterize bits) are in levels / bits whatever the dtype. The docstrings
below state shapes and values for uint8; read "levels / 255" for floats.

Blend rule (Color, Contrast, Brightness, Sharpness, as PIL's ImageEnhance):
`out = round(d + factor * (x - d))` clipped to [0, 255], where `d` is the op's
"degenerate" image; factor 1 is the identity, 0 gives `d`, > 1 extrapolates.
`round` is round-half-to-even.
"""

import tensorflow as tf

from ieg_tf.augment import image_dtype

# Integer luma weights (ITU-R 601-2, as PIL's 'L' conversion), in 1/1000.
_LUMA = (299, 587, 114)


def identity(image) -> tf.Tensor:
  """Returns `image` unchanged (any dtype, no level rounding)."""
  return tf.identity(image)


@image_dtype.on_levels
def invert(image) -> tf.Tensor:
  """255 - x (uint8 [H, W, C])."""
  return 255 - image


@image_dtype.on_levels
def solarize(image, threshold) -> tf.Tensor:
  """Inverts pixels >= `threshold`: x < t ? x : 255 - x.

  Args:
    image: uint8 [H, W, C].
    threshold: int scalar in [0, 256]; 256 is the identity, 0 inverts all.

  Returns:
    uint8 [H, W, C].
  """
  x = tf.cast(image, tf.int32)
  out = tf.where(x < tf.cast(threshold, tf.int32), x, 255 - x)
  return tf.cast(out, tf.uint8)


@image_dtype.on_levels
def posterize(image, bits) -> tf.Tensor:
  """Keeps the `bits` most significant bits of every value.

  Args:
    image: uint8 [H, W, C].
    bits: int scalar in [0, 8]; 8 is the identity, 0 gives black.

  Returns:
    uint8 [H, W, C].
  """
  shift = 8 - tf.cast(bits, tf.int32)
  x = tf.cast(image, tf.int32)
  out = tf.bitwise.left_shift(tf.bitwise.right_shift(x, shift), shift)
  return tf.cast(out, tf.uint8)


def luma(image) -> tf.Tensor:
  """Gray level round(0.299 R + 0.587 G + 0.114 B), half up, exact integers.

  Args:
    image: uint8 [H, W, C] (or float, taken as levels); C = 1 is returned
      as is.

  Returns:
    int32 [H, W, 1].
  """
  x = tf.cast(image_dtype.to_levels(image), tf.int32)
  if image.shape[-1] == 1:
    return x
  weighted = tf.reduce_sum(x * tf.constant(_LUMA, tf.int32), -1, keepdims=True)
  return (weighted + 500) // 1000


def blend(degenerate, image, factor) -> tf.Tensor:
  """round(d + factor * (x - d)), clipped to [0, 255] (level helper).

  Args:
    degenerate: int/float/uint8 tensor broadcastable to `image`.
    image: uint8 [H, W, C].
    factor: float scalar.

  Returns:
    uint8 [H, W, C].
  """
  d = tf.cast(degenerate, tf.float32)
  x = tf.cast(image, tf.float32)
  out = d + tf.cast(factor, tf.float32) * (x - d)
  return tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)


@image_dtype.on_levels
def brightness(image, factor) -> tf.Tensor:
  """Blend with black: round(factor * x), clipped (uint8 [H, W, C])."""
  return blend(tf.zeros([], tf.float32), image, factor)


@image_dtype.on_levels
def color(image, factor) -> tf.Tensor:
  """Blend with the image's gray version (saturation); identity for C = 1."""
  return blend(luma(image), image, factor)


@image_dtype.on_levels
def contrast(image, factor) -> tf.Tensor:
  """Blend with a constant image at the mean gray level.

  The mean of the luma over all pixels is rounded half up (as PIL's
  `int(mean + 0.5)`).

  Args:
    image: uint8 [H, W, C].
    factor: float scalar; 1 is the identity, 0 gives a flat gray image.

  Returns:
    uint8 [H, W, C].
  """
  gray = luma(image)
  count = tf.size(gray)
  mean = (2 * tf.reduce_sum(gray) + count) // (2 * count)
  return blend(mean, image, factor)


@image_dtype.on_levels
def smooth(image) -> tf.Tensor:
  """PIL's SMOOTH filter: 3x3 kernel [[1,1,1],[1,5,1],[1,1,1]] / 13, rounded.

  Border pixels (where the kernel does not fit) keep their value.

  Args:
    image: uint8 [H, W, C] with H, W >= 1.

  Returns:
    uint8 [H, W, C].
  """
  x = tf.cast(image, tf.float32)
  # Zero padding only feeds border outputs, which are replaced below; it lets
  # images smaller than the kernel through.
  padded = tf.pad(x, [[1, 1], [1, 1], [0, 0]])
  # 3x3 box sum from shifted slices (much faster on CPU than a depthwise
  # convolution), plus 4 x center = the SMOOTH kernel. Sums of integers are
  # exact in float32; /13 can never hit a .5 tie.
  rows = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
  sums = rows[:-2] + rows[1:-1] + rows[2:] + 4.0 * x
  inner = tf.round(sums / 13.0)
  shape = tf.shape(image)
  row = tf.range(shape[0])[:, None]
  col = tf.range(shape[1])[None, :]
  interior = (row > 0) & (row < shape[0] - 1) & (col > 0) & (col < shape[1] - 1)
  out = tf.where(interior[:, :, None], inner, x)
  return tf.cast(out, tf.uint8)


@image_dtype.on_levels
def sharpness(image, factor) -> tf.Tensor:
  """Blend with the SMOOTH-filtered image (factor > 1 sharpens).

  Args:
    image: uint8 [H, W, C].
    factor: float scalar; 1 is the identity.

  Returns:
    uint8 [H, W, C].
  """
  return blend(smooth(image), image, factor)


@image_dtype.on_levels
def autocontrast(image) -> tf.Tensor:
  """Per channel, stretches [min, max] to [0, 255]: (x - lo) * 255 // (hi - lo).

  Rounds down (as PIL's lookup table). A constant channel is left unchanged.

  Args:
    image: uint8 [H, W, C].

  Returns:
    uint8 [H, W, C].
  """
  x = tf.cast(image, tf.int32)
  lo = tf.reduce_min(x, axis=[0, 1])
  hi = tf.reduce_max(x, axis=[0, 1])
  span = tf.maximum(hi - lo, 1)
  stretched = (x - lo) * 255 // span
  return tf.cast(tf.where(hi > lo, stretched, x), tf.uint8)


@image_dtype.on_levels
def equalize(image) -> tf.Tensor:
  """Per-channel histogram equalization, as PIL's `ImageOps.equalize`.

  With `h` the channel's 256-bin histogram and `last` the count of its last
  non-empty bin: step = (sum(h) - last) // 255; if step is 0 the channel is
  unchanged, else value v maps to min(255, (step // 2 + sum(h[:v])) // step).

  Args:
    image: uint8 [H, W, C].

  Returns:
    uint8 [H, W, C].
  """
  x = tf.cast(image, tf.int32)
  channels = tf.shape(x)[2]
  by_channel = tf.reshape(tf.transpose(x, [2, 0, 1]), [channels, -1])
  offsets = tf.range(channels)[:, None] * 256
  hist = tf.math.bincount(
    by_channel + offsets,
    minlength=256 * channels,
    maxlength=256 * channels,
    dtype=tf.int32,
  )
  hist = tf.reshape(hist, [channels, 256])
  last_bin = 255 - tf.argmax(tf.reverse(hist > 0, [1]), 1, tf.int32)
  last = tf.gather(hist, last_bin, batch_dims=1)
  step = (tf.reduce_sum(hist, 1) - last) // 255
  before = tf.cumsum(hist, 1, exclusive=True)
  lut = tf.minimum(
    (step[:, None] // 2 + before) // tf.maximum(step[:, None], 1), 255
  )
  lut = tf.where(step[:, None] > 0, lut, tf.range(256)[None, :])
  mapped = tf.gather(lut, by_channel, batch_dims=1)
  out = tf.transpose(
    tf.reshape(mapped, [channels, tf.shape(x)[0], tf.shape(x)[1]]), [1, 2, 0]
  )
  return tf.cast(out, tf.uint8)
