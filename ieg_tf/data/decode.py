"""Encoded image bytes -> fixed-size uint8 images, inside tf.data (host).

Two ways to reach the split's `image_shape` (H, W):
  resize (default): bilinear, antialiased resize to H x W; the aspect ratio
    changes when the file's differs (right for tiny, already-square data).
  center_crop: resize so the image covers H x W with its aspect ratio kept
    (the short side fits), then cut the central H x W window. Used for web
    photos (WebVision, Clothing1M, Food-101N), whose aspect ratios vary.
Files of the target size are passed through unchanged either way.
"""

import tensorflow as tf


def decode_image(
  data: tf.Tensor, image_shape: tuple[int, int, int], center_crop: bool
) -> tf.Tensor:
  """Decodes one JPEG/PNG/GIF/BMP/WebP to uint8 [H, W, C] (tf.data, host).

  Args:
    data: tf.string [] encoded bytes (check them with
      `image_check.looks_like_image` first; this op fails on bad bytes).
    image_shape: (H, W, C) of the result; C is 1 or 3.
    center_crop: keep the aspect ratio and crop (see module docstring).

  Returns:
    uint8 [H, W, C].
  """
  height, width, channels = image_shape
  image = tf.io.decode_image(data, channels=channels, expand_animations=False)
  size = tf.shape(image)[:2]

  def resize():
    if center_crop:
      scale = tf.maximum(
        height / tf.cast(size[0], tf.float32),
        width / tf.cast(size[1], tf.float32),
      )
      # ceil: the resized image must cover the crop window fully.
      new = tf.cast(tf.math.ceil(tf.cast(size, tf.float32) * scale), tf.int32)
      new = tf.maximum(new, [height, width])
      resized = tf.image.resize(image, new, antialias=True)
      top = (new[0] - height) // 2
      left = (new[1] - width) // 2
      resized = resized[top : top + height, left : left + width]
    else:
      resized = tf.image.resize(image, [height, width], antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(resized, 0, 255)), tf.uint8)

  same = tf.reduce_all(tf.equal(size, [height, width]))
  image = tf.cond(same, lambda: image, resize)
  return tf.ensure_shape(image, image_shape)
