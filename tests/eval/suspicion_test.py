"""Suspicion score, suspect rule and report metrics against numpy / sklearn."""

from absl.testing import parameterized
import numpy as np
from sklearn import metrics as skm
import tensorflow as tf

from ieg_tf.eval import suspicion


class SuspicionTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(0, 1, 2)
  def test_roc_auc_matches_sklearn_with_ties(self, seed):
    rng = np.random.default_rng(seed)
    truth = rng.random(200) < 0.3
    # Rounded scores give many ties, which the Mann-Whitney form averages.
    score = np.round(rng.random(200) + 0.5 * truth, 1)
    self.assertAllClose(
      suspicion.roc_auc(score, truth), skm.roc_auc_score(truth, score)
    )

  def test_roc_auc_extremes(self):
    truth = np.array([0, 0, 1, 1], bool)
    self.assertEqual(suspicion.roc_auc([0.1, 0.2, 0.3, 0.4], truth), 1.0)
    self.assertEqual(suspicion.roc_auc([0.4, 0.3, 0.2, 0.1], truth), 0.0)
    self.assertEqual(suspicion.roc_auc([0.5] * 4, truth), 0.5)
    self.assertTrue(np.isnan(suspicion.roc_auc([0.1, 0.2], [True, True])))

  def test_detection_metrics_match_sklearn(self):
    rng = np.random.default_rng(3)
    flags, truth = rng.random(100) < 0.4, rng.random(100) < 0.5
    p, r, f, _ = skm.precision_recall_fscore_support(
      truth, flags, average='binary'
    )
    got = suspicion.detection_metrics(flags, truth)
    self.assertAllClose([got['precision'], got['recall'], got['f1']], [p, r, f])
    empty = suspicion.detection_metrics(np.zeros(3, bool), np.ones(3, bool))
    self.assertEqual(empty, {'precision': 0.0, 'recall': 0.0, 'f1': 0.0})

  def test_score_and_rule(self):
    p_given = np.array([0.05, 0.45, 0.9, 0.3])
    given = np.array([0, 0, 1, 2])
    suggested = np.array([1, 0, 1, 0])
    score = suspicion.suspicion_score(p_given)
    self.assertAllClose(score, [0.95, 0.55, 0.1, 0.7])
    # Row 1: p_given < 1/2 but still the most probable class: not suspect.
    flags = suspicion.suspect_flags(given, suggested)
    self.assertAllEqual(flags, [True, False, False, True])
    self.assertAllClose(suspicion.suspicion_score([-0.1, 1.2]), [1.0, 0.0])

  def test_ranking_orders_by_score_then_p_suggested_then_id(self):
    score = np.array([0.2, 0.9, 0.9, 0.9])
    p_suggested = np.array([0.5, 0.6, 0.8, 0.8])
    ids = np.array([0, 1, 7, 5])
    self.assertAllEqual(
      suspicion.ranking(score, p_suggested, ids), [3, 2, 1, 0]
    )

  def test_confusion_matrix(self):
    got = suspicion.confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 0, 0], 3)
    self.assertAllEqual(
      got, skm.confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 0, 0])
    )


if __name__ == '__main__':
  tf.test.main()
