"""Second-order gradients through stateless_call (the meta step's pattern).

The look-ahead differentiates twice: an outer tape over per-example weights
w, an inner tape for G = grad_theta sum_i w_i CE_i(theta), theta' = theta -
lr * G, then the probe loss at theta'. Both checks compare nested-tape
results with quantities computed by a different route.
"""

import numpy as np
import tensorflow as tf

from ieg_tf.models import registry

SHAPE = (8, 8, 3)
CLASSES = 3
LR = 0.1


def _dot(xs, ys):
  return tf.add_n([tf.reduce_sum(a * b) for a, b in zip(xs, ys)])


class ModelSecondOrderTest(tf.test.TestCase):
  def setUp(self):
    super().setUp()
    self.model = registry.build_network('tiny', CLASSES, SHAPE).model
    rng = np.random.default_rng(7)
    self.x = tf.constant(rng.uniform(-1, 1, (6, *SHAPE)), tf.float32)
    self.y = tf.constant([0, 1, 2, 0, 1, 2])
    self.x_probe = tf.constant(rng.uniform(-1, 1, (4, *SHAPE)), tf.float32)
    self.y_probe = tf.constant([2, 1, 0, 1])
    self.theta = [tf.identity(v.value) for v in self.model.trainable_variables]
    self.stats = [v.value for v in self.model.non_trainable_variables]

  def _per_example(self, theta, x, y):
    logits, _ = self.model.stateless_call(theta, self.stats, x, training=True)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)

  def test_meta_gradient_matches_chain_rule(self):
    w = tf.fill([6], 1.0 / 6)
    with tf.GradientTape() as outer:
      outer.watch(w)
      with tf.GradientTape() as inner:
        inner.watch(self.theta)
        noisy_loss = tf.reduce_sum(
          w * self._per_example(self.theta, self.x, self.y)
        )
      grads = inner.gradient(noisy_loss, self.theta)
      theta_prime = [t - LR * g for t, g in zip(self.theta, grads)]
      meta_loss = tf.reduce_mean(
        self._per_example(theta_prime, self.x_probe, self.y_probe)
      )
    meta_grad = outer.gradient(meta_loss, w)

    # Chain rule with first-order gradients only: the loss is linear in w, so
    # d meta / d w_i = -LR * <grad meta(theta'), grad CE_i(theta)>.
    with tf.GradientTape() as tape:
      tape.watch(theta_prime)
      probe = tf.reduce_mean(
        self._per_example(theta_prime, self.x_probe, self.y_probe)
      )
    v = tape.gradient(probe, theta_prime)
    expected = []
    for i in range(6):
      with tf.GradientTape() as tape:
        tape.watch(self.theta)
        ce_i = self._per_example(self.theta, self.x, self.y)[i]
      expected.append(-LR * _dot(v, tape.gradient(ce_i, self.theta)))
    expected = tf.stack(expected)
    self.assertGreater(float(tf.reduce_max(tf.abs(expected))), 1e-4)
    self.assertAllClose(meta_grad, expected, rtol=1e-3, atol=1e-6)

  def test_hessian_vector_product_matches_forward_over_backward(self):
    rng = np.random.default_rng(8)
    direction = [
      tf.constant(rng.normal(size=t.shape), tf.float32) for t in self.theta
    ]

    def loss(theta):
      return tf.reduce_mean(self._per_example(theta, self.x, self.y))

    @tf.function  # Eager forward-over-backward is slow op by op.
    def hvps(theta, direction):
      with tf.GradientTape() as outer:
        outer.watch(theta)
        with tf.GradientTape() as inner:
          inner.watch(theta)
          value = loss(theta)
        grad_dot = _dot(inner.gradient(value, theta), direction)
      by_tapes = outer.gradient(grad_dot, theta)

      with tf.autodiff.ForwardAccumulator(theta, direction) as acc:
        with tf.GradientTape() as tape:
          tape.watch(theta)
          value = loss(theta)
        grads = tape.gradient(value, theta)
      return by_tapes, acc.jvp(grads)

    hvp_tapes, hvp_forward = hvps(self.theta, direction)
    for a, b in zip(hvp_tapes, hvp_forward):
      scale = float(tf.reduce_max(tf.abs(b))) + 1e-6
      self.assertAllClose(a / scale, b / scale, atol=1e-4)
    self.assertGreater(float(tf.linalg.global_norm(hvp_tapes)), 1e-3)


if __name__ == '__main__':
  tf.test.main()
