"""MixUp with per-example coefficients, and its stateless random draws.

Everything runs in the replica context inside the (XLA-compiled) train step:
static shapes, randomness only from `tf.random.stateless_*` with an explicit
int32/int64 seed of shape [2]. `tf.random.stateless_gamma` has no XLA kernel,
so the true Beta draw uses the Marsaglia-Tsang sampler written here with a
fixed number of rounds.
"""

import numpy as np
import tensorflow as tf

from ieg_tf.errors import UserError

MIX_MODES = ('ieg', 'beta')

# Marsaglia-Tsang accepts a candidate with probability > 0.95 for shape >= 1,
# so all 12 rounds fail with probability < 0.05^12 (about 2e-16 per draw).
_GAMMA_ROUNDS = 12
# Uniforms one Gamma draw consumes: 2 per normal (Box-Muller), 1 per
# acceptance test, 1 for the alpha < 1 boost.
_UNIFORMS_PER_GAMMA = 3 * _GAMMA_ROUNDS + 1


def _log_gamma_from_uniforms(uniforms: tf.Tensor, alpha: float) -> tf.Tensor:
  """Log of Gamma(alpha, 1) draws (Marsaglia-Tsang) from U[0, 1) inputs.

  All randomness comes from ONE uniform tensor: each extra stateless RNG op or
  seed split adds about a second of XLA compile time on CPU. Works in log
  space so the tiny draws of alpha < 1 do not underflow.

  Args:
    uniforms: float [3 * 12 + 1, n] independent U[0, 1) draws.
    alpha: shape parameter > 0.

  Returns:
    float [n] log-Gamma samples, uniforms' dtype.
  """
  dtype = uniforms.dtype
  tiny = np.finfo(dtype.as_numpy_dtype).tiny
  rounds = _GAMMA_ROUNDS
  # Box-Muller; 1 - u lies in (0, 1], so the log is finite.
  radius = tf.sqrt(-2.0 * tf.math.log(1.0 - uniforms[:rounds]))
  x = radius * tf.cos(2.0 * np.pi * uniforms[rounds : 2 * rounds])
  accept_u = uniforms[2 * rounds : 3 * rounds]
  # Gamma(a) = Gamma(a + 1) * U^(1/a) for a < 1 (the "boost"), since the
  # rejection step needs a shape >= 1.
  shape = alpha + 1.0 if alpha < 1.0 else alpha
  d = shape - 1.0 / 3.0
  c = 1.0 / np.sqrt(9.0 * d)
  t = 1.0 + c * x
  v = t * t * t
  log_v = tf.math.log(tf.maximum(v, tiny))
  accept = tf.logical_and(
    v > 0.0,
    tf.math.log(tf.maximum(accept_u, tiny))
    < 0.5 * x * x + d - d * v + d * log_v,
  )
  # Keep the FIRST accepted round: fold from the last round to the first.
  # If none accepts (negligible), log v = 0, i.e. v = 1, the sampler's centre.
  chosen = tf.zeros_like(log_v[0])
  for r in reversed(range(rounds)):
    chosen = tf.where(accept[r], log_v[r], chosen)
  log_g = np.log(d) + chosen
  if alpha < 1.0:
    log_g += tf.math.log(tf.maximum(uniforms[3 * rounds], tiny)) / alpha
  return log_g


def _log_gamma_sample(seed, n: int, alpha: float, dtype) -> tf.Tensor:
  """n log-Gamma(alpha) draws from a stateless seed (for tests and reuse).

  Args:
    seed: int [2] stateless seed.
    n: number of draws.
    alpha: shape parameter > 0.
    dtype: float dtype.

  Returns:
    dtype [n] log-Gamma samples.
  """
  uniforms = tf.random.stateless_uniform(
    [_UNIFORMS_PER_GAMMA, n], seed, dtype=dtype
  )
  return _log_gamma_from_uniforms(uniforms, alpha)


def sample_beta(seed, n: int, alpha: float, dtype=tf.float32) -> tf.Tensor:
  """n draws of Beta(alpha, alpha) as G1 / (G1 + G2) of two Gamma draws.

  Args:
    seed: int [2] stateless seed.
    n: number of draws.
    alpha: both Beta parameters, > 0.
    dtype: float dtype of the result.

  Returns:
    dtype [n] samples in [0, 1].
  """
  uniforms = tf.random.stateless_uniform(
    [2, _UNIFORMS_PER_GAMMA, n], seed, dtype=dtype
  )
  log_g1 = _log_gamma_from_uniforms(uniforms[0], alpha)
  log_g2 = _log_gamma_from_uniforms(uniforms[1], alpha)
  # G1 / (G1 + G2) = sigmoid(log G1 - log G2), exact without underflow.
  return tf.sigmoid(log_g1 - log_g2)


def sample_mix_coefficients(
  seed, n: int, mode: str = 'ieg', alpha: float = 0.5, dtype=tf.float32
) -> tf.Tensor:
  """Per-example MixUp coefficients lambda in [0.5, 1].

  Modes:
    'ieg': the reference's approximate Beta: u ~ U(0, 1), m = u^(1/alpha) / 2,
      lambda = max(m, 1 - m). With alpha = 0.5, lambda = 1 - u^2 / 2 and
      E[lambda] = 5/6. It is NOT Beta(alpha, alpha).
    'beta': a true draw lambda ~ Beta(alpha, alpha), then max(lambda,
      1 - lambda) (the usual MixUp; a deliberate deviation, behind a flag).

  Args:
    seed: int [2] stateless seed.
    n: number of coefficients (rows to mix).
    mode: 'ieg' or 'beta'.
    alpha: the Beta parameter (IEG hard-codes 0.5).
    dtype: float dtype of the result.

  Returns:
    dtype [n] coefficients, each the weight of the row's own example.

  Raises:
    UserError: unknown mode.
  """
  if mode == 'ieg':
    u = tf.random.stateless_uniform([n], seed, dtype=dtype)
    lam = tf.pow(u, 1.0 / alpha) / 2.0
  elif mode == 'beta':
    lam = sample_beta(seed, n, alpha, dtype)
  else:
    raise UserError(
      f'Unknown MixUp mode {mode!r}; use one of {", ".join(MIX_MODES)}.'
    )
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
  mode: str = 'ieg',
  alpha: float = 0.5,
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
    mode: lambda distribution, see `sample_mix_coefficients`.
    alpha: its Beta parameter.

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
  lam = sample_mix_coefficients(seeds[1], 3 * batch, mode, alpha, y.dtype)
  perm = sample_permutation(seeds[2], 3 * batch)
  return mixup(x, y, lam, perm)
