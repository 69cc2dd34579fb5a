"""IEG's look-ahead and final loss terms against numpy oracles."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.meta import ieg_loss
from ieg_tf.meta import ieg_math

_B, _C = 4, 3


def _log_softmax(z):
  z = z - z.max(axis=-1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _norm(v):
  return v / np.sqrt(np.mean(v**2) + 1e-8)


def _soft_ce(t, z):
  return -(t * _log_softmax(z)).sum(-1)


def _inputs(seed):
  rng = np.random.default_rng(seed)
  mix_targets = rng.dirichlet(np.ones(_C), 3 * _B)
  return dict(
    weak_logits=rng.normal(0.0, 2.0, (_B, _C)),
    strong_logits=rng.normal(0.0, 2.0, (_B, _C)),
    labels=rng.integers(0, _C, _B).astype(np.int32),
    pseudo_labels=rng.dirichlet(np.ones(_C), _B),
    weights=rng.dirichlet(np.ones(_B)),
    eps=rng.integers(0, 2, _B).astype(np.float64),
    mix_logits=rng.normal(0.0, 2.0, (3 * _B, _C)),
    mix_targets=mix_targets,
    penalty=np.float64(0.37),
  )


def _oracle_terms(a, eps0, ce_factor, consistency_factor):
  y = np.eye(_C)[a['labels']]
  g, z, zs = a['pseudo_labels'], a['weak_logits'], a['strong_logits']
  e = a['eps'][:, None]
  relabel = _soft_ce(e * y + (1 - e) * g, z)
  reweight = a['weights'] * _soft_ce(eps0 * y + (1 - eps0) * g, z)
  splits = np.split(a['mix_logits'], 3)
  t = a['mix_targets']
  l_ce = _soft_ce(t[:_B], _norm(splits[0]))
  u_ce = _soft_ce(t[_B:], np.concatenate([_norm(splits[1]), _norm(splits[2])]))
  log_q, log_p = _log_softmax(z), _log_softmax(zs)
  kl = (np.exp(log_q) * (log_q - log_p)).sum(-1)
  return relabel, reweight, l_ce, u_ce, kl


def _call(a, **kwargs):
  tensors = {k: tf.constant(v) for k, v in a.items()}
  return ieg_loss.ieg_final_loss(**tensors, **kwargs)


class IegLookaheadLossTest(tf.test.TestCase):
  def test_mix_targets(self):
    a = _inputs(0)
    eps = np.array([0.0, 0.3, 0.9, 1.0])
    got = ieg_math.mix_targets(
      a['labels'], tf.constant(a['pseudo_labels']), tf.constant(eps)
    )
    y = np.eye(_C)[a['labels']]
    expected = eps[:, None] * y + (1 - eps[:, None]) * a['pseudo_labels']
    self.assertAllClose(got, expected)

  def test_lookahead_loss_and_its_gradients(self):
    a = _inputs(1)
    w = tf.constant(np.full(_B, 1.0 / _B))
    eps = tf.constant(np.full(_B, 0.9))
    g = tf.constant(a['pseudo_labels'])
    z = tf.constant(a['weak_logits'])
    with tf.GradientTape() as tape:
      tape.watch([w, eps, g])
      loss = ieg_math.ieg_lookahead_loss(z, g, a['labels'], w, eps)
    y = np.eye(_C)[a['labels']]
    t = 0.9 * y + 0.1 * a['pseudo_labels']
    self.assertAllClose(loss, np.sum(_soft_ce(t, a['weak_logits']) / _B))
    d_w, d_eps, d_g = tape.gradient(loss, [w, eps, g])
    log_p = _log_softmax(a['weak_logits'])
    self.assertAllClose(d_w, _soft_ce(t, a['weak_logits']))
    # d/d eps_i of w_i * CE(t_i) = w_i * (CE(y_i) - CE(g_i)).
    expected_eps = (
      _soft_ce(y, a['weak_logits'])
      - _soft_ce(a['pseudo_labels'], a['weak_logits'])
    ) / _B
    self.assertAllClose(d_eps, expected_eps)
    # The pseudo-label is NOT stop-gradiented here: d/dg = -w (1 - eps) log p.
    self.assertAllClose(d_g, -(1.0 / _B) * 0.1 * log_p)


class IegFinalLossTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((1, 4), (2, 8), (2, 12))
  def test_terms_and_scaling(self, num_replicas, global_batch):
    a = _inputs(2)
    p, k, eps0 = 5.0, 20.0, 0.9
    terms = _call(
      a,
      grad_eps_init=eps0,
      ce_factor=p,
      consistency_factor=k,
      global_batch=global_batch,
      num_replicas=num_replicas,
    )
    relabel, reweight, l_ce, u_ce, kl = _oracle_terms(a, eps0, p, k)
    self.assertAllClose(terms['relabel'], relabel.mean())
    self.assertAllClose(terms['reweight'], reweight.sum())
    self.assertAllClose(terms['l_loss'], l_ce.mean())
    self.assertAllClose(terms['u_loss'], u_ce.mean())
    self.assertAllClose(terms['xe_loss'], l_ce.mean() + p * u_ce.mean())
    self.assertAllClose(terms['cs_loss'], k * kl.mean())
    self.assertAllClose(terms['l2'], a['penalty'])
    net = (
      0.5 * (relabel.mean() + reweight.sum())
      + l_ce.mean()
      + p * u_ce.mean()
      + k * kl.mean()
      + a['penalty']
    )
    self.assertAllClose(terms['net_loss'], net)
    gb, r = global_batch, num_replicas
    total = (
      0.5 * (relabel.sum() / gb + reweight.sum() / r)
      + l_ce.sum() / gb
      # u_loss: a mean over the 2 * global_batch noisy MixUp rows.
      + p * u_ce.sum() / (2 * gb)
      + k * kl.sum() / gb
      + a['penalty'] / r
    )
    self.assertAllClose(terms['total'], total)
    if gb == _B * r:
      # Equal local batches: the reference's "loss / num_replicas".
      self.assertAllClose(terms['total'], net / r)

  def test_only_logits_receive_gradients(self):
    a = _inputs(3)
    tensors = {k: tf.constant(v) for k, v in a.items()}
    watched = [
      tensors[k]
      for k in (
        'pseudo_labels',
        'weights',
        'eps',
        'mix_targets',
        'weak_logits',
        'strong_logits',
        'mix_logits',
      )
    ]
    with tf.GradientTape() as tape:
      tape.watch(watched)
      terms = ieg_loss.ieg_final_loss(
        **tensors,
        grad_eps_init=0.9,
        ce_factor=5.0,
        consistency_factor=20.0,
        global_batch=_B,
        num_replicas=1,
      )
    grads = tape.gradient(terms['total'], watched)
    for g in grads[:4]:
      self.assertIsNone(g)
    self.assertGreater(np.abs(grads[4].numpy()).max(), 0.0)
    self.assertGreater(np.abs(grads[6].numpy()).max(), 0.0)
    # Only the KL term sees the strong logits, with the weak side constant:
    # d/dzs of k * sum KL / B = k * (softmax(zs) - softmax(z)) / B.
    q = np.exp(_log_softmax(a['weak_logits']))
    p = np.exp(_log_softmax(a['strong_logits']))
    self.assertAllClose(grads[5], 20.0 * (p - q) / _B)

  def test_weak_logits_gradient_oracle(self):
    # With xe and cs removed the gradient w.r.t. z has a closed form:
    # 0.5 * [(softmax(z) - t_relabel) / B + w * (softmax(z) - t_reweight)].
    a = _inputs(4)
    z = tf.constant(a['weak_logits'])
    tensors = {k: tf.constant(v) for k, v in a.items() if k != 'weak_logits'}
    tensors.update(mix_logits=None, mix_targets=None)
    with tf.GradientTape() as tape:
      tape.watch(z)
      terms = ieg_loss.ieg_final_loss(
        weak_logits=z,
        **tensors,
        grad_eps_init=0.9,
        ce_factor=5.0,
        consistency_factor=0.0,
        global_batch=_B,
        num_replicas=1,
      )
    y = np.eye(_C)[a['labels']]
    g, e, w = a['pseudo_labels'], a['eps'][:, None], a['weights'][:, None]
    s = np.exp(_log_softmax(a['weak_logits']))
    expected = 0.5 * (
      (s - (e * y + (1 - e) * g)) / _B + w * (s - (0.9 * y + 0.1 * g))
    )
    self.assertAllClose(tape.gradient(terms['total'], z), expected)
    self.assertAllClose(terms['xe_loss'], 0.0)

  def test_per_example_terms_are_replica_invariant(self):
    # Without the per-replica-normalized parts (w*, logit_norm of the MixUp
    # splits), one replica of 8 equals two replicas of 4.
    full = {k: v for k, v in _inputs(5).items()}
    more = _inputs(6)
    for key in (
      'weak_logits',
      'strong_logits',
      'labels',
      'pseudo_labels',
      'eps',
    ):
      full[key] = np.concatenate([full[key], more[key]])
    full['weights'] = np.zeros(2 * _B)
    full['penalty'] = np.float64(0.0)
    kwargs = dict(
      grad_eps_init=0.9,
      ce_factor=5.0,
      consistency_factor=20.0,
      mix_logits=None,
      mix_targets=None,
    )

    def run(part, replicas):
      tensors = {
        k: tf.constant(v[part] if np.ndim(v) else v)
        for k, v in full.items()
        if k not in ('mix_logits', 'mix_targets')
      }
      return ieg_loss.ieg_final_loss(
        **tensors, **kwargs, global_batch=2 * _B, num_replicas=replicas
      )['total']

    one = run(slice(None), 1)
    two = run(slice(0, _B), 2) + run(slice(_B, None), 2)
    self.assertAllClose(one, two)

  def test_mix_rows_must_be_three_batches(self):
    a = _inputs(7)
    a['mix_logits'] = a['mix_logits'][: 2 * _B]
    with self.assertRaisesRegex(ValueError, 'expected 3'):
      _call(
        a,
        grad_eps_init=0.9,
        ce_factor=5.0,
        consistency_factor=20.0,
        global_batch=_B,
        num_replicas=1,
      )


if __name__ == '__main__':
  tf.test.main()
