"""SimCLR colour distortion and Gaussian blur on float images in [0, 1].

Dtypes (`image_dtype.on_unit_float`): the ops are defined on continuous
values and compute in float32 [0, 1]. They also take uint8 images (levels,
divided by 255 on entry and rounded back to uint8 on exit, so within half a
level of the float result) and float16/bfloat16/float64 images (cast to
float32 and back); each returns its input's dtype.

Follows SimCLR v2's `data_util` semantics: with probability 0.8 a colour jitter of strength s (brightness factor
U[max(0, 1 - 0.8 s), 1 + 0.8 s], contrast and saturation factors
U[max(0, 1 - 0.8 s), 1 + 0.8 s], hue shift U[-0.2 s, 0.2 s]) in a random
order, each step clipped to [0, 1]; then with probability 0.2 grayscale
(kept as C channels). For C = 1 images only brightness and contrast apply.

Blur deviation: SimCLR blurred a whole batch with one sigma inside the model
(zero-padded borders); here every image draws its own sigma ~ U[0.1, 2.0]
(kernel radius (size // 10) // 2) and is blurred with probability 0.5 in
tf.data, with reflected borders.
All functions run per image (eager, tf.function or tf.data).
"""

import tensorflow as tf

from ieg_tf.augment import image_dtype
from ieg_tf.augment import seeds


@image_dtype.on_unit_float
def grayscale(image) -> tf.Tensor:
  """Luma, repeated over the channels ([H, W, C] -> same shape and dtype)."""
  if image.shape[-1] == 1:
    return image
  return tf.tile(tf.image.rgb_to_grayscale(image), [1, 1, image.shape[-1]])


def _jitter_steps(strength, channels):
  """[(fn(image, seed))] for the colour jitter of one strength."""
  amount = 0.8 * strength

  def bright(x, seed):
    factor = seeds.uniform(seed, max(0.0, 1.0 - amount), 1.0 + amount)
    return x * factor

  def contrast(x, seed):
    factor = seeds.uniform(seed, max(0.0, 1.0 - amount), 1.0 + amount)
    return tf.image.adjust_contrast(x, factor)

  def saturation(x, seed):
    factor = seeds.uniform(seed, max(0.0, 1.0 - amount), 1.0 + amount)
    return tf.image.adjust_saturation(x, factor)

  def hue(x, seed):
    return tf.image.adjust_hue(
      x, seeds.uniform(seed, -0.2 * strength, 0.2 * strength)
    )

  if channels == 1:
    return [bright, contrast]
  return [bright, contrast, saturation, hue]


@image_dtype.on_unit_float
def color_jitter(image, seed, strength: float) -> tf.Tensor:
  """Brightness, contrast, saturation, hue jitter in a random order.

  Args:
    image: float [H, W, C] in [0, 1] or uint8, C = 1 or 3 (static).
    seed: int32/int64 [2].
    strength: colour strength s (python float >= 0); 0 is the identity.

  Returns:
    Same shape and dtype as `image`, in [0, 1] for floats.
  """
  steps = _jitter_steps(strength, image.shape[-1])
  order_seed, *step_seeds = seeds.split(seed, 1 + len(steps))
  order = tf.argsort(tf.random.stateless_uniform([len(steps)], order_seed))
  for position, step_seed in enumerate(step_seeds):
    branches = [(lambda fn=fn, x=image, s=step_seed: fn(x, s)) for fn in steps]
    image = tf.clip_by_value(
      tf.switch_case(order[position], branches), 0.0, 1.0
    )
  return image


@image_dtype.on_unit_float
def color_distort(
  image, seed, strength: float, jitter_prob=0.8, gray_prob=0.2
) -> tf.Tensor:
  """Random colour jitter (p = 0.8) then random grayscale (p = 0.2).

  Args:
    image: float [H, W, C] in [0, 1] or uint8, C = 1 or 3 (static).
    seed: int32/int64 [2].
    strength: colour strength s (SimCLR CIFAR recipe: 0.5, ImageNet: 1.0).
    jitter_prob: probability of the colour jitter.
    gray_prob: probability of the grayscale conversion.

  Returns:
    Same shape and dtype as `image`, in [0, 1] for floats.
  """
  jitter_coin, jitter_seed, gray_coin = seeds.split(seed, 3)
  image = tf.cond(
    seeds.coin(jitter_coin, jitter_prob),
    lambda: color_jitter(image, jitter_seed, strength),
    lambda: image,
  )
  return tf.cond(
    seeds.coin(gray_coin, gray_prob), lambda: grayscale(image), lambda: image
  )


def gaussian_kernel(sigma, radius: int) -> tf.Tensor:
  """Normalized 1-D Gaussian float32 [2 * radius + 1]."""
  x = tf.cast(tf.range(-radius, radius + 1), tf.float32)
  weights = tf.exp(
    -tf.square(x) / (2.0 * tf.square(tf.cast(sigma, tf.float32)))
  )
  return weights / tf.reduce_sum(weights)


def _reflected_band(size, kernel, radius: int) -> tf.Tensor:
  """float32 [size, size] M with (M v)[i] = sum_t kernel[t] v[reflect(i+t)].

  Reflection without repeating the edge (numpy 'reflect'); needs
  radius < size.
  """
  out_index = tf.range(size)[:, None]
  src = out_index + tf.range(-radius, radius + 1)[None, :]
  src = tf.abs(src)
  src = tf.where(src > size - 1, 2 * (size - 1) - src, src)
  rows = tf.broadcast_to(out_index, tf.shape(src))
  indices = tf.reshape(tf.stack([rows, src], -1), [-1, 2])
  weights = tf.reshape(tf.broadcast_to(kernel[None, :], tf.shape(src)), [-1])
  # scatter_nd sums duplicates, as reflected taps may hit the same pixel.
  return tf.scatter_nd(indices, weights, [size, size])


@image_dtype.on_unit_float
def gaussian_blur(image, sigma, radius: int) -> tf.Tensor:
  """Separable Gaussian blur with reflected borders.

  Computed as M_h @ image @ M_w^T with banded matrices: on CPU this is
  several times faster than a depthwise convolution with a long kernel.

  Args:
    image: float [H, W, C] in [0, 1] or uint8; H and W > radius.
    sigma: float scalar > 0.
    radius: kernel radius (python int); 0 is the identity.

  Returns:
    Same shape and dtype as `image`.
  """
  if radius <= 0:
    return image
  kernel = gaussian_kernel(sigma, radius)
  shape = tf.shape(image)
  rows = _reflected_band(shape[0], kernel, radius)
  cols = _reflected_band(shape[1], kernel, radius)
  out = tf.einsum('ih,hwc,jw->ijc', rows, image, cols)
  out.set_shape(image.shape)
  return out


@image_dtype.on_unit_float
def random_blur(image, seed, size: int, prob=0.5) -> tf.Tensor:
  """With probability `prob`, blurs with sigma ~ U[0.1, 2.0].

  Args:
    image: float [H, W, C] in [0, 1] or uint8.
    seed: int32/int64 [2].
    size: image side that sets the kernel radius (size // 10) // 2.
    prob: probability of blurring.

  Returns:
    Same shape and dtype as `image`, in [0, 1] for floats.
  """
  coin_seed, sigma_seed = seeds.split(seed, 2)
  radius = (size // 10) // 2
  sigma = seeds.uniform(sigma_seed, 0.1, 2.0)
  return tf.cond(
    seeds.coin(coin_seed, prob),
    lambda: tf.clip_by_value(gaussian_blur(image, sigma, radius), 0.0, 1.0),
    lambda: image,
  )
