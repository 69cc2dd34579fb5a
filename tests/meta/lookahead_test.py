"""lookahead.py: oracles of its pieces, the derived identity of §1.6, the
replica context, and reuse of the look-ahead's forward pass. (XLA is in
lookahead_xla_test.py.)"""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.meta import label_guess
from ieg_tf.meta import lookahead
from ieg_tf.runtime import devices
from tests.meta import tiny_net

devices.ensure_logical_cpus(2)

_CLASSES = 3


def _np_log_softmax(z):
  z = z - z.max(axis=-1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class PiecesTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(0.0, 0.9)
  def test_virtual_step(self, mu):
    rng = np.random.default_rng(0)
    p = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    g = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    m = [rng.normal(size=(3, 2)), None]
    got = lookahead.virtual_step(
      [tf.constant(a) for a in p],
      [tf.constant(a) for a in g],
      [tf.constant(m[0]), None],
      0.1,
      mu,
    )
    self.assertAllClose(got[0], p[0] - 0.1 * (mu * m[0] + g[0]))
    self.assertAllClose(got[1], p[1] - 0.1 * g[1])
    no_slots = lookahead.virtual_step(
      [tf.constant(a) for a in p], [tf.constant(a) for a in g], None, 0.1, mu
    )
    self.assertAllClose(no_slots[0], p[0] - 0.1 * g[0])

  def test_virtual_step_stops_the_slot_gradient(self):
    m = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
      tape.watch(m)
      out = lookahead.virtual_step([tf.zeros(2)], [tf.ones(2)], [m], 0.1, 0.9)
    self.assertIsNone(tape.gradient(out[0], m))

  def test_probe_objective(self):
    params, _, _, _, _, xp, yp = tiny_net.ieg_problem(1)
    loss, correct = lookahead.probe_objective(
      tiny_net.forward, params, xp, yp, None, 0.02
    )
    logits = tiny_net.forward(params, xp).numpy()
    labels = yp.numpy()
    ce = -_np_log_softmax(logits)[np.arange(len(labels)), labels].mean()
    decay = 0.5 * 0.02 * sum(np.sum(p.numpy() ** 2) for p in params)
    self.assertAllClose(loss, ce + decay)
    self.assertAllClose(correct, (logits.argmax(-1) == labels).astype(float))
    masked, _ = lookahead.probe_objective(
      tiny_net.forward, params, xp, yp, tiny_net.DECAY_MASK, 0.02
    )
    decay_masked = (
      0.5
      * 0.02
      * sum(
        np.sum(p.numpy() ** 2) for p, m in zip(params, tiny_net.DECAY_MASK) if m
      )
    )
    self.assertAllClose(masked, ce + decay_masked)
    no_decay, _ = lookahead.probe_objective(
      tiny_net.forward, params, xp, yp, None, 0.0
    )
    self.assertEqual(no_decay.dtype, tf.float64)
    self.assertAllClose(no_decay, ce)

  def test_ieg_weights(self):
    grad = np.array([-0.3, 0.2, -0.1, 0.0, -0.6])
    expected = np.maximum(-grad, 0.0) / (np.maximum(-grad, 0.0).sum() + 1e-5)
    self.assertAllClose(lookahead.ieg_weights(tf.constant(grad)), expected)
    # Every example clipped: all weights are 0, not NaN.
    self.assertAllEqual(
      lookahead.ieg_weights(tf.constant([0.1, 0.2])), [0.0, 0.0]
    )

  def test_ieg_relabel(self):
    grad = tf.constant([-0.3, 0.2, 0.0, -1e-9])
    self.assertAllEqual(lookahead.ieg_relabel(grad), [1.0, 0.0, 0.0, 1.0])

  def test_unconnected_meta_var_gets_zero(self):
    params, _, x, _, y, xp, yp = tiny_net.ieg_problem(2)

    def loss_fn(p, meta_vars):
      return tf.reduce_sum(meta_vars[0] * tiny_net.forward(p, x)[:, 0])

    result = lookahead.lookahead_gradients(
      tiny_net.forward,
      params,
      None,
      batch_loss_fn=loss_fn,
      probe_images=xp,
      probe_labels=yp,
      meta_vars=[tf.ones(5, tf.float64), tf.ones(3, tf.float64)],
      meta_stepsize=0.1,
      meta_momentum=0.0,
      weight_decay=0.0,
    )
    self.assertAllEqual(result.meta_grads[1], np.zeros(3))
    self.assertGreater(np.abs(result.meta_grads[0].numpy()).max(), 0.0)
    self.assertIsNone(result.aux)


class DerivedIdentityTest(tf.test.TestCase):
  """§1.6: dL/dw_i = -alpha v.grad CE(t_i, z_i) and the eps analogue."""

  def test_identity(self):
    params, slots, x, xs, y, xp, yp = tiny_net.ieg_problem(3)
    alpha, mu, wd, batch = 0.1, 0.9, 0.01, 5
    out = tiny_net.ieg_step(params, slots, x, xs, y, xp, yp)
    onehot = tf.one_hot(y, _CLASSES, dtype=tf.float64)
    with tf.GradientTape(persistent=True) as tape:
      tape.watch(params)
      z = tiny_net.forward(params, x)
      g = label_guess.guess_label([z, tiny_net.forward(params, xs)])
      log_p = tf.nn.log_softmax(z)
      ce_y = -tf.reduce_sum(onehot * log_p, -1)
      ce_g = -tf.reduce_sum(g * log_p, -1)
      ce_t = 0.9 * ce_y + 0.1 * ce_g
      la = tf.reduce_sum(ce_t) / batch + sum(
        0.5 * wd * tf.reduce_sum(p * p)
        for p, m in zip(params, tiny_net.DECAY_MASK)
        if m
      )
    grads = tape.gradient(la, params)
    new = [p - alpha * (mu * m + g_) for p, m, g_ in zip(params, slots, grads)]
    with tf.GradientTape() as probe_tape:
      probe_tape.watch(new)
      probe, _ = lookahead.probe_objective(
        tiny_net.forward, new, xp, yp, None, wd
      )
    v = probe_tape.gradient(probe, new)

    def dot(per_example):
      jac = tape.jacobian(per_example, params)
      return sum(
        tf.reduce_sum(tf.reshape(j, [batch, -1]) * tf.reshape(vk, [1, -1]), 1)
        for j, vk in zip(jac, v)
      )

    self.assertAllClose(out.grad_w, -alpha * dot(ce_t), rtol=1e-9, atol=1e-12)
    self.assertAllClose(
      out.grad_eps,
      -alpha * (1.0 / batch) * (dot(ce_y) - dot(ce_g)),
      rtol=1e-9,
      atol=1e-12,
    )


class DistributedAndReuseTest(tf.test.TestCase):
  def test_variables_and_tensors_give_the_same_result(self):
    params, slots, x, xs, y, xp, yp = tiny_net.ieg_problem(5)
    as_vars = [tf.Variable(p) for p in params]
    a = tiny_net.ieg_step(params, slots, x, xs, y, xp, yp)
    b = tiny_net.ieg_step(as_vars, slots, x, xs, y, xp, yp)
    self.assertAllClose(a.grad_w, b.grad_w, rtol=1e-12)
    self.assertAllClose(a.grad_eps, b.grad_eps, rtol=1e-12)

  def test_runs_per_replica_under_mirrored_strategy(self):
    strategy = devices.cpu_mirrored_strategy(2)
    self.assertEqual(strategy.num_replicas_in_sync, 2)
    params, slots, *_ = tiny_net.ieg_problem(6)
    batches = [tiny_net.ieg_problem(10 + r)[2:] for r in range(2)]

    def batch_fn(ctx):
      return batches[ctx.replica_id_in_sync_group]

    dist = strategy.experimental_distribute_values_from_function(batch_fn)

    @tf.function
    def run(dist_batch):
      def step(batch):
        return tiny_net.ieg_step(params, slots, *batch).weights

      return strategy.run(step, args=(dist_batch,))

    per_replica = strategy.experimental_local_results(run(dist))
    for r in range(2):
      expected = tiny_net.ieg_step(params, slots, *batches[r]).weights
      self.assertAllClose(per_replica[r], expected, rtol=1e-10)
    # Each replica normalizes its own weights (the reference's semantics).
    for w in per_replica:
      self.assertAllClose(tf.reduce_sum(w), 1.0, atol=1e-4)

  def test_view_logits_are_reusable_under_an_outer_tape(self):
    params, slots, x, xs, y, xp, yp = tiny_net.ieg_problem(7)
    proj = tf.constant(np.random.default_rng(0).normal(size=(5, _CLASSES)))
    with tf.GradientTape() as tape:
      tape.watch(params)
      out = tiny_net.ieg_step(params, slots, x, xs, y, xp, yp)
      reused = tf.reduce_sum(proj * out.view_logits[0]) + tf.reduce_sum(
        out.view_logits[1] ** 2
      )
    got = tape.gradient(reused, params)
    with tf.GradientTape() as tape:
      tape.watch(params)
      fresh = tf.reduce_sum(proj * tiny_net.forward(params, x)) + (
        tf.reduce_sum(tiny_net.forward(params, xs) ** 2)
      )
    expected = tape.gradient(fresh, params)
    for a, b in zip(got, expected):
      self.assertAllClose(a, b, rtol=1e-12, atol=1e-12)

  def test_weak_forward_state_is_returned(self):
    params, slots, x, xs, y, xp, yp = tiny_net.ieg_problem(8)

    def weak_forward(p, images):
      return tiny_net.forward(p, images), tf.reduce_mean(images)

    out = tiny_net.ieg_step(
      params, slots, x, xs, y, xp, yp, weak_forward=weak_forward
    )
    plain = tiny_net.ieg_step(params, slots, x, xs, y, xp, yp)
    self.assertAllClose(out.weak_state, tf.reduce_mean(x))
    self.assertIsNone(plain.weak_state)
    self.assertAllClose(out.grad_w, plain.grad_w, rtol=1e-12)


if __name__ == '__main__':
  tf.test.main()
