"""The `food101n` source on miniature Food-101N and Food-101 layouts."""

import os

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import prepare
from ieg_tf.data.sources import food101n
from ieg_tf.data.sources import registry
from ieg_tf.errors import UserError
from tests.data import fake_layouts


class Food101NTest(tf.test.TestCase):
  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.files = fake_layouts.food101n(self.root)
    self.meta = os.path.join(self.root, 'Food-101N_release', 'meta')

  def _cfg(self, **kwargs):
    kwargs.setdefault('probe_per_class', 1)
    return config.DataConfig(
      dataset='food101n', data_dir=self.root, noise_type='none', **kwargs
    )

  def test_splits(self):
    s = registry.load_split_set(self._cfg())
    self.assertEqual(s.class_names, fake_layouts.FOOD_CLASSES)
    self.assertLen(s.train, 202)
    self.assertAllEqual(s.train.ids, np.arange(202))
    self.assertAllEqual(s.train.labels, np.repeat(np.arange(101), 2))
    self.assertTrue(s.train.paths[3].endswith('images/dish_001/001001abc.jpg'))
    # Verified 1 rows only; the row not in imagelist.tsv is ignored.
    self.assertAllEqual(s.probe_pool.ids, np.arange(0, 202, 2))
    self.assertAllEqual(s.probe_pool.clean_labels, np.arange(101))
    self.assertAllEqual(s.test.labels, np.arange(101))
    self.assertGreaterEqual(s.test.ids.min(), food101n.TEST_ID_OFFSET)
    self.assertTrue(
      s.test.paths[0].endswith('food-101/images/dish_000/900000.jpg')
    )

  def test_probe_leaves_train(self):
    data = prepare.prepare_data(self._cfg(image_size=8))
    self.assertLen(data.probe, 101)
    self.assertLen(data.train, 101)
    self.assertEmpty(np.intersect1d(data.probe.ids, data.train.ids))
    row = next(data.train.to_dataset().as_numpy_iterator())
    self.assertAllClose(
      row['image'][4, 4], [fake_layouts.pixel(row['label'])] * 3, atol=2
    )

  def test_malformed_files(self):
    verified = os.path.join(self.meta, 'verified_train.tsv')
    with open(verified, 'a') as f:
      f.write('dish_001/zz.jpg\t2\n')
    with self.assertRaisesRegex(
      UserError, f'^{verified}: line 205: verification_label 2 is not 0 or 1'
    ):
      registry.load_split_set(self._cfg())
    fake_layouts.food101n(self.root)
    test_list = os.path.join(self.root, 'food-101', 'meta', 'test.txt')
    with open(test_list, 'a') as f:
      f.write('pizza_with_pineapple/1\n')
    with self.assertRaisesRegex(
      UserError, f'^{test_list}: line 102: .*known class'
    ):
      registry.load_split_set(self._cfg())

  def test_class_list_fallback_and_missing(self):
    os.remove(os.path.join(self.meta, 'classes.txt'))
    s = registry.load_split_set(self._cfg())  # food-101/meta/classes.txt.
    self.assertLen(s.class_names, 101)
    os.remove(os.path.join(self.root, 'food-101', 'meta', 'classes.txt'))
    with self.assertRaisesRegex(UserError, 'classes.txt'):
      registry.load_split_set(self._cfg())


if __name__ == '__main__':
  tf.test.main()
