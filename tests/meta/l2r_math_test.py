"""L2R's meta step structure and final loss against numpy."""

import numpy as np
import tensorflow as tf

from ieg_tf.meta import l2r_math
from ieg_tf.meta import lookahead
from tests.meta import tiny_net


def _log_softmax(z):
  z = z - z.max(axis=-1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class L2rTest(tf.test.TestCase):
  def test_final_loss_oracle(self):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, 6)
    weights = rng.dirichlet(np.ones(6))
    terms = l2r_math.l2r_final_loss(
      logits=tf.constant(logits),
      labels=tf.constant(labels),
      weights=tf.constant(weights),
      penalty=tf.constant(0.25, tf.float64),
      num_replicas=2,
    )
    ce = -_log_softmax(logits)[np.arange(6), labels]
    self.assertAllClose(terms['weighted_ce'], np.sum(weights * ce))
    self.assertAllClose(terms['l2'], 0.25)
    self.assertAllClose(terms['net_loss'], np.sum(weights * ce) + 0.25)
    self.assertAllClose(terms['total'], (np.sum(weights * ce) + 0.25) / 2)

  def test_final_loss_gradient_treats_weights_as_constants(self):
    rng = np.random.default_rng(1)
    logits = tf.constant(rng.normal(size=(5, 3)))
    labels = rng.integers(0, 3, 5)
    weights = tf.constant(rng.dirichlet(np.ones(5)))
    with tf.GradientTape() as tape:
      tape.watch([logits, weights])
      total = l2r_math.l2r_final_loss(
        logits=logits,
        labels=labels,
        weights=weights,
        penalty=tf.constant(0.0, tf.float64),
        num_replicas=1,
      )['total']
    d_logits, d_w = tape.gradient(total, [logits, weights])
    self.assertIsNone(d_w)
    probs = np.exp(_log_softmax(logits.numpy()))
    expected = weights.numpy()[:, None] * (probs - np.eye(3)[labels])
    self.assertAllClose(d_logits, expected)

  def test_meta_step_virtual_step_is_pure_weight_decay(self):
    # w0 = 0: theta' = theta - alpha * wd * theta on decayed tensors only.
    params, _, x, _, y, xp, yp = tiny_net.ieg_problem(2)
    alpha, wd = 0.2, 0.05
    out = l2r_math.l2r_meta_step(
      tiny_net.forward,
      params,
      images=x,
      labels=y,
      probe_images=xp,
      probe_labels=yp,
      meta_stepsize=alpha,
      weight_decay=wd,
      decay_mask=tiny_net.DECAY_MASK,
    )
    shrunk = [
      p * (1 - alpha * wd) if m else p
      for p, m in zip(params, tiny_net.DECAY_MASK)
    ]
    expected, correct = lookahead.probe_objective(
      tiny_net.forward, shrunk, xp, yp, None, wd
    )
    self.assertAllClose(out.probe_loss, expected)
    self.assertAllClose(out.probe_accuracy, tf.reduce_mean(correct))
    self.assertAllClose(out.logits, tiny_net.forward(params, x))
    self.assertAllClose(tf.reduce_sum(out.weights), 1.0, atol=1e-4)
    self.assertAllClose(out.weights, lookahead.ieg_weights(out.grad_w))


if __name__ == '__main__':
  tf.test.main()
