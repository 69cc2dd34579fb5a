"""The meta steps' outputs, eagerly: per-example statistics, meta groups,
K views, MixUp wiring and the Meta-Weight-Net step's extra variables."""

from unittest import mock

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.errors import UserError
from ieg_tf.meta import meta_groups, methods, mixup, mwnet, mwnet_step
from ieg_tf.meta.step_api import StepContext
from ieg_tf.runtime import summaries

_M = config_lib.Method
_B = 8
_C = 3
_SEED = tf.constant([7, 3], tf.int64)
_STEP = tf.constant(900, tf.int64)  # past the ramp-up: every term is on


def _model():
  keras.utils.set_random_seed(0)
  return keras.Sequential(
    [
      keras.Input((4, 4, 1)),
      keras.layers.Flatten(),
      keras.layers.Dense(10, activation='tanh'),
      keras.layers.Dense(_C),
    ]
  )


def _batch(seed=0, extra_views=0):
  rng = np.random.default_rng(seed)

  def images():
    return tf.constant(rng.normal(size=(_B, 4, 4, 1)), tf.float32)

  clean = rng.integers(0, _C, _B)
  noisy = np.where(np.arange(_B) % 2 == 0, (clean + 1) % _C, clean)
  train = {
    'image_weak': images(),
    'image_strong': images(),
    'label': tf.constant(noisy, tf.int32),
    'clean_label': tf.constant(clean, tf.int32),
    'is_noisy': tf.constant(noisy != clean),
    'index': tf.constant(rng.permutation(100)[:_B], tf.int32),
  }
  for k in range(2, 2 + extra_views):
    train[f'image_strong_{k}'] = images()
  probe = {
    'image': images(),
    'label': tf.constant(rng.integers(0, _C, _B), tf.int32),
  }
  return {'train': train, 'probe': probe}


class MetaStepsTest(tf.test.TestCase, parameterized.TestCase):
  def setUp(self):
    super().setUp()
    self.model = _model()
    self.params = [
      tf.convert_to_tensor(v) for v in self.model.trainable_variables
    ]
    rng = np.random.default_rng(1)
    self.slots = [
      tf.constant(rng.normal(0, 0.1, p.shape), tf.float32) for p in self.params
    ]

  def _ctx(self, replicas=1, groups=1, clean=True):
    return StepContext(
      forward=self.model.stateless_call,
      global_batch=_B,
      num_replicas=replicas,
      num_classes=_C,
      weight_decay=1e-3,
      decay_mask=(True, False, True, False),
      clean_labels_known=clean,
      meta_groups=groups,
    )

  def _step(self, method, ctx=None, **kwargs):
    cfg = config_lib.replace_fields(
      config_lib.default_config(),
      method=method,
      mwnet_hidden_units=6,
      **kwargs,
    )
    return methods.build_step(cfg, ctx or self._ctx())

  def _compute(self, step, batch, seed=_SEED, **kwargs):
    return step.compute(
      self.params, [], self.slots, batch, seed, _STEP, **kwargs
    )

  @parameterized.parameters(_M.IEG, _M.L2R, _M.MWNET)
  def test_per_example_statistics_match_the_metrics(self, method):
    step = self._step(method)
    batch = _batch()
    out = self._compute(step, batch)
    per = {k: v.numpy() for k, v in out.per_example.items()}
    names = {_M.IEG: ('weight', 'relabel')}.get(method, ('weight',))
    self.assertEqual(step.per_example_names, names)
    self.assertCountEqual(per, ('index',) + names)
    self.assertAllEqual(per['index'], batch['train']['index'])
    self.assertEqual(out.per_example['index'].dtype, tf.int32)
    for name in names:
      self.assertEqual(out.per_example[name].dtype, tf.float32)
      self.assertEqual(per[name].shape, (_B,))
    w = per['weight']
    # Scaled so the average is 1 (0 if every weight was clipped).
    self.assertTrue(np.isclose(w.mean(), 1.0, atol=1e-4) or w.max() == 0.0)
    m = {k: float(v) for k, v in out.metrics.items()}
    self.assertCountEqual(m, step.metric_names)
    noisy = batch['train']['is_noisy'].numpy()
    self.assertAllClose(m['weights/mean'], w.mean(), atol=1e-6)
    self.assertAllClose(m['weights/zero_fraction'], np.mean(w == 0.0))
    self.assertAllClose(m['weights/clean_mean'], w[~noisy].mean(), atol=1e-6)
    self.assertAllClose(m['weights/noisy_mean'], w[noisy].mean(), atol=1e-6)
    bins = [np.mean((w > 0) & (w < 0.5)), np.mean((w >= 0.5) & (w < 2))]
    bins.append(np.mean(w >= 2))
    got = [m[f'weights/frac_{k}'] for k in ('low', 'mid', 'high')]
    self.assertAllClose(got, bins)
    if method == _M.IEG:
      r = per['relabel']
      self.assertTrue(set(np.unique(r)) <= {0.0, 1.0})
      self.assertAllClose(m['relabel/replaced_fraction'], r.mean())
      replaced = r == 1.0
      # The host divides the step's shares into these ratios.
      m = summaries.pooled_ratios(m, step.pooled_ratios)
      self.assertAllClose(
        m['relabel/recall'], replaced[noisy].mean() if noisy.any() else 0.0
      )
      self.assertAllClose(
        m['relabel/precision'],
        noisy[replaced].mean() if replaced.any() else 0.0,
      )

  def test_per_example_needs_an_index(self):
    batch = _batch()
    del batch['train']['index']
    out = self._compute(self._step(_M.L2R), batch)
    self.assertEqual(out.per_example, {})
    self.assertLen(out.grads, len(self.params))

  def test_supervised_has_no_per_example_statistics(self):
    step = self._step(_M.SUPERVISED)
    self.assertEqual(getattr(step, 'per_example_names', ()), ())
    out = self._compute(step, _batch()['train'])
    self.assertEqual(out.per_example, {})

  @parameterized.parameters(_M.IEG, _M.L2R, _M.MWNET)
  def test_two_groups_on_one_replica_equal_two_replicas(self, method):
    batch = _batch()
    one = self._compute(self._step(method, self._ctx(1, 2)), batch)
    halves = meta_groups.split_batch(batch, 2)
    step2 = self._step(method, self._ctx(2, 1))
    # The runtime seeds replica r of 2 at step t with (s0, 2 t + r).
    t = int(_SEED[1])
    parts = [
      self._compute(step2, halves[r], tf.constant([7, 2 * t + r], tf.int64))
      for r in range(2)
    ]
    for g, a, b in zip(one.grads, parts[0].grads, parts[1].grads):
      self.assertAllClose(g, a + b, atol=1e-6)
    for g, a, b in zip(
      one.extra_grads, parts[0].extra_grads, parts[1].extra_grads
    ):
      self.assertAllClose(g, a + b, atol=1e-7)
    for k, v in one.metrics.items():
      mean = (parts[0].metrics[k] + parts[1].metrics[k]) / 2
      self.assertAllClose(v, mean, atol=1e-6, msg=k)
    for k, v in one.per_example.items():
      cat = np.concatenate([p.per_example[k] for p in parts])
      self.assertAllClose(v, cat, atol=1e-6)
    # The whole batch as one slice is a different update.
    whole = self._compute(self._step(method, self._ctx(1, 1)), batch)
    self.assertNotAllClose(
      whole.per_example['weight'], one.per_example['weight']
    )

  def test_groups_must_divide_the_batch(self):
    with self.assertRaises(ValueError):
      self._step(_M.L2R, self._ctx(1, 3))

  def test_more_views_change_the_pseudo_label(self):
    batch = _batch(extra_views=1)
    # The reference rule replaces labels here, so the relabel loss reads g.
    ref = 'reference'
    k2 = self._compute(self._step(_M.IEG, num_views=2, relabel_rule=ref), batch)
    step3 = methods.IegStep(
      self._ctx(),
      config_lib.MethodConfig(),
      config_lib.IegConfig(num_views=3, relabel_rule=ref),
    )
    self.assertEqual(step3.num_strong_views, 2)
    k3 = self._compute(step3, batch)
    self.assertNotAllClose(
      k2.metrics['loss/relabel'], k3.metrics['loss/relabel']
    )
    k1 = self._compute(self._step(_M.IEG, num_views=1, relabel_rule=ref), batch)
    self.assertTrue(np.isfinite(k1.metrics['loss/consistency'].numpy()))
    self.assertNotAllClose(
      k1.metrics['loss/relabel'], k2.metrics['loss/relabel']
    )

  def test_label_prior_sets_the_pseudo_labels(self):
    batch = _batch()
    plain = self._compute(self._step(_M.IEG), batch)
    # A one-hot prior at the clean labels, half of the mix: it outweighs
    # any network distribution, so every pseudo-label is the clean label.
    batch['train']['label_prior'] = tf.one_hot(
      batch['train']['clean_label'], _C
    )
    voted = self._compute(self._step(_M.IEG, label_vote_neighbors=5), batch)
    self.assertAllClose(voted.metrics['pseudo/accuracy'], 1.0)
    self.assertLess(float(plain.metrics['pseudo/accuracy']), 1.0)
    for a, b in zip(plain.grads, voted.grads):
      self.assertNotAllClose(a, b)
    # Without the flag the column is ignored; with it, a missing column is
    # an error rather than a silent run of the paper's IEG.
    ignored = self._compute(self._step(_M.IEG), batch)
    for a, b in zip(plain.grads, ignored.grads):
      self.assertAllClose(a, b, rtol=1e-5, atol=1e-7)
    with self.assertRaisesRegex(UserError, "no 'label_prior'"):
      self._compute(self._step(_M.IEG, label_vote_neighbors=5), _batch())

  def test_vote_confidence_weights_only_prior_agreeing_labels(self):
    batch = _batch()
    # The prior is one-hot at the clean label, so p_prior(given label) is 1
    # for clean and 0 for noisy examples: all weight goes to clean ones.
    batch['train']['label_prior'] = tf.one_hot(
      batch['train']['clean_label'], _C
    )
    step = self._step(
      _M.IEG,
      label_vote_neighbors=5,
      weight_source='vote',
    )
    out = self._compute(step, batch)
    weight = out.per_example['weight'].numpy()
    noisy = batch['train']['is_noisy'].numpy()
    labels = batch['train']['label'].numpy()
    # A label carried only by noisy examples keeps its batch share
    # (uniform within it); every other noisy example gets nothing.
    shared = np.array([(~noisy & (labels == y)).any() for y in labels])
    self.assertTrue((noisy & shared).any())
    self.assertAllClose(
      weight[noisy & shared], np.zeros((noisy & shared).sum())
    )
    self.assertTrue((weight[~noisy] > 0).all())

  def test_missing_views_are_user_errors(self):
    cfg = config_lib.replace_fields(config_lib.default_config(), num_views=3)
    step3 = methods.IegStep(self._ctx(), cfg.method, cfg.ieg)
    with self.assertRaisesRegex(UserError, 'image_strong_2'):
      self._compute(step3, _batch())
    built = methods.build_step(cfg, self._ctx())
    self.assertIsInstance(built, methods.IegStep)
    self.assertEqual(built.num_strong_views, 2)
    with self.assertRaises(UserError):
      self._step(_M.IEG, num_views=0)

  def test_evidence_rule_mixes_towards_the_class_posterior(self):
    batch = _batch()

    def out(**kwargs):
      step = self._step(_M.IEG, **kwargs)
      with mock.patch.object(
        mixup, 'probe_noisy_mixup', wraps=mixup.probe_noisy_mixup
      ) as spy:
        metrics = self._compute(step, batch).metrics
      # probe_noisy_mixup(seed, probe images, probe labels, weak, strong,
      # the noisy rows' targets).
      return metrics, spy.call_args.args[5].numpy()

    evidence, targets = out(relabel_rule='evidence')
    reference, pseudo = out(relabel_rule='reference')
    self.assertNotAllClose(evidence['loss/xemin'], reference['loss/xemin'])
    # Evidence: each noisy row is mixed towards q(c) proportional to
    # e(c) * (rho if c is the given label else (1 - rho) / (C - 1)), with e
    # the mean softmax of the two views (K = 2 sharpens nothing here).
    probs = [
      tf.nn.softmax(
        self.model.stateless_call(
          self.params, [], batch['train'][k], training=True
        )[0]
      ).numpy()
      for k in ('image_weak', 'image_strong')
    ]
    e = (probs[0] + probs[1]) / 2
    labels = batch['train']['label'].numpy()
    rho = 1.0 - float(evidence['evidence/noise_rate'])
    onehot = np.eye(_C)[labels]
    q = e * (onehot * rho + (1 - onehot) * (1 - rho) / (_C - 1))
    q /= q.sum(-1, keepdims=True)
    self.assertAllClose(targets, q, atol=1e-5)
    # Reference: towards the sharpened pseudo-labels, not the posterior.
    self.assertNotAllClose(pseudo, q)
    self.assertAllClose(pseudo.sum(-1), np.ones(_B), atol=1e-5)
    # With the neighbor-vote prior the evidence is the network's times the
    # vote's, renormalized; rho still comes from the network alone.
    prior = np.random.default_rng(5).dirichlet(np.ones(_C), _B)
    batch['train']['label_prior'] = tf.constant(prior, tf.float32)
    voted, voted_targets = out(relabel_rule='evidence', label_vote_neighbors=5)
    rho = 1.0 - float(voted['evidence/noise_rate'])
    mixed = e * prior / (e * prior).sum(-1, keepdims=True)
    q = mixed * (onehot * rho + (1 - onehot) * (1 - rho) / (_C - 1))
    q /= q.sum(-1, keepdims=True)
    self.assertAllClose(voted_targets, q, atol=1e-5)
    self.assertAllClose(
      voted['evidence/noise_rate'], evidence['evidence/noise_rate']
    )

  @parameterized.parameters(_M.IEG, _M.L2R)
  def test_weight_rule_and_source_reach_the_weights(self, method):
    batch = _batch()

    def weights(**kwargs):
      out = self._compute(self._step(method, **kwargs), batch)
      return out.per_example['weight'].numpy() / _B

    base = weights()
    # class_balanced: every given label keeps its share of the batch.
    balanced = weights(meta_weight_rule='class_balanced')
    self.assertNotAllClose(base, balanced)
    labels = batch['train']['label'].numpy()
    for y in np.unique(labels):
      self.assertAllClose(
        balanced[labels == y].sum(), np.mean(labels == y), atol=1e-5
      )
    # network: the weak view's p(given label) over its label's batch mean.
    logits = self.model.stateless_call(
      self.params, [], batch['train']['image_weak'], training=True
    )[0]
    probs = tf.nn.softmax(logits).numpy()
    p_given = probs[np.arange(_B), labels]
    mean = np.array([p_given[labels == y].mean() for y in labels])
    self.assertAllClose(
      weights(weight_source='network'), p_given / mean / _B, atol=1e-5
    )

  def test_evidence_relabel_rule_vetoes_the_meta_gradient(self):
    batch = _batch()

    def run(**kwargs):
      out = self._compute(self._step(_M.IEG, **kwargs), batch)
      return out.per_example['relabel'].numpy(), out.metrics

    reference, _ = run(relabel_rule='reference')
    evidence, metrics = run(relabel_rule='evidence')
    # A label goes only where the meta-gradient proposes it.
    self.assertTrue(np.all(evidence <= reference))
    views = [
      self.model.stateless_call(
        self.params, [], batch['train'][k], training=True
      )[0]
      for k in ('image_weak', 'image_strong')
    ]
    labels = batch['train']['label'].numpy()
    # The agreement is read on the weak view (the probe's view).
    m = np.mean(views[0].numpy().argmax(-1) == labels)
    self.assertAllClose(metrics['evidence/agreement'], m)
    rho = 1.0 - float(metrics['evidence/noise_rate'])
    a = float(metrics['acc/meta'])
    u = (1 - a) / (_C - 1)
    want_rho = 1.0 if a - u < 0.05 else np.clip((m - u) / (a - u), 0, 1)
    self.assertAllClose(rho, want_rho, atol=1e-5)
    if a <= rho:  # Gate shut: nothing is replaced.
      self.assertEqual(evidence.sum(), 0.0)
    # The default is the evidence rule.
    default, _ = run()
    self.assertAllEqual(default, evidence)

  def test_evidence_rule_holds_half_of_the_probe_out_of_mixup(self):
    batch = _batch()
    holdout = np.arange(_B) % 3 == 1
    batch['probe']['holdout'] = tf.constant(holdout)

    def run(rule, flags):
      batch['probe']['holdout'] = tf.constant(flags)
      seen = []
      real = mixup.probe_noisy_mixup

      def spy(seed, probe_images, *args, **kwargs):
        seen.append(probe_images.numpy())
        return real(seed, probe_images, *args, **kwargs)

      step = self._step(_M.IEG, relabel_rule=rule)
      with mock.patch.object(mixup, 'probe_noisy_mixup', spy):
        metrics = self._compute(step, batch).metrics
      return {k: float(v) for k, v in metrics.items()}, seen[0]

    images = batch['probe']['image'].numpy()
    evidence, mixed = run('evidence', holdout)
    # MixUp sees only the training rows, cycled to fill the batch.
    train_rows = np.flatnonzero(~holdout)
    want = train_rows[np.arange(_B) % len(train_rows)]
    self.assertAllClose(mixed, images[want])
    # The evidence reads the held-out rows: the accuracies on the two
    # halves (theta' does not depend on the probe) average to acc/meta.
    other, _ = run('evidence', ~holdout)
    n = holdout.sum()
    pooled = (
      n * evidence['evidence/model_accuracy']
      + (_B - n) * other['evidence/model_accuracy']
    ) / _B
    self.assertAllClose(pooled, evidence['acc/meta'], atol=1e-6)
    # The reference rule mixes every probe row and reads all of them.
    reference, mixed = run('reference', holdout)
    self.assertAllClose(mixed, images)
    self.assertAllClose(
      reference['evidence/model_accuracy'], reference['acc/meta']
    )

  def test_mwnet_owns_a_seeded_mlp_and_returns_its_gradients(self):
    step = self._step(_M.MWNET, mwnet_learning_rate=0.02)
    self.assertEqual(step.extra_learning_rate, 0.02)
    shapes = [v.shape.as_list() for v in step.extra_variables]
    self.assertEqual(shapes, [[1, 6], [6], [6, 1], [1]])
    again = self._step(_M.MWNET)
    for a, b in zip(step.extra_variables, again.extra_variables):
      self.assertAllEqual(a, b)
    batch = _batch()
    mw = [v + 0.01 for v in step.extra_variables]  # extra= wins over the vars
    out = self._compute(step, batch, extra=mw)

    def forward(p, x):
      return self.model.stateless_call(p, [], x, training=True)[0]

    oracle = mwnet.mwnet_meta_gradients(
      forward,
      self.params,
      None,
      mw,
      images=batch['train']['image_weak'],
      labels=batch['train']['label'],
      probe_images=batch['probe']['image'],
      probe_labels=batch['probe']['label'],
      meta_stepsize=0.1,
      weight_decay=1e-3,
      decay_mask=(True, False, True, False),
    )
    self.assertLen(out.extra_grads, 4)
    for got, g, p in zip(out.extra_grads, oracle.meta_grads, mw):
      want = g + mwnet_step.MLP_WEIGHT_DECAY * p
      self.assertAllClose(got, want, atol=1e-7)
    self.assertAllClose(out.metrics['loss/meta'], oracle.probe_loss)
    # Weights of the real step: the MLP of the losses at theta, normalized.
    logits = forward(self.params, batch['train']['image_weak'])
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(
      batch['train']['label'], logits
    ).numpy()
    raw = mwnet.mwnet_forward(mw, tf.constant(ce)).numpy()
    self.assertAllClose(out.per_example['weight'], raw / raw.sum() * _B)
    # Without extra= the step reads its variables.
    plain = self._compute(step, batch)
    self.assertNotAllClose(plain.extra_grads[0], out.extra_grads[0])


if __name__ == '__main__':
  tf.test.main()
