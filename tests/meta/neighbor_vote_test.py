"""Neighbor votes, sharpening and the probe temperature fit against numpy."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.meta import neighbor_vote


def _brute_votes(queries, refs, labels, c, k, exclude_self):
  """Per-query loops: sort every similarity, take the k best."""
  q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
  r = refs / np.linalg.norm(refs, axis=1, keepdims=True)
  out = np.zeros((len(q), c))
  for i in range(len(q)):
    sims = r @ q[i]
    order = [j for j in np.argsort(-sims) if not (exclude_self and j == i)]
    for j in order[:k]:
      out[i, labels[j]] += np.exp((sims[j] - 1.0) / 0.1)
  return out / out.sum(axis=1, keepdims=True)


def _clusters(n, c, noise_rate, seed):
  """c Gaussian clusters in 8-D; a share of labels replaced uniformly."""
  rng = np.random.default_rng(seed)
  clean = rng.integers(0, c, n)
  centers = rng.normal(size=(c, 8)) * 3.0
  x = centers[clean] + rng.normal(size=(n, 8))
  given = np.where(rng.random(n) < noise_rate, rng.integers(0, c, n), clean)
  return x.astype(np.float32), given, clean


class NeighborVoteTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((1, True), (5, True), (5, False), (40, False))
  def test_matches_brute_force(self, k, exclude_self):
    rng = np.random.default_rng(k)
    refs = rng.normal(size=(30, 6))
    labels = rng.integers(0, 4, 30)
    queries = refs if exclude_self else rng.normal(size=(11, 6))
    got = neighbor_vote.neighbor_votes(
      queries, refs, labels, 4, k, exclude_self=exclude_self
    )
    want = _brute_votes(
      queries, refs, labels, 4, min(k, 30 - exclude_self), exclude_self
    )
    self.assertEqual(got.dtype, np.float32)
    self.assertAllClose(got, want, rtol=1e-4, atol=1e-6)

  def test_blocks_give_the_same_votes(self):
    # More queries than one matmul block, so the block offsets are used.
    x, given, _ = _clusters(1500, 3, 0.5, 0)
    got = neighbor_vote.neighbor_votes(x, x, given, 3, 7, exclude_self=True)
    rows = np.r_[0:3, 1020:1030, 1497:1500]
    want = _brute_votes(x, x, given, 3, 7, exclude_self=True)
    self.assertAllClose(got[rows], want[rows], rtol=1e-4, atol=1e-6)

  def test_self_is_excluded(self):
    # Two far-apart points: each one's only neighbor is the other.
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    got = neighbor_vote.neighbor_votes(x, x, [0, 1], 2, 5, exclude_self=True)
    self.assertAllClose(got, [[0.0, 1.0], [1.0, 0.0]])

  def test_vote_recovers_labels_under_heavy_noise(self):
    x, given, clean = _clusters(2000, 5, 0.8, 1)
    votes = neighbor_vote.neighbor_votes(x, x, given, 5, 50, exclude_self=True)
    self.assertLess(np.mean(given == clean), 0.4)
    self.assertGreater(np.mean(votes.argmax(1) == clean), 0.9)

  @parameterized.parameters(
    dict(q=(3, 4), r=(5, 4), n=4, k=1, own=False, msg='shapes'),
    dict(q=(3, 4), r=(5, 3), n=5, k=1, own=False, msg='shapes'),
    dict(q=(3, 4), r=(5, 4), n=5, k=0, own=False, msg='k >= 1'),
    dict(q=(3, 4), r=(5, 4), n=5, k=1, own=True, msg='exclude_self'),
    dict(q=(1, 4), r=(1, 4), n=1, k=1, own=True, msg='a reference'),
  )
  def test_errors(self, q, r, n, k, own, msg):
    with self.assertRaisesRegex(ValueError, msg):
      neighbor_vote.neighbor_votes(
        np.ones(q), np.ones(r), np.zeros(n, int), 2, k, exclude_self=own
      )

  def test_label_out_of_range(self):
    with self.assertRaisesRegex(ValueError, r'\[0, 2\)'):
      neighbor_vote.neighbor_votes(
        np.ones((2, 2)), np.ones((2, 2)), [0, 2], 2, 1, exclude_self=False
      )

  @parameterized.parameters(1.0, 0.5, 0.05, 0.01)
  def test_sharpen(self, t):
    v = np.random.default_rng(3).dirichlet(np.ones(5), 4)
    want = v ** (1 / t) / (v ** (1 / t)).sum(1, keepdims=True)
    self.assertAllClose(neighbor_vote.sharpen(v, t), want, rtol=1e-4)

  def test_sharpen_survives_tiny_entries(self):
    got = neighbor_vote.sharpen(np.array([[1e-20, 1.0 - 1e-20]]), 0.01)
    self.assertAllClose(got, [[0.0, 1.0]])
    self.assertTrue(np.isfinite(got).all())

  def test_mean_nll(self):
    p = np.array([[0.5, 0.5], [0.9, 0.1]])
    want = -(np.log(0.5) + np.log(0.1)) / 2
    self.assertAllClose(neighbor_vote.mean_nll(p, [1, 1]), want)

  @parameterized.parameters((0.5, 0.0), (2.0, 0.1))
  def test_calibrate(self, t, lam):
    v = np.random.default_rng(6).dirichlet(np.ones(4), 5)
    mixed = (1 - lam) * v + lam / 4
    want = mixed ** (1 / t) / (mixed ** (1 / t)).sum(1, keepdims=True)
    self.assertAllClose(neighbor_vote.calibrate(v, t, lam), want, rtol=1e-4)

  def _grid_argmin(self, votes, labels):
    best = min(
      (
        neighbor_vote.mean_nll(neighbor_vote.calibrate(votes, t, lam), labels),
        i,
        t,
        lam,
      )
      for i, (lam, t) in enumerate(
        (lam, t)
        for lam in (0.0, 0.01, 0.03, 0.1, 0.3)
        for t in np.geomspace(0.01, 10.0, 91)
      )
    )
    return best[2], best[3]

  def test_fit_calibration_sharpens_a_flat_vote(self):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 4, 200)
    # A flat but informative vote: the right class is a little ahead.
    votes = 0.2 + 0.1 * np.eye(4)[labels] + 0.05 * rng.random((200, 4))
    votes /= votes.sum(1, keepdims=True)
    t, lam = neighbor_vote.fit_calibration(votes, labels)
    self.assertAllClose((t, lam), self._grid_argmin(votes, labels))
    self.assertLess(t, 1.0)

  def test_fit_calibration_revives_classes_no_neighbor_carries(self):
    # Over-confident votes, wrong for a third of the examples and exactly 0
    # on their true class: only a uniform share can give that class mass.
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, 300)
    wrong = rng.random(300) < 0.33
    voted = np.where(wrong, (labels + 1) % 4, labels)
    votes = np.eye(4)[voted] * 0.98 + np.eye(4)[(voted + 2) % 4] * 0.02
    t, lam = neighbor_vote.fit_calibration(votes, labels)
    self.assertAllClose((t, lam), self._grid_argmin(votes, labels))
    self.assertGreater(lam, 0.0)
    calibrated = neighbor_vote.calibrate(votes, t, lam)
    self.assertGreater(calibrated[np.arange(300), labels].min(), 1e-3)
    self.assertLess(
      neighbor_vote.mean_nll(calibrated, labels),
      neighbor_vote.mean_nll(votes, labels),
    )


class PosteriorTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((0.28, 0.43, 10), (0.6, 0.8, 4), (0.5, 0.6, 3))
  def test_label_accuracy_estimate_recovers_q(self, q, alpha, c):
    # Labels right with probability q, the vote right with probability
    # alpha, both wrong uniformly over the other classes, independently.
    rng = np.random.default_rng(0)
    n = 200_000
    true = rng.integers(0, c, n)

    def corrupt(p):
      wrong = rng.random(n) >= p
      return np.where(wrong, (true + rng.integers(1, c, n)) % c, true)

    given, vote = corrupt(q), corrupt(alpha)
    got = neighbor_vote.estimate_label_accuracy(
      np.mean(vote == given), alpha, c
    )
    self.assertAllClose(got, q, atol=0.01)

  def test_label_accuracy_edge_cases(self):
    # A vote at chance says nothing about the labels.
    self.assertAllClose(
      neighbor_vote.estimate_label_accuracy(0.5, 0.25, 4), 0.25
    )
    self.assertAllClose(
      neighbor_vote.estimate_label_accuracy(1.0, 0.9, 4), 0.99
    )
    self.assertAllClose(
      neighbor_vote.estimate_label_accuracy(0.0, 0.9, 4), 0.25
    )

  @parameterized.parameters(0.25, 0.3, 0.7, 0.95)
  def test_posterior_is_bayes_rule(self, q):
    rng = np.random.default_rng(1)
    c = 4
    votes = rng.dirichlet(np.ones(c), 6)
    labels = rng.integers(0, c, 6)
    # likelihood[y, k] = p(given label y | true class k).
    likelihood = np.full((c, c), (1 - q) / (c - 1))
    np.fill_diagonal(likelihood, q)
    want = votes * likelihood[labels]
    want /= want.sum(1, keepdims=True)
    got = neighbor_vote.given_label_posterior(votes, labels, q)
    self.assertEqual(got.dtype, np.float32)
    self.assertAllClose(got, want, rtol=1e-5)
    if q == 0.25:  # q = 1/C: the label carries nothing
      self.assertAllClose(got, votes, rtol=1e-5)
