"""MixUp with per-example coefficients, and its stateless random draws.

Everything runs in the replica context inside the (XLA-compiled) train step:
static shapes, randomness only from `tf.random.stateless_*` with an explicit
int32/int64 seed of shape [2].
"""

import tensorflow as tf

# The reference's hard-coded parameter of its approximate Beta draw.
_IEG_MIXUP_ALPHA = 0.5


def sample_mix_coefficients(seed, n: int, dtype=tf.float32) -> tf.Tensor:
  """Per-example MixUp coefficients lambda in [0.5, 1], as the reference.

  u ~ U(0, 1), m = u^(1/alpha) / 2 with alpha = 0.5, lambda = max(m, 1 - m)
  = 1 - u^2 / 2, so E[lambda] = 5/6. It is NOT Beta(alpha, alpha); a true
  Beta draw was never measured to help and is not offered
  (docs/experiments.md).

  Args:
    seed: int [2] stateless seed.
    n: number of coefficients (rows to mix).
    dtype: float dtype of the result.

  Returns:
    dtype [n] coefficients, each the weight of the row's own example.
  """
  u = tf.random.stateless_uniform([n], seed, dtype=dtype)
  lam = tf.pow(u, 1.0 / _IEG_MIXUP_ALPHA) / 2.0
  return tf.maximum(lam, 1.0 - lam)


def sample_permutation(seed, n: int) -> tf.Tensor:
  """A uniformly random permutation of range(n), stateless.

  Args:
    seed: int [2] stateless seed.
    n: length.

  Returns:
    int32 [n], every index exactly once (ties of the random keys still give a
    permutation because argsort returns distinct indices).
  """
  keys = tf.random.stateless_uniform(
    [n], seed, minval=None, maxval=None, dtype=tf.int32
  )
  return tf.cast(tf.argsort(keys), tf.int32)


def sample_indices(seed, n: int, population: int) -> tf.Tensor:
  """n indices drawn uniformly WITH replacement from range(population).

  Args:
    seed: int [2] stateless seed.
    n: number of draws.
    population: size of the set drawn from.

  Returns:
    int32 [n] indices.
  """
  return tf.random.stateless_uniform(
    [n], seed, minval=0, maxval=population, dtype=tf.int32
  )


def mixup(x: tf.Tensor, y: tf.Tensor, lam: tf.Tensor, perm: tf.Tensor):
  """Mixes every row with its partner row perm[i]: lam x + (1 - lam) x[perm].

  Args:
    x: float [N, ...] inputs (e.g. images [N, H, W, C]).
    y: float [N, K] targets (one-hot or soft).
    lam: float [N] per-row coefficients, broadcast over x's trailing dims.
    perm: int [N] partner indices.

  Returns:
    (x_mixed [N, ...] in x.dtype, y_mixed [N, K] in y.dtype).
  """
  lam_x = tf.reshape(tf.cast(lam, x.dtype), [-1] + [1] * (x.shape.rank - 1))
  lam_y = tf.cast(lam, y.dtype)[:, None]
  x_mixed = lam_x * x + (1.0 - lam_x) * tf.gather(x, perm)
  y_mixed = lam_y * y + (1.0 - lam_y) * tf.gather(y, perm)
  return x_mixed, y_mixed


def probe_noisy_mixup(
  seed,
  probe_images: tf.Tensor,
  probe_labels: tf.Tensor,
  weak_images: tf.Tensor,
  strong_images: tf.Tensor,
  pseudo_labels: tf.Tensor,
):
  """IEG's MixUp batch: probe, weak and strong rows mixed across all 3B rows.

  B probe rows are drawn WITH replacement from the probe batch, stacked as
  X = [x_probe ; x_weak ; x_strong] with targets Y = [onehot(y_probe) ; g ; g]
  (g stop-gradiented), and every row is mixed with a random partner from any
  of the three parts, with its own lambda.

  Args:
    seed: int [2] stateless seed.
    probe_images: float [P, H, W, C] probe batch.
    probe_labels: int [P] clean probe labels.
    weak_images: float [B, H, W, C] weak views of the noisy batch.
    strong_images: float [B, H, W, C] strong views of the same examples.
    pseudo_labels: float [B, K] pseudo-labels g of the noisy batch.

  Returns:
    (images float [3B, H, W, C], targets [3B, K] in pseudo_labels' dtype), in
    the row order [probe | weak | strong] that `ieg_final_loss` expects.
  """
  batch = weak_images.shape[0]
  num_classes = pseudo_labels.shape[-1]
  seeds = tf.random.experimental.stateless_split(seed, 3)
  idx = sample_indices(seeds[0], batch, tf.shape(probe_labels)[0])
  x_probe = tf.cast(tf.gather(probe_images, idx), weak_images.dtype)
  y_probe = tf.one_hot(
    tf.gather(probe_labels, idx), num_classes, dtype=pseudo_labels.dtype
  )
  g = tf.stop_gradient(pseudo_labels)
  x = tf.concat(
    [x_probe, weak_images, tf.cast(strong_images, weak_images.dtype)], axis=0
  )
  y = tf.concat([y_probe, g, g], axis=0)
  lam = sample_mix_coefficients(seeds[1], 3 * batch, y.dtype)
  perm = sample_permutation(seeds[2], 3 * batch)
  return mixup(x, y, lam, perm)
