"""Tests of the `digits` source and the source registry."""

import os

import numpy as np
from sklearn import datasets
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import sources
from ieg_tf.errors import UserError


class DigitsSourceTest(tf.test.TestCase):
  def test_digits(self):
    data = sources.load_source(config.DataConfig(dataset='digits'))
    self.assertEqual(data.name, 'digits')
    self.assertEqual(data.num_classes, 10)
    self.assertEqual(data.class_names, tuple('0123456789'))
    self.assertIsNone(data.probe)
    self.assertTrue(data.labels_are_clean)
    bunch = datasets.load_digits()
    n = len(bunch.target)
    self.assertEqual(n, 1797)
    ids = np.concatenate([data.train.ids, data.test.ids])
    self.assertAllEqual(np.sort(ids), np.arange(n))
    # The test split is a 20% hash sample: within 5 binomial sd of 0.2 * n.
    self.assertAllClose(
      len(data.test), 0.2 * n, atol=5 * np.sqrt(n * 0.16), rtol=0
    )
    for split in (data.train, data.test):
      self.assertEqual(split.images.shape[1:], (8, 8, 1))
      self.assertEqual(split.images.dtype, np.uint8)
      self.assertAllEqual(split.labels, bunch.target[split.ids])
      want = np.round(bunch.images[split.ids] / 16 * 255)[..., None]
      self.assertAllEqual(split.images, want)
    self.assertEqual(data.train.images.max(), 255)
    self.assertLen(np.unique(data.test.labels), 10)

  def test_deterministic(self):
    cfg = config.DataConfig(dataset='digits', seed=1)
    a = sources.load_source(cfg)
    b = sources.load_source(config.DataConfig(dataset='digits', seed=2))
    self.assertAllEqual(a.test.ids, b.test.ids)

  def test_unknown_dataset_lists_names(self):
    with self.assertRaisesRegex(UserError, "'imagenet'.*digits, mnist.*folder"):
      sources.load_source(config.DataConfig(dataset='imagenet'))
    self.assertEqual(
      set(sources.SOURCE_NAMES),
      {'digits', 'mnist', 'fashion_mnist', 'cifar10', 'cifar100', 'folder'}
      | set(config.REAL_NOISE_DATASETS),
    )

  def test_missing_data_dir(self):
    missing = os.path.join(self.get_temp_dir(), 'nothing_here')
    for name in sources.SOURCE_NAMES:
      cfg = config.DataConfig(dataset=name, data_dir=missing)
      with self.assertRaisesRegex(UserError, 'nothing_here does not exist'):
        sources.load_source(cfg)


if __name__ == '__main__':
  tf.test.main()
