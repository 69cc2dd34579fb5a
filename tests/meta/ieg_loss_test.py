"""IEG's look-ahead and final loss terms against numpy oracles."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.meta import ieg_loss
from ieg_tf.meta import ieg_math
from ieg_tf.meta import mixup

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


def _gated_call(a, global_batch, threshold):
  """The final loss on one replica at the reference factors and `threshold`."""
  return _call(
    a,
    grad_eps_init=0.9,
    ce_factor=5.0,
    consistency_factor=20.0,
    global_batch=global_batch,
    num_replicas=1,
    mixup_confidence_threshold=threshold,
  )


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
      # u_loss is a mean over the replica's kept rows (all of them here).
      + p * u_ce.mean() / r
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

  @parameterized.parameters((0.0, 1), (0.5, 1), (0.6, 2), (1.0, 1))
  def test_mixup_gate_oracle(self, threshold, num_replicas):
    a = _inputs(8)
    p, k, eps0, gb = 5.0, 20.0, 0.9, _B * num_replicas
    mix_logits = tf.constant(a['mix_logits'])
    tensors = {k: tf.constant(v) for k, v in a.items() if k != 'mix_logits'}
    with tf.GradientTape() as tape:
      tape.watch(mix_logits)
      terms = ieg_loss.ieg_final_loss(
        **tensors,
        mix_logits=mix_logits,
        grad_eps_init=eps0,
        ce_factor=p,
        consistency_factor=k,
        global_batch=gb,
        num_replicas=num_replicas,
        mixup_confidence_threshold=threshold,
      )
    relabel, reweight, l_ce, u_ce, kl = _oracle_terms(a, eps0, p, k)
    # The gate reads each example's OWN pseudo-label, not its mixed target;
    # both of its MixUp rows (weak, strong) follow it.
    g_max = a['pseudo_labels'].max(-1)
    kept = g_max >= threshold if threshold > 0 else np.ones(_B, bool)
    if 0 < threshold < 1:
      # The Dirichlet pseudo-labels straddle the threshold: the gate bites.
      self.assertBetween(kept.mean(), 0.01, 0.99)
    rows = np.concatenate([kept, kept])
    u_mean = (u_ce * rows).sum() / max(rows.sum(), 1)
    self.assertAllClose(terms['mixup_kept'], kept.mean())
    self.assertAllClose(terms['u_loss'], u_mean)
    self.assertAllClose(terms['mixup_effective_factor'], p * kept.any())
    self.assertAllClose(terms['l_loss'], l_ce.mean())
    total = (
      0.5 * (relabel.sum() / gb + reweight.sum() / num_replicas)
      + l_ce.sum() / gb
      + p * u_mean / num_replicas
      + k * kl.sum() / gb
      + a['penalty'] / num_replicas
    )
    self.assertAllClose(terms['total'], total)
    grads = tape.gradient(terms['total'], mix_logits)
    self.assertTrue(np.all(np.isfinite(grads.numpy())))

  def test_gate_drops_the_term_when_nothing_is_kept(self):
    a = _inputs(9)
    a['pseudo_labels'] = np.full((_B, _C), 1.0 / _C)
    terms = _gated_call(a, _B, 0.8)
    _, _, l_ce, _, _ = _oracle_terms(a, 0.9, 5.0, 20.0)
    self.assertAllClose(terms['mixup_kept'], 0.0)
    self.assertAllClose(terms['u_loss'], 0.0)
    self.assertAllClose(terms['mixup_effective_factor'], 0.0)
    self.assertAllClose(terms['xe_loss'], l_ce.mean())

  def test_gate_reads_the_rows_mixup_targets_when_given(self):
    # Flat pseudo-labels would drop every row; the rows were mixed with
    # other targets (the evidence posterior), and the gate decides on those.
    a = _inputs(11)
    a['pseudo_labels'] = np.full((_B, _C), 1.0 / _C)
    rng = np.random.default_rng(12)
    row_targets = rng.dirichlet(np.full(_C, 0.3), _B)
    kept = row_targets.max(-1) >= 0.6
    self.assertBetween(kept.mean(), 0.01, 0.99)
    terms = _call(
      a,
      grad_eps_init=0.9,
      ce_factor=5.0,
      consistency_factor=20.0,
      global_batch=_B,
      num_replicas=1,
      mixup_confidence_threshold=0.6,
      mixup_row_targets=tf.constant(row_targets),
    )
    _, _, _, u_ce, _ = _oracle_terms(a, 0.9, 5.0, 20.0)
    rows = np.concatenate([kept, kept])
    self.assertAllClose(terms['mixup_kept'], kept.mean())
    self.assertAllClose(terms['u_loss'], (u_ce * rows).sum() / rows.sum())

  def test_one_hot_pseudo_labels_keep_every_noisy_row(self):
    # Through the real MixUp: the old gate on the MIXED target's largest
    # entry rejects rows mixed with a partner of another class, the
    # per-example gate keeps them all.
    rng = np.random.default_rng(10)
    b, c = 32, 4
    images = [
      tf.constant(rng.uniform(size=(b, 2, 2, 1)), tf.float32) for _ in range(3)
    ]
    probe_labels = tf.constant(rng.integers(0, c, b), tf.int32)
    g = np.eye(c, dtype=np.float32)[rng.integers(0, c, b)]
    mix_images, mix_targets = mixup.probe_noisy_mixup(
      tf.constant([3, 4]), images[0], probe_labels, images[1], images[2], g
    )
    self.assertEqual(mix_images.shape[0], 3 * b)
    mixed_max = mix_targets.numpy()[b:].max(-1)
    self.assertLess((mixed_max >= 0.8).mean(), 0.9)
    a = {
      'weak_logits': rng.normal(size=(b, c)),
      'strong_logits': rng.normal(size=(b, c)),
      'labels': rng.integers(0, c, b).astype(np.int32),
      'pseudo_labels': g.astype(np.float64),
      'weights': np.full(b, 1.0 / b),
      'eps': np.ones(b),
      'mix_logits': rng.normal(size=(3 * b, c)),
      'mix_targets': mix_targets.numpy().astype(np.float64),
      'penalty': np.float64(0.0),
    }
    terms = _gated_call(a, b, 0.8)
    ungated = _gated_call(a, b, 0.0)
    self.assertAllClose(terms['mixup_kept'], 1.0)
    self.assertAllClose(terms['u_loss'], ungated['u_loss'])
    self.assertAllClose(terms['total'], ungated['total'])

  def test_confident_rows_oracle(self):
    g = np.array([[0.5, 0.5, 0.0], [0.8, 0.1, 0.1], [0.2, 0.2, 0.6]])
    got = ieg_loss.confident_rows(tf.constant(g), 0.6)
    self.assertAllEqual(got, [0.0, 1.0, 1.0])
    self.assertAllEqual(ieg_loss.confident_rows(tf.constant(g), 0.0), [1, 1, 1])

  def test_kept_mean_oracle(self):
    v = np.array([1.0, 2.0, 4.0, 8.0])
    m = np.array([1.0, 0.0, 1.0, 0.0])
    self.assertAllClose(ieg_loss.kept_mean(tf.constant(v), tf.constant(m)), 2.5)
    self.assertAllClose(
      ieg_loss.kept_mean(tf.constant(v), tf.constant(np.zeros(4))), 0.0
    )

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
