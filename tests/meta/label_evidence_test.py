"""Re-labeling evidence: numpy oracles and synthetic cases with known answers."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.meta import label_evidence as le


def _softmax(z):
  z = z - z.max(-1, keepdims=True)
  e = np.exp(z)
  return e / e.sum(-1, keepdims=True)


def _synthetic(n, c, label_accuracy, model_accuracy, seed):
  """Labels right with prob rho, predictions right with prob a, independent.

  Wrong labels and wrong predictions are uniform over the other classes.

  Returns:
    (true int [n], given int [n], predicted int [n]).
  """
  rng = np.random.default_rng(seed)
  true = rng.integers(0, c, n)

  def corrupt(p_right):
    other = (true + rng.integers(1, c, n)) % c
    return np.where(rng.uniform(size=n) < p_right, true, other)

  return true, corrupt(label_accuracy), corrupt(model_accuracy)


class LabelEvidenceTest(tf.test.TestCase, parameterized.TestCase):
  def test_view_evidence_oracle(self):
    rng = np.random.default_rng(0)
    views = [rng.normal(size=(5, 4)) for _ in range(3)]
    got = le.view_evidence([tf.constant(v) for v in views])
    want = np.mean([_softmax(v) for v in views], axis=0)
    self.assertAllClose(got, want, atol=1e-6)
    with self.assertRaisesRegex(ValueError, 'at least one'):
      le.view_evidence([])

  def test_with_prior_oracle(self):
    rng = np.random.default_rng(3)
    e = rng.dirichlet(np.ones(4), 5).astype(np.float32)
    prior = rng.dirichlet(np.ones(4), 5).astype(np.float32)
    got = le.with_prior(tf.constant(e), tf.constant(prior)).numpy()
    want = e * prior / (e * prior).sum(-1, keepdims=True)
    self.assertAllClose(got, want, atol=1e-6)
    # A uniform prior changes nothing; disjoint supports keep the network's.
    uniform = np.full((5, 4), 0.25, np.float32)
    self.assertAllClose(
      le.with_prior(tf.constant(e), tf.constant(uniform)), e, atol=1e-6
    )
    disjoint = le.with_prior(
      tf.constant([[1.0, 0.0]]), tf.constant([[0.0, 1.0]])
    ).numpy()
    self.assertAllClose(disjoint, [[1.0, 0.0]])

  def test_label_agreement_oracle(self):
    e = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    got = le.label_agreement(tf.constant(e), tf.constant([0, 1, 1]))
    self.assertAllClose(got, 2.0 / 3.0)

  @parameterized.parameters(
    (0.8, 0.46, 10),  # asymmetric-40%-like: a weak network, good labels
    (0.28, 0.40, 10),  # uniform-80%-like: bad labels, a better network
    (1.0, 0.6, 10),  # clean labels
    (0.6, 0.9, 5),
  )
  def test_label_accuracy_recovers_the_truth(self, rho, a, c):
    n = 200_000
    _, given, pred = _synthetic(n, c, rho, a, seed=1)
    m = np.mean(pred == given)
    true = _synthetic(n, c, rho, a, seed=1)[0]
    probe_acc = np.mean(pred == true)
    got = le.estimate_label_accuracy(tf.constant(m), tf.constant(probe_acc), c)
    self.assertAllClose(got, rho, atol=0.01)
    # The oracle formula itself.
    u = (1 - a) / (c - 1)
    want = np.clip((m - u) / (a - u), 0, 1)
    got_exact = le.estimate_label_accuracy(tf.constant(m), tf.constant(a), c)
    self.assertAllClose(got_exact, want, atol=1e-6)

  def test_no_evidence_near_chance_trusts_the_labels(self):
    # a = 0.12 with 10 classes: a - (1 - a) / 9 = 0.022 < MIN_SEPARATION.
    got = le.estimate_label_accuracy(tf.constant(0.05), tf.constant(0.12), 10)
    self.assertAllClose(got, 1.0)

  def test_fitted_labels_close_the_gate(self):
    # A network that has memorized its labels agrees with all of them while
    # its probe accuracy stays 0.5: rho clips at 1, nothing may be replaced.
    rho = le.estimate_label_accuracy(tf.constant(1.0), tf.constant(0.5), 10)
    self.assertAllClose(rho, 1.0)
    keep = le.evidence_keep(tf.zeros(4), rho, tf.constant(0.5))
    self.assertAllEqual(keep, np.ones(4))

  def test_label_posterior_oracle(self):
    rng = np.random.default_rng(2)
    e = rng.dirichlet(np.ones(4), 6)
    y = rng.integers(0, 4, 6)
    rho = 0.7
    # Bayes' rule with P(given = y | true = c) = rho if c == y else
    # (1 - rho) / (C - 1), written as a full posterior over c.
    t = np.full((4, 4), (1 - rho) / 3)
    np.fill_diagonal(t, rho)
    joint = e * t[:, y].T
    want = joint[np.arange(6), y] / joint.sum(-1)
    got = le.label_posterior(tf.constant(e), tf.constant(y), tf.constant(rho))
    self.assertAllClose(got, want, atol=1e-6)

  def test_true_class_posterior_oracle(self):
    rng = np.random.default_rng(5)
    e = rng.dirichlet(np.ones(5), 8)
    y = rng.integers(0, 5, 8)
    rho = 0.6
    t = np.full((5, 5), (1 - rho) / 4)
    np.fill_diagonal(t, rho)
    joint = e * t[:, y].T
    want = joint / joint.sum(-1, keepdims=True)
    got = le.true_class_posterior(
      tf.constant(e), tf.constant(y), tf.constant(rho)
    )
    self.assertAllClose(got, want, atol=1e-6)
    # Its entry at the given label is label_posterior's r.
    r = le.label_posterior(tf.constant(e), tf.constant(y), tf.constant(rho))
    self.assertAllClose(got.numpy()[np.arange(8), y], r, atol=1e-6)

  def test_true_class_posterior_limits(self):
    e = tf.constant([[0.7, 0.2, 0.1], [0.0, 0.0, 0.0]])
    y = tf.constant([1, 2])
    # Trusted labels: the given label, whatever the network says; an
    # evidence row without mass falls back to the given label.
    self.assertAllClose(
      le.true_class_posterior(e, y, tf.constant(1.0)),
      [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    )
    # Labels at chance (rho = 1/C): the network's evidence unchanged.
    self.assertAllClose(
      le.true_class_posterior(e, y, tf.constant(1.0 / 3.0))[0], [0.7, 0.2, 0.1]
    )

  def test_evidence_keep_cases(self):
    posterior = tf.constant([0.2, 0.49, 0.5, 0.9])
    # Gate open (a > rho): labels with r < 1/2 may go.
    open_ = le.evidence_keep(posterior, tf.constant(0.3), tf.constant(0.4))
    self.assertAllEqual(open_, [0.0, 0.0, 1.0, 1.0])
    # Gate shut (a <= rho): every label stays, however strong the evidence.
    shut = le.evidence_keep(posterior, tf.constant(0.8), tf.constant(0.46))
    self.assertAllEqual(shut, [1.0, 1.0, 1.0, 1.0])

  @parameterized.parameters((0.8, 0.46, False), (0.28, 0.45, True))
  def test_synthetic_batches_decide_like_the_truth(self, rho, a, should_open):
    # Evidence = a confident softmax on the predicted class; the slice-level
    # estimate must open the gate only where the network beats the labels,
    # and where it opens, the replaced labels are mostly wrong.
    n, c = 4096, 10
    true, given, pred = _synthetic(n, c, rho, a, seed=3)
    e = np.full((n, c), 0.1 / (c - 1))
    e[np.arange(n), pred] = 0.9
    m = le.label_agreement(tf.constant(e), tf.constant(given))
    probe_acc = tf.constant(np.mean(pred == true))
    rho_hat = le.estimate_label_accuracy(m, probe_acc, c)
    self.assertAllClose(rho_hat, rho, atol=0.04)
    r = le.label_posterior(tf.constant(e), tf.constant(given), rho_hat)
    keep = le.evidence_keep(r, rho_hat, probe_acc).numpy()
    replaced = keep < 0.5
    if should_open:
      # Replaced = where the network disagrees with the label. Known
      # answer: P(label wrong | disagree) = (1 - rho)(1 - (1 - a) / (C - 1))
      # / [(1 - rho)(1 - (1 - a) / (C - 1)) + rho (1 - a)].
      u = (1 - a) / (c - 1)
      wrong = (1 - rho) * (1 - u)
      self.assertAllEqual(replaced, pred != given)
      self.assertAllClose(
        np.mean(given[replaced] != true[replaced]),
        wrong / (wrong + rho * (1 - a)),
        atol=0.03,
      )
      # The replacement (the network's class) is more often right than
      # the labels it replaces.
      self.assertGreater(
        np.mean(pred[replaced] == true[replaced]),
        np.mean(given[replaced] == true[replaced]),
      )
    else:
      self.assertEqual(replaced.mean(), 0.0)


if __name__ == '__main__':
  tf.test.main()
