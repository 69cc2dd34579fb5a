"""The neighbor-vote label prior: flags, computation, file round trip."""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data.prepare import PreparedData
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError
from ieg_tf.meta import label_prior
from ieg_tf.meta import neighbor_vote
from ieg_tf.runtime import devices

devices.ensure_logical_cpus(2)


def _clustered(n, seed, noise_rate):
  """3 classes, each image its class's 6x6 template plus pixel noise."""
  rng = np.random.default_rng(seed)
  templates = np.random.default_rng(99).integers(0, 256, (3, 6, 6, 1))
  clean = rng.integers(0, 3, n)
  images = templates[clean] + rng.normal(0, 20, (n, 6, 6, 1))
  noisy = rng.random(n) < noise_rate
  labels = np.where(noisy, (clean + rng.integers(1, 3, n)) % 3, clean)
  return Split(
    labels=labels,
    ids=np.arange(n) + 1000 * seed,
    images=np.clip(images, 0, 255).astype(np.uint8),
    clean_labels=clean,
  )


def _data():
  train = _clustered(120, 1, 0.5)
  probe = _clustered(15, 2, 0.0)
  return PreparedData(
    name='clusters',
    num_classes=3,
    class_names=('a', 'b', 'c'),
    train=train,
    probe=probe.with_labels(probe.clean_labels, None),
    test=probe,
    image_shape=(6, 6, 1),
  )


def _cfg(**method):
  base = config.default_config()
  m = dataclasses.replace(base.method, **method)
  return dataclasses.replace(base, method=m)


class ComputePriorTest(tf.test.TestCase):
  def test_pixel_encoder_recovers_the_clusters(self):
    data = _data()
    strategy = devices.cpu_mirrored_strategy(2)
    with strategy.scope():
      encoder = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Flatten()]
      )
    prior, diag = label_prior.compute_prior(
      strategy, encoder, data, data.train, k=30, batch=8
    )
    self.assertEqual(prior.shape, (120, 3))
    self.assertAllClose(prior.sum(1), np.ones(120), atol=1e-5)
    given = np.mean(data.train.labels == data.train.clean_labels)
    self.assertLess(given, 0.6)
    self.assertAllClose(diag['label_vote/given_top1'], given)
    # Half the labels wrong, but the neighbors' labels agree on the true class.
    self.assertGreater(diag['label_vote/train_top1'], 0.9)
    self.assertGreater(np.mean(prior.argmax(1) == data.train.clean_labels), 0.9)
    self.assertGreater(diag['label_vote/clean_auc'], 0.9)
    self.assertGreater(diag['label_vote/probe_top1'], 0.9)
    # With a vote this good, its agreement with the labels measures them.
    self.assertAllClose(
      diag['label_vote/given_top1_estimate'], given, atol=0.02
    )
    self.assertGreater(diag['label_vote/prior_top1'], 0.9)
    # Calibration sharpens the flat raw vote and lowers the probe NLL.
    self.assertLess(diag['label_vote/temperature'], 1.0)
    self.assertLess(
      diag['label_vote/probe_nll'], diag['label_vote/probe_nll_raw']
    )

  def test_empty_probe_is_a_user_error(self):
    data = dataclasses.replace(_data(), probe=_data().probe.take([]))
    with self.assertRaisesRegex(UserError, '--probe_per_class'):
      label_prior.compute_prior(None, None, data, data.train, k=3, batch=8)


class DiagnosticsTest(tf.test.TestCase):
  def test_hand_case(self):
    split = Split(
      labels=[0, 1, 1, 0],
      ids=[1, 2, 3, 4],
      images=np.zeros((4, 2, 2, 1), np.uint8),
      clean_labels=[0, 0, 1, 1],
    )
    votes = np.array([[0.6, 0.4], [0.7, 0.3], [0.2, 0.8], [0.45, 0.55]])
    probe_votes = np.array([[0.6, 0.4], [0.3, 0.7]])
    diag = label_prior.vote_diagnostics(
      votes, votes, split, probe_votes, np.array([0, 0]), (1.0, 0.0)
    )
    self.assertAllClose(diag['label_vote/train_top1'], 1.0)
    self.assertAllClose(diag['label_vote/given_top1'], 0.5)
    self.assertAllClose(diag['label_vote/probe_top1'], 0.5)
    self.assertAllClose(
      diag['label_vote/probe_nll'], -(np.log(0.6) + np.log(0.3)) / 2
    )
    # prior[given]: clean rows 0.6, 0.8; noisy rows 0.3, 0.45 -> AUC 1.
    self.assertAllClose(diag['label_vote/clean_auc'], 1.0)


class FileTest(tf.test.TestCase):
  def test_round_trip_and_mismatches(self):
    split = _clustered(10, 1, 0.0)
    prior = neighbor_vote.sharpen(
      np.random.default_rng(0).dirichlet(np.ones(3), 10), 0.5
    )
    path = os.path.join(self.create_tempdir().full_path, label_prior.FILE_NAME)
    with self.assertRaisesRegex(UserError, 'is missing'):
      label_prior.load(path, split, 7, 3)
    diag = {'label_vote/temperature': 0.5, 'label_vote/uniform_share': 0.0}
    label_prior.save(path, split, 7, prior, diag)
    self.assertFalse(tf.io.gfile.exists(path + '.tmp'))
    self.assertAllClose(label_prior.load(path, split, 7, 3), prior)
    relabeled = split.with_labels((split.labels + 1) % 3, split.clean_labels)
    for other, k, c in (
      (split.take(np.arange(9)), 7, 3),  # other examples
      (relabeled, 7, 3),  # other noisy labels
      (split, 8, 3),  # other K
      (split, 7, 4),  # other classes
    ):
      with self.assertRaisesRegex(UserError, 'saved K=7'):
        label_prior.load(path, other, k, c)
    with open(path, 'wb') as f:
      f.write(b'not a zip')
    with self.assertRaisesRegex(UserError, 'cannot read'):
      label_prior.load(path, split, 7, 3)


if __name__ == '__main__':
  tf.test.main()
