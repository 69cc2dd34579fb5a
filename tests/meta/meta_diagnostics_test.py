"""Meta diagnostics against numpy, including the degenerate cases."""

import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from ieg_tf.meta import meta_diagnostics as md
from ieg_tf.runtime import summaries


def _batch(noisy, clean_label=None):
  out = {'is_noisy': tf.constant(noisy)}
  if clean_label is not None:
    out['clean_label'] = tf.constant(clean_label, tf.int32)
  return out


class MetaDiagnosticsTest(tf.test.TestCase):
  def test_weight_metrics_oracle(self):
    rng = np.random.default_rng(0)
    raw = np.maximum(rng.normal(0.3, 1.0, 10), 0.0)
    w = raw / raw.sum()
    noisy = rng.random(10) < 0.5
    got = md.weight_metrics(tf.constant(w), _batch(noisy), True)
    s = w * 10
    want = {
      'weights/mean': s.mean(),
      'weights/zero_fraction': np.mean(s == 0),
      'weights/frac_low': np.mean((s > 0) & (s < 0.5)),
      'weights/frac_mid': np.mean((s >= 0.5) & (s < 2.0)),
      'weights/frac_high': np.mean(s >= 2.0),
      'weights/clean_mean': s[~noisy].mean(),
      'weights/noisy_mean': s[noisy].mean(),
      'weights/clean_auc': roc_auc_score(~noisy, s),
    }
    self.assertEqual(list(got), md.weight_metric_names(True))
    for k, v in want.items():
      self.assertAllClose(got[k], v, atol=1e-6, msg=k)
    self.assertAllClose(sum(got[k] for k in list(want)[1:5]), 1.0)

  def test_clean_auc_matches_sklearn_with_ties(self):
    rng = np.random.default_rng(3)
    for _ in range(5):
      # Rounded scores give ties; zeros mimic clipped weights.
      scores = np.maximum(np.round(rng.normal(0.2, 1.0, 40), 1), 0.0)
      noisy = rng.random(40) < 0.6
      got = md.clean_auc(tf.constant(scores), tf.constant(noisy))
      self.assertAllClose(got, roc_auc_score(~noisy, scores), atol=1e-6)
    # Perfect split, reversed split, and a slice with one group missing.
    flags = tf.constant([False, False, True, True])
    self.assertEqual(float(md.clean_auc(tf.constant([3.0, 2, 1, 0]), flags)), 1)
    self.assertEqual(float(md.clean_auc(tf.constant([0.0, 1, 2, 3]), flags)), 0)
    none_noisy = tf.constant([False] * 3)
    self.assertEqual(float(md.clean_auc(tf.ones(3), none_noisy)), 0.5)

  def test_all_clipped_and_no_noisy_examples(self):
    got = md.weight_metrics(tf.zeros(4), _batch([False] * 4), True)
    self.assertEqual(float(got['weights/mean']), 0.0)
    self.assertEqual(float(got['weights/zero_fraction']), 1.0)
    self.assertEqual(float(got['weights/noisy_mean']), 0.0)  # not NaN
    plain = md.weight_metrics(tf.fill([4], 0.25), {}, False)
    self.assertEqual(list(plain), md.weight_metric_names(False))
    self.assertAllClose(plain['weights/frac_mid'], 1.0)

  def test_relabel_metrics_oracle(self):
    eps = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    noisy = np.array([True, True, False, False, True, False])
    clean = np.array([0, 1, 2, 0, 1, 2])
    g = np.eye(3)[[0, 0, 2, 1, 1, 2]] * 0.8 + 0.2 / 3
    got = md.relabel_metrics(
      tf.constant(eps), tf.constant(g), _batch(noisy, clean), True
    )
    replaced = eps == 0.0
    self.assertEqual(list(got), md.relabel_metric_names(True))
    self.assertAllClose(got['relabel/replaced_fraction'], replaced.mean())
    self.assertAllClose(
      got['relabel/replaced_noisy_share'], np.mean(replaced & noisy)
    )
    self.assertAllClose(got['relabel/noisy_fraction'], noisy.mean())
    self.assertAllClose(got['pseudo/accuracy'], np.mean(g.argmax(-1) == clean))
    guess = g.argmax(-1)
    self.assertAllClose(
      got['relabel/replaced_right_share'],
      np.mean(replaced & (guess == clean)),
    )
    self.assertAllClose(
      got['relabel/replaced_clean_share'], np.mean(replaced & ~noisy)
    )
    # Divided on the host, the shares give the ratios over the replaced /
    # noisy examples.
    means = {k: float(v) for k, v in got.items()}
    ratios = summaries.pooled_ratios(means, md.RELABEL_POOLED_RATIOS)
    self.assertAllClose(ratios['relabel/precision'], noisy[replaced].mean())
    self.assertAllClose(ratios['relabel/recall'], replaced[noisy].mean())
    self.assertAllClose(
      ratios['relabel/replacement_accuracy'],
      np.mean(guess[replaced] == clean[replaced]),
    )
    self.assertAllClose(
      ratios['relabel/replaced_label_accuracy'], 1.0 - noisy[replaced].mean()
    )
    self.assertNotIn('relabel/replaced_right_share', ratios)
    none = md.relabel_metrics(
      tf.ones(6), tf.constant(g), _batch(noisy, clean), True
    )
    none = summaries.pooled_ratios(
      {k: float(v) for k, v in none.items()}, md.RELABEL_POOLED_RATIOS
    )
    self.assertEqual(none['relabel/precision'], 0.0)  # not NaN

  def test_evidence_metrics_oracle(self):
    noisy = np.array([True, False, False, True])
    got = md.evidence_metrics(
      tf.constant(0.7), tf.constant(0.55), tf.constant(0.8), _batch(noisy), True
    )
    self.assertEqual(list(got), md.evidence_metric_names(True))
    self.assertAllClose(got['evidence/noise_rate'], 0.3)
    self.assertAllClose(got['evidence/agreement'], 0.55)
    self.assertAllClose(got['evidence/gate_open'], 1.0)
    self.assertAllClose(got['evidence/true_noise_rate'], 0.5)
    shut = md.evidence_metrics(
      tf.constant(0.9), tf.constant(0.5), tf.constant(0.6), {}, False
    )
    self.assertEqual(list(shut), md.evidence_metric_names(False))
    self.assertAllClose(shut['evidence/gate_open'], 0.0)

  def test_per_example_stats(self):
    w = tf.constant([0.5, 0.0, 0.25, 0.25])
    train = {'index': tf.constant([9, 3, 7, 1])}
    got = md.per_example_stats(train, w, tf.constant([1.0, 0.0, 0.0, 1.0]))
    self.assertAllEqual(got['index'], [9, 3, 7, 1])
    self.assertAllClose(got['weight'], [2.0, 0.0, 1.0, 1.0])
    self.assertAllEqual(got['relabel'], [0.0, 1.0, 1.0, 0.0])
    self.assertNotIn('relabel', md.per_example_stats(train, w))
    self.assertEqual(md.per_example_stats({}, w), {})


if __name__ == '__main__':
  tf.test.main()
