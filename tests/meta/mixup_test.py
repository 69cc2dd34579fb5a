"""MixUp draws (distribution tests against exact CDFs) and mixing oracles."""

import numpy as np
import scipy.stats
import tensorflow as tf

from ieg_tf.meta import mixup

_SEED = tf.constant([7, 11], tf.int32)
# Kolmogorov-Smirnov p-value floor. The seeds are fixed, so a correct sampler
# passes deterministically; a wrong distribution gives p far below this.
_MIN_P = 1e-3


def _ieg_lambda_cdf(t):
  # lambda = 1 - u^2 / 2  =>  P(lambda <= t) = 1 - sqrt(2 (1 - t)).
  return 1.0 - np.sqrt(np.clip(2.0 * (1.0 - t), 0.0, 1.0))


class MixCoefficientsTest(tf.test.TestCase):
  def test_mean_is_five_sixths(self):
    lam = mixup.sample_mix_coefficients(_SEED, 200_000).numpy()
    # sd(lambda) ~ 0.149, so the standard error is 3.3e-4; 2e-3 is 6 SE.
    self.assertAllClose(lam.mean(), 5.0 / 6.0, atol=2e-3)
    self.assertGreaterEqual(lam.min(), 0.5)
    self.assertLessEqual(lam.max(), 1.0)

  def test_matches_its_exact_cdf(self):
    lam = mixup.sample_mix_coefficients(_SEED, 20_000, dtype=tf.float64)
    self.assertGreater(scipy.stats.kstest(lam, _ieg_lambda_cdf).pvalue, _MIN_P)

  def test_distribution_test_can_fail(self):
    # A true folded Beta(0.5, 0.5) is rejected: the KS check has power.
    x = scipy.stats.beta(0.5, 0.5).rvs(20_000, random_state=0)
    folded = np.maximum(x, 1.0 - x)
    self.assertLess(scipy.stats.kstest(folded, _ieg_lambda_cdf).pvalue, 1e-6)

  def test_stateless_and_xla(self):
    # XLA implements the stateless RNG with its own bit stream, so compiled
    # draws differ from eager ones; each is a pure function of the seed and
    # has the right distribution.
    fn = tf.function(
      lambda s: mixup.sample_mix_coefficients(s, 20_000, tf.float64),
      jit_compile=True,
    )
    compiled = fn(_SEED).numpy()
    self.assertAllEqual(compiled, fn(_SEED))
    self.assertNotAllClose(compiled, fn(tf.constant([7, 12])))
    self.assertGreater(
      scipy.stats.kstest(compiled, _ieg_lambda_cdf).pvalue, _MIN_P
    )
    eager = mixup.sample_mix_coefficients(_SEED, 64)
    self.assertAllEqual(eager, mixup.sample_mix_coefficients(_SEED, 64))
    other = mixup.sample_mix_coefficients(tf.constant([7, 12]), 64)
    self.assertNotAllClose(eager, other)


class PermutationTest(tf.test.TestCase):
  def test_is_a_permutation(self):
    for n in (1, 2, 7, 300):
      perm = mixup.sample_permutation(_SEED, n).numpy()
      self.assertEqual(perm.dtype, np.int32)
      self.assertAllEqual(np.sort(perm), np.arange(n))

  def test_uniform_over_positions(self):
    n, draws = 4, 2000
    seeds = tf.stack([tf.range(draws), tf.fill([draws], 3)], axis=1)
    perms = tf.function(
      lambda s: tf.map_fn(
        lambda x: mixup.sample_permutation(x, n),
        s,
        fn_output_signature=tf.int32,
      )
    )(seeds).numpy()
    counts = np.zeros((n, n))
    for perm in perms:
      counts[np.arange(n), perm] += 1
    # Every element lands in every position with probability 1/n.
    chi2 = ((counts - draws / n) ** 2 / (draws / n)).sum()
    # 9 degrees of freedom per independent part; 60 is far in the tail.
    self.assertLess(chi2, 60.0)

  def test_sample_indices_draws_with_replacement(self):
    idx = mixup.sample_indices(_SEED, 10_000, 7).numpy()
    self.assertGreaterEqual(idx.min(), 0)
    self.assertLess(idx.max(), 7)
    counts = np.bincount(idx, minlength=7)
    self.assertLess(scipy.stats.chisquare(counts).statistic, 30.0)
    small = mixup.sample_indices(_SEED, 8, 8).numpy()
    self.assertLess(len(set(small)), 8)  # Repeats occur for this seed.


class MixupTest(tf.test.TestCase):
  def test_mixup_oracle(self):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 3, 1))
    y = np.eye(4)[rng.integers(0, 4, 5)]
    lam = rng.uniform(0.5, 1.0, 5)
    perm = rng.permutation(5)
    got_x, got_y = mixup.mixup(
      tf.constant(x), tf.constant(y), tf.constant(lam), tf.constant(perm)
    )
    l4 = lam[:, None, None, None]
    self.assertAllClose(got_x, l4 * x + (1 - l4) * x[perm])
    self.assertAllClose(got_y, lam[:, None] * y + (1 - lam[:, None]) * y[perm])

  def test_probe_noisy_mixup(self):
    rng = np.random.default_rng(1)
    b, c = 4, 3
    probe_x = rng.normal(size=(6, 2, 2, 1))
    probe_y = rng.integers(0, c, 6)
    weak = rng.normal(size=(b, 2, 2, 1))
    strong = rng.normal(size=(b, 2, 2, 1))
    g = rng.dirichlet(np.ones(c), b)
    g_t = tf.constant(g)
    with tf.GradientTape() as tape:
      tape.watch(g_t)
      got_x, got_y = mixup.probe_noisy_mixup(
        _SEED, probe_x, probe_y, tf.constant(weak), strong, g_t
      )
    self.assertIsNone(tape.gradient(got_y, g_t))
    # The documented seed use: split in 3 for indices, lambdas, permutation.
    seeds = tf.random.experimental.stateless_split(_SEED, 3)
    idx = mixup.sample_indices(seeds[0], b, 6).numpy()
    lam = mixup.sample_mix_coefficients(seeds[1], 3 * b, g_t.dtype)
    perm = mixup.sample_permutation(seeds[2], 3 * b).numpy()
    big_x = np.concatenate([probe_x[idx], weak, strong])
    big_y = np.concatenate([np.eye(c)[probe_y[idx]], g, g])
    lam = lam.numpy()
    l4 = lam[:, None, None, None]
    self.assertAllClose(got_x, l4 * big_x + (1 - l4) * big_x[perm])
    self.assertAllClose(
      got_y, lam[:, None] * big_y + (1 - lam[:, None]) * big_y[perm]
    )
    self.assertAllClose(tf.reduce_sum(got_y, -1), np.ones(3 * b))


if __name__ == '__main__':
  tf.test.main()
