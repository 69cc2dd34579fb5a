"""Meta gradients against central finite differences of the probe loss.

The oracle below recomputes L_meta(theta'(phi)) from scratch with its own
look-ahead loss (first-order tape only), so the nested-tape gradients of
`lookahead.py`, `ieg_math.py`, `l2r_math.py` and `mwnet.py` are checked
against an independent computation, in float64.
"""

import numpy as np
import tensorflow as tf

from ieg_tf.meta import ieg_math
from ieg_tf.meta import l2r_math
from ieg_tf.meta import lookahead
from ieg_tf.meta import mwnet
from tests.meta import tiny_net

_ALPHA = 0.3
_MU = 0.9
_WD = 0.01
_CLASSES = 3
_H = 1e-5
_MAX_REL_ERR = 1e-5


def _log_softmax(z):
  return z - tf.reduce_logsumexp(z, axis=-1, keepdims=True)


def _oracle_guess(view_logits):
  probs = []
  for v in view_logits:
    v = v / tf.sqrt(tf.reduce_mean(v * v) + 1e-8)
    probs.append(tf.exp(_log_softmax(v)))
  q = sum(probs) / len(probs)
  return q * q / tf.reduce_sum(q * q, axis=-1, keepdims=True)


def _decay(params, mask):
  return (
    0.5 * _WD * sum(tf.reduce_sum(p * p) for p, m in zip(params, mask) if m)
  )


def _finite_differences(fn, point):
  """Central differences of scalar fn over every entry of a list of arrays."""
  grads = []
  for k, arr in enumerate(point):
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
      plus = [a.copy() for a in point]
      minus = [a.copy() for a in point]
      plus[k][idx] += _H
      minus[k][idx] -= _H
      grad[idx] = (fn(plus) - fn(minus)) / (2 * _H)
    grads.append(grad)
  return grads


def _relative_error(analytic, numeric):
  a = np.concatenate([np.ravel(x) for x in analytic])
  n = np.concatenate([np.ravel(x) for x in numeric])
  return np.max(np.abs(a - n)) / np.max(np.abs(n))


class MetaGradientFiniteDifferenceTest(tf.test.TestCase):
  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(42)
    self.batch = 5
    self.params = tiny_net.init_params(rng, 4, 6, _CLASSES)
    self.slots = [
      tf.constant(rng.normal(0.0, 0.3, p.shape)) for p in self.params
    ]
    self.x, self.y = tiny_net.random_batch(rng, self.batch, _CLASSES)
    self.xs = self.x + tf.constant(rng.normal(0.0, 0.5, self.x.shape))
    self.xp, self.yp = tiny_net.random_batch(rng, 6, _CLASSES)

  def _probe_loss(self, new_params):
    logits = tiny_net.forward(new_params, self.xp)
    ce = -tf.gather(_log_softmax(logits), self.yp, batch_dims=1)
    return float(tf.reduce_mean(ce) + _decay(new_params, [True] * 6))

  def _oracle_ieg(self, point, use_slots=True):
    w, eps = (tf.constant(a) for a in point)
    with tf.GradientTape() as tape:
      tape.watch(self.params)
      z = tiny_net.forward(self.params, self.x)
      zs = tiny_net.forward(self.params, self.xs)
      g = _oracle_guess([z, zs])
      onehot = tf.one_hot(self.y, _CLASSES, dtype=tf.float64)
      t = eps[:, None] * onehot + (1.0 - eps[:, None]) * g
      ce = -tf.reduce_sum(t * _log_softmax(z), axis=-1)
      loss = tf.reduce_sum(w * ce) + _decay(self.params, tiny_net.DECAY_MASK)
    grads = tape.gradient(loss, self.params)
    mu = _MU if use_slots else 0.0
    new = [
      p - _ALPHA * (mu * m + g)
      for p, m, g in zip(self.params, self.slots, grads)
    ]
    return self._probe_loss(new)

  def test_ieg_default_point_through_momentum_and_pseudo_labels(self):
    out = ieg_math.ieg_meta_step(
      tiny_net.forward,
      self.params,
      self.slots,
      view_images=[self.x, self.xs],
      labels=self.y,
      probe_images=self.xp,
      probe_labels=self.yp,
      meta_stepsize=_ALPHA,
      meta_momentum=_MU,
      grad_eps_init=0.9,
      temperature=0.5,
      weight_decay=_WD,
      decay_mask=tiny_net.DECAY_MASK,
    )
    point = [np.full(self.batch, 1.0 / self.batch), np.full(self.batch, 0.9)]
    numeric = _finite_differences(self._oracle_ieg, point)
    analytic = [out.grad_w.numpy(), out.grad_eps.numpy()]
    self.assertLess(_relative_error(analytic, numeric), _MAX_REL_ERR)
    self.assertAllClose(out.probe_loss, self._oracle_ieg(point))
    # The checks have teeth: ignoring the momentum slot moves theta' enough
    # to change the gradients far beyond the tolerance.
    no_slots = _finite_differences(
      lambda p: self._oracle_ieg(p, use_slots=False), point
    )
    self.assertGreater(_relative_error(analytic, no_slots), 100 * _MAX_REL_ERR)

  def test_ieg_random_point_and_the_pseudo_label_path(self):
    rng = np.random.default_rng(3)
    point = [rng.uniform(0.0, 0.5, self.batch), rng.uniform(0, 1, self.batch)]
    numeric = _finite_differences(self._oracle_ieg, point)

    def grads(stop_g):
      fn = ieg_math.make_ieg_batch_loss_fn(
        tiny_net.forward,
        [self.x, self.xs],
        self.y,
        temperature=0.5,
        weight_decay=_WD,
        decay_mask=tiny_net.DECAY_MASK,
      )
      if stop_g:
        # Same loss with g held constant: the reference does NOT do this.
        def fn_stopped(params, meta_vars):
          z = tiny_net.forward(params, self.x)
          g = tf.stop_gradient(
            _oracle_guess([z, tiny_net.forward(params, self.xs)])
          )
          w, eps = meta_vars
          loss = ieg_math.ieg_lookahead_loss(z, g, self.y, w, eps)
          return loss + _decay(params, tiny_net.DECAY_MASK), None

        fn = fn_stopped
      result = lookahead.lookahead_gradients(
        tiny_net.forward,
        self.params,
        self.slots,
        batch_loss_fn=fn,
        probe_images=self.xp,
        probe_labels=self.yp,
        meta_vars=[tf.constant(a) for a in point],
        meta_stepsize=_ALPHA,
        meta_momentum=_MU,
        weight_decay=_WD,
        has_aux=True,
      )
      return [g.numpy() for g in result.meta_grads]

    self.assertLess(_relative_error(grads(False), numeric), _MAX_REL_ERR)
    self.assertGreater(_relative_error(grads(True), numeric), 1e-3)

  def test_l2r(self):
    def oracle(point):
      (w,) = (tf.constant(a) for a in point)
      with tf.GradientTape() as tape:
        tape.watch(self.params)
        z = tiny_net.forward(self.params, self.x)
        ce = -tf.gather(_log_softmax(z), self.y, batch_dims=1)
        loss = tf.reduce_sum(w * ce) + _decay(self.params, [True] * 6)
      grads = tape.gradient(loss, self.params)
      return self._probe_loss(
        [p - _ALPHA * g for p, g in zip(self.params, grads)]
      )

    out = l2r_math.l2r_meta_step(
      tiny_net.forward,
      self.params,
      images=self.x,
      labels=self.y,
      probe_images=self.xp,
      probe_labels=self.yp,
      meta_stepsize=_ALPHA,
      weight_decay=_WD,
    )
    numeric = _finite_differences(oracle, [np.zeros(self.batch)])
    self.assertLess(_relative_error([out.grad_w], numeric), _MAX_REL_ERR)
    self.assertAllClose(out.probe_loss, oracle([np.zeros(self.batch)]))

  def _check_mwnet(self, normalize):
    mw = mwnet.mwnet_init(tf.constant([5, 6]), hidden=8, dtype=tf.float64)

    def oracle(point):
      w1, b1, w2, b2 = (tf.constant(a) for a in point)
      with tf.GradientTape() as tape:
        tape.watch(self.params)
        z = tiny_net.forward(self.params, self.x)
        ce = -tf.gather(_log_softmax(z), self.y, batch_dims=1)
        hidden = tf.nn.relu(tf.stop_gradient(ce)[:, None] * w1 + b1)
        v = tf.sigmoid(tf.matmul(hidden, w2) + b2)[:, 0]
        if normalize:
          data = tf.reduce_sum(v / tf.reduce_sum(v) * ce)
        else:
          data = tf.reduce_mean(v * ce)
        loss = data + _decay(self.params, tiny_net.DECAY_MASK)
      grads = tape.gradient(loss, self.params)
      new = [
        p - _ALPHA * (_MU * m + g)
        for p, m, g in zip(self.params, self.slots, grads)
      ]
      return self._probe_loss(new)

    result = mwnet.mwnet_meta_gradients(
      tiny_net.forward,
      self.params,
      self.slots,
      mw,
      images=self.x,
      labels=self.y,
      probe_images=self.xp,
      probe_labels=self.yp,
      meta_stepsize=_ALPHA,
      meta_momentum=_MU,
      weight_decay=_WD,
      decay_mask=tiny_net.DECAY_MASK,
      normalize=normalize,
    )
    numeric = _finite_differences(oracle, [p.numpy() for p in mw])
    analytic = [g.numpy() for g in result.meta_grads]
    self.assertLess(_relative_error(analytic, numeric), _MAX_REL_ERR)
    # Every MLP tensor receives a gradient.
    for g in analytic:
      self.assertGreater(np.max(np.abs(g)), 0.0)

  def test_mwnet_normalized(self):
    self._check_mwnet(normalize=True)

  def test_mwnet_unnormalized(self):
    self._check_mwnet(normalize=False)


if __name__ == '__main__':
  tf.test.main()
