"""Tests of ieg_tf.data.hashing against a pure-Python splitmix64 oracle."""

from absl.testing import parameterized
import numpy as np
from scipy import stats
import tensorflow as tf

from ieg_tf.data import hashing

_M = (1 << 64) - 1
# Fixed significance for every statistical test here: a correct generator
# fails one of them with probability ~1e-6.
_ALPHA = 1e-6


def _mix_oracle(x: int) -> int:
  """splitmix64 finalizer on Python ints (arbitrary precision, masked)."""
  x ^= x >> 30
  x = (x * 0xBF58476D1CE4E5B9) & _M
  x ^= x >> 27
  x = (x * 0x94D049BB133111EB) & _M
  return x ^ (x >> 31)


def _hash_oracle(seed: int, i: int, stream: int) -> int:
  golden = 0x9E3779B97F4A7C15
  key = _mix_oracle(((seed & _M) + golden * ((stream + 1) & _M)) & _M)
  x = _mix_oracle(((i & _M) * golden + key) & _M)
  return _mix_oracle(x ^ key)


class HashingTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((0, 1), (12345, 2), (-7, 5), (2**70 + 3, 3))
  def test_matches_pure_python_oracle(self, seed, stream):
    ids = np.array([0, 1, 2, 99, -1, 2**40, 2 * 10**9 + 5, -(2**63)])
    got = hashing.hash64(seed, ids, stream)
    want = [_hash_oracle(seed, int(i), stream) for i in ids]
    self.assertEqual([int(v) for v in got], want)
    uniform = hashing.uniform(seed, ids, stream)
    self.assertAllEqual(uniform, [(w >> 11) * 2.0**-53 for w in want])

  def test_uniform_is_uniform_chi_square_and_ks(self):
    u = hashing.uniform(3, np.arange(200_000), hashing.Stream.NOISE_SELECT)
    self.assertTrue(np.all((u >= 0) & (u < 1)))
    counts = np.bincount((u * 100).astype(int), minlength=100)
    chi2 = stats.chisquare(counts)
    self.assertGreater(chi2.pvalue, _ALPHA)
    self.assertGreater(stats.kstest(u, 'uniform').pvalue, _ALPHA)

  def test_randint_is_uniform_and_in_range(self):
    v = hashing.randint(9, np.arange(70_000), 2, 7)
    self.assertEqual(v.dtype, np.int64)
    self.assertEqual((v.min(), v.max()), (0, 6))
    self.assertGreater(stats.chisquare(np.bincount(v)).pvalue, _ALPHA)
    self.assertAllEqual(hashing.randint(9, np.arange(50), 2, 1), [0] * 50)
    with self.assertRaises(ValueError):
      hashing.randint(9, np.arange(3), 2, 0)

  @parameterized.named_parameters(
    ('streams', (5, 1), (5, 2), 0),
    ('seeds', (5, 1), (6, 1), 0),
    ('neighbour_ids', (5, 1), (5, 1), 1),
  )
  def test_independence(self, first, second, id_shift):
    """Joint histogram of two draws is uniform on a 10x10 grid."""
    ids = np.arange(100_000)
    a = hashing.uniform(first[0], ids, first[1])
    b = hashing.uniform(second[0], ids + id_shift, second[1])
    joint = np.bincount(
      (a * 10).astype(int) * 10 + (b * 10).astype(int), minlength=100
    )
    self.assertGreater(stats.chisquare(joint).pvalue, _ALPHA)
    # Pearson r of independent draws has sd 1/sqrt(N): allow 5 sd.
    self.assertLess(abs(np.corrcoef(a, b)[0, 1]), 5 / np.sqrt(len(ids)))

  def test_order_invariance_and_determinism(self):
    ids = np.arange(1000, 3000)
    perm = np.random.default_rng(0).permutation(len(ids))
    base = hashing.uniform(11, ids, 4)
    self.assertAllEqual(hashing.uniform(11, ids[perm], 4), base[perm])
    self.assertAllEqual(hashing.uniform(11, ids, 4), base)
    # One id alone gets the same value as inside a big array.
    self.assertEqual(hashing.uniform(11, ids[7:8], 4)[0], base[7])
    self.assertAllEqual(hashing.uniform(11, ids.astype(np.int32), 4), base)

  def test_rejects_non_integer_ids(self):
    with self.assertRaises(TypeError):
      hashing.uniform(1, np.array([0.5]), 1)

  def test_streams_are_distinct(self):
    values = [int(s) for s in hashing.Stream]
    self.assertLen(set(values), len(values))


if __name__ == '__main__':
  tf.test.main()
