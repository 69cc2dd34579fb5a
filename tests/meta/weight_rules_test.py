"""Meta weight rules against a numpy oracle."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.meta import weight_rules


def _softmax(z):
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _class_balanced(probs, labels):
  p = probs[np.arange(len(labels)), labels]
  mean = np.array([p[labels == y].mean() for y in labels])
  return p / mean / len(labels)


def _oracle(grad, rule, labels):
  score = -grad.astype(np.float64)
  if rule == 'class_balanced':
    clipped = np.maximum(score, 0.0)
    out = np.empty_like(clipped)
    for c in np.unique(labels):
      group = clipped[labels == c]
      out[labels == c] = group / group.mean() if group.sum() > 0 else 1.0
    return out / len(labels)
  clipped = np.maximum(score, 0.0)
  return clipped / (clipped.sum() + 1e-5)


class WeightRulesTest(tf.test.TestCase, parameterized.TestCase):
  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.grad = rng.normal(size=16).astype(np.float32)
    self.logits = rng.normal(size=(16, 5)).astype(np.float32) * 2
    self.labels = rng.integers(0, 5, 16).astype(np.int32)

  @parameterized.parameters(*weight_rules.WEIGHT_RULES)
  def test_matches_numpy(self, rule):
    got = weight_rules.meta_weights(
      tf.constant(self.grad),
      rule,
      logits=tf.constant(self.logits),
      labels=tf.constant(self.labels),
    )
    want = _oracle(self.grad, rule, self.labels)
    self.assertAllClose(got, want, atol=1e-5)
    self.assertAllClose(tf.reduce_sum(got), 1.0, atol=1e-4)

  @parameterized.product(
    rule=weight_rules.WEIGHT_RULES, source=('meta', 'network', 'vote')
  )
  def test_example_weights_by_source(self, rule, source):
    # 'vote': p(given label) comes from the neighbor-vote prior, not from
    # the logits; 'meta' ignores the prior.
    prior = np.random.default_rng(5).dirichlet(
      np.ones(self.logits.shape[1]), len(self.labels)
    )
    got = weight_rules.example_weights(
      tf.constant(self.grad),
      rule,
      source,
      logits=tf.constant(self.logits),
      labels=tf.constant(self.labels),
      vote_probs=tf.constant(prior, tf.float32),
    )
    want = {
      'meta': _oracle(self.grad, rule, self.labels),
      'network': _class_balanced(_softmax(self.logits), self.labels),
      'vote': _class_balanced(prior, self.labels),
    }[source]
    self.assertAllClose(got, want, atol=1e-5)
    self.assertAllClose(tf.reduce_sum(got), 1.0, atol=1e-4)

  def test_given_label_weights_rank_within_each_label(self):
    # Label 0: the fitted example outweighs the unfitted one. Label 1 keeps
    # its share of the batch (2 of 4) although the network never predicts
    # class 1 (p = 0.018 and 0.05).
    logits = tf.constant([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [3.0, 0.0]])
    labels = tf.constant([0, 0, 1, 1])
    got = weight_rules.given_label_weights(logits, labels).numpy()
    want = _class_balanced(_softmax(logits.numpy()), labels.numpy())
    self.assertAllClose(got, want, atol=1e-5)
    self.assertGreater(got[0], 10 * got[1])
    self.assertAllClose(got[2:].sum(), 0.5, atol=1e-5)

  def test_same_label_mean(self):
    got = weight_rules.same_label_mean(
      tf.constant([1.0, 2.0, 3.0, 10.0]), tf.constant([0, 1, 0, 2]), 4
    )
    self.assertAllClose(got, [2.0, 2.0, 2.0, 10.0])

  def test_class_balanced_keeps_every_label_share(self):
    # Labels 0,0,0,1,1,2: the reference gives label 0 almost everything
    # (its scores are large); class_balanced gives each label its count
    # share 3/6, 2/6, 1/6, and inside a label follows the scores. Label 2's
    # only score is clipped, so it is weighted uniformly (its 1/6 share).
    labels = np.array([0, 0, 0, 1, 1, 2], np.int32)
    grad = -np.array([3.0, 1.0, 0.0, 0.2, 0.1, -1.0], np.float32)
    got = weight_rules.meta_weights(
      tf.constant(grad),
      'class_balanced',
      logits=tf.zeros([6, 3]),
      labels=tf.constant(labels),
    ).numpy()
    self.assertAllClose(
      got,
      [3 / 4 * 3 / 6, 1 / 4 * 3 / 6, 0.0, 2 / 3 * 2 / 6, 1 / 3 * 2 / 6, 1 / 6],
    )
    ref = weight_rules.meta_weights(tf.constant(grad), 'reference').numpy()
    self.assertGreater(ref[:3].sum(), 0.9)

  def test_errors(self):
    g = tf.constant([-1.0, 1.0])
    with self.assertRaisesRegex(ValueError, 'not one of'):
      weight_rules.meta_weights(g, 'cosine')
    with self.assertRaisesRegex(ValueError, 'not one of'):
      weight_rules.meta_weights(g, 'normalized')  # measured null, removed
    z, y = tf.zeros([2, 2]), tf.constant([0, 1])
    with self.assertRaisesRegex(ValueError, "'vote' needs vote_probs"):
      weight_rules.example_weights(g, 'reference', 'vote', logits=z, labels=y)
    with self.assertRaisesRegex(ValueError, 'unknown weight source'):
      weight_rules.example_weights(g, 'reference', 'mix', logits=z, labels=y)
    with self.assertRaisesRegex(ValueError, 'class_balanced needs'):
      weight_rules.meta_weights(g, 'class_balanced', logits=tf.zeros([2, 2]))

  def test_all_clipped_gives_zero(self):
    got = weight_rules.meta_weights(tf.constant([1.0, 2.0]), 'reference')
    self.assertAllClose(got, [0.0, 0.0])


if __name__ == '__main__':
  tf.test.main()
