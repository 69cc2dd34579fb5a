"""One SimCLR view: random resized crop, flip, colour distortion, blur.

Crop: `stateless_sample_distorted_bounding_box` over the whole image with
area fraction in `scale`, aspect ratio in [3/4, 4/3], 100 attempts and the
whole image as fallback, then a bilinear resize to the output size.
(SimCLR set min_object_covered = 0.1, which silently raised the lower area
bound above 0.08; here the coverage bound equals `scale[0]`.)

Dtypes: the input is uint8 (levels) or float in [0, 1] (`image_dtype`). A
view is continuous by nature (bilinear resize, colour jitter), so a uint8
input gives a float32 view in [0, 1] (what `views.simclr_views` expects) and
a float input gives a view of the same float dtype in [0, 1].
"""

import tensorflow as tf

from ieg_tf.augment import color
from ieg_tf.augment import crop_flip
from ieg_tf.augment import image_dtype
from ieg_tf.augment import seeds


def random_resized_crop(
  image, seed, out_size, *, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)
) -> tf.Tensor:
  """Random area/aspect crop resized to `out_size`.

  Args:
    image: uint8 or float [H, W, C].
    seed: int32/int64 [2].
    out_size: (height, width) python ints.
    scale: range of the crop area as a fraction of the image area.
    ratio: range of the crop aspect ratio (width / height).

  Returns:
    [out_h, out_w, C] in [0, 1]: float32 for uint8 input, else the input's
    dtype. Runs per image.
  """
  image = tf.convert_to_tensor(image)
  dtype = image_dtype.check(image.dtype)
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
    tf.shape(image),
    bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
    seed=seed,
    min_object_covered=scale[0],
    aspect_ratio_range=ratio,
    area_range=scale,
    max_attempts=100,
    use_image_if_no_bounding_boxes=True,
  )
  # Crop before converting: the conversion then touches fewer pixels.
  crop = tf.cast(tf.slice(image, begin, size), tf.float32)
  if dtype == tf.uint8:
    crop /= image_dtype.MAX_LEVEL
  out = tf.clip_by_value(tf.image.resize(crop, out_size), 0.0, 1.0)
  if dtype != tf.uint8:
    out = tf.cast(out, dtype)
  out.set_shape([out_size[0], out_size[1], image.shape[-1]])
  return out


def simclr_view(
  image, seed, *, out_size, strength=0.5, blur=False, crop_scale=(0.08, 1.0)
) -> tf.Tensor:
  """One contrastive view of `image`.

  Args:
    image: uint8 or float [H, W, C], C = 1 or 3 (static).
    seed: int32/int64 [2].
    out_size: (height, width) python ints.
    strength: colour distortion strength s.
    blur: python bool, random Gaussian blur (p = 0.5) on or off.
    crop_scale: area range of the random resized crop (CIFAR: (0.2, 1)).

  Returns:
    [out_h, out_w, C] in [0, 1]: float32 for uint8 input, else the input's
    dtype. Runs per image (tf.data).
  """
  crop_seed, flip_seed, color_seed, blur_seed = seeds.split(seed, 4)
  x = random_resized_crop(image, crop_seed, out_size, scale=crop_scale)
  x = crop_flip.random_flip(x, flip_seed)
  x = color.color_distort(x, color_seed, strength)
  if blur:
    x = color.random_blur(x, blur_seed, min(out_size))
  return x
