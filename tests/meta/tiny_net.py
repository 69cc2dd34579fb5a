"""A tiny functional network and data for the meta tests (not a test file).

forward(params, images) flattens the images, then dense -> batch-norm with
the batch's own statistics (like BatchNorm in training mode) -> tanh ->
dense. Everything is smooth, so finite differences are accurate in float64.
"""

import numpy as np
import tensorflow as tf

from ieg_tf.meta import ieg_math

# Decay kernels only; the batch-norm scale/offset and biases are not decayed.
DECAY_MASK = (True, False, False, False, True, False)


def init_params(
  rng: np.random.Generator,
  dims: int,
  hidden: int,
  classes: int,
  dtype=tf.float64,
) -> list[tf.Tensor]:
  """[w1 [D, H], b1 [H], gamma [H], beta [H], w2 [H, C], b2 [C]]."""
  shapes = [
    (dims, hidden),
    (hidden,),
    (hidden,),
    (hidden,),
    (hidden, classes),
    (classes,),
  ]
  values = [rng.normal(0.0, 0.7, s) for s in shapes]
  values[2] = 1.0 + 0.1 * values[2]
  return [tf.constant(v, dtype) for v in values]


def forward(params, images):
  """Logits float [B, C] of images [B, ...]."""
  w1, b1, gamma, beta, w2, b2 = params
  x = tf.reshape(images, [tf.shape(images)[0], -1])
  a = tf.matmul(x, w1) + b1
  mean = tf.reduce_mean(a, axis=0)
  var = tf.reduce_mean(tf.square(a - mean), axis=0)
  h = tf.tanh(gamma * (a - mean) / tf.sqrt(var + 1e-3) + beta)
  return tf.matmul(h, w2) + b2


def random_batch(
  rng: np.random.Generator,
  batch: int,
  classes: int,
  shape=(2, 2, 1),
  dtype=tf.float64,
):
  """(images dtype [B, *shape], labels int32 [B])."""
  images = tf.constant(rng.normal(size=(batch, *shape)), dtype)
  labels = tf.constant(rng.integers(0, classes, batch), tf.int32)
  return images, labels


def ieg_problem(seed: int, batch: int = 5, classes: int = 3, dtype=tf.float64):
  """(params, slots, weak, strong, labels, probe_images, probe_labels)."""
  rng = np.random.default_rng(seed)
  params = init_params(rng, 4, 6, classes, dtype)
  slots = [tf.constant(rng.normal(0, 0.3, p.shape), dtype) for p in params]
  x, y = random_batch(rng, batch, classes, dtype=dtype)
  xs = x + tf.constant(rng.normal(0.0, 0.5, x.shape), dtype)
  xp, yp = random_batch(rng, 6, classes, dtype=dtype)
  return params, slots, x, xs, y, xp, yp


def ieg_step(params, slots, x, xs, y, xp, yp, **overrides):
  """`ieg_meta_step` on the tiny net with the reference's constants."""
  kwargs = dict(
    view_images=[x, xs],
    labels=y,
    probe_images=xp,
    probe_labels=yp,
    meta_stepsize=0.1,
    meta_momentum=0.9,
    grad_eps_init=0.9,
    temperature=0.5,
    weight_decay=0.01,
    decay_mask=DECAY_MASK,
  )
  kwargs.update(overrides)
  return ieg_math.ieg_meta_step(forward, params, slots, **kwargs)
