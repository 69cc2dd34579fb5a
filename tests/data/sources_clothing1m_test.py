"""The `clothing1m` source on a miniature copy of the official files."""

import os
import shutil

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import prepare
from ieg_tf.data.sources import clothing1m
from ieg_tf.data.sources import registry
from ieg_tf.errors import UserError
from tests.data import fake_layouts


class Clothing1MTest(tf.test.TestCase):
  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.files = fake_layouts.clothing1m(self.root)
    self.ann = os.path.join(self.root, 'annotations')

  def _cfg(self, **kwargs):
    kwargs.setdefault('probe_per_class', 2)
    kwargs.setdefault('data_dir', self.root)
    return config.DataConfig(dataset='clothing1m', noise_type='none', **kwargs)

  def test_splits(self):
    s = registry.load_split_set(self._cfg())
    noisy = self.files['noisy']
    self.assertAllEqual(s.train.ids, np.arange(len(noisy)))
    self.assertAllEqual(s.train.labels, [v for _, v in noisy])
    self.assertEqual(s.train.paths[5], os.path.join(self.root, noisy[5][0]))
    self.assertIsNone(s.train.clean_labels)
    clean = dict(self.files['clean'])
    self.assertLen(s.probe_pool, 28)
    self.assertAllEqual(
      s.probe_pool.labels, [clean[k] for k in self.files['clean_train']]
    )
    self.assertAllEqual(s.probe_pool.clean_labels, s.probe_pool.labels)
    self.assertAllEqual(
      s.test.labels, [clean[k] for k in self.files['clean_test']]
    )
    # Clean-only images get ids after the noisy ones; the overlapping key
    # keeps its noisy-list id.
    self.assertEqual(s.probe_pool.ids[0], len(noisy) - 1)
    self.assertGreaterEqual(s.test.ids.min(), clothing1m.CLEAN_ID_OFFSET)
    self.assertEqual(s.class_names, clothing1m.CLASS_NAMES)

  def test_probe_leaves_train(self):
    data = prepare.prepare_data(self._cfg(image_size=8))
    self.assertLen(data.probe, 28)  # All clean train images (2 per class).
    self.assertCountEqual(data.probe.labels, list(range(14)) * 2)
    # The clean train image that also has a noisy label left train.
    self.assertLen(data.train, len(self.files['noisy']) - 1)
    self.assertEmpty(np.intersect1d(data.probe.ids, data.train.ids))
    row = next(data.test.to_dataset().as_numpy_iterator())
    self.assertAllClose(
      row['image'][4, 4], [fake_layouts.pixel(row['label'])] * 3, atol=2
    )
    with self.assertRaisesRegex(UserError, 'needs 3 examples per class'):
      prepare.prepare_data(self._cfg(probe_per_class=3))

  def test_noisy_train_key_list_and_root_annotations(self):
    for name in os.listdir(self.ann):
      shutil.move(os.path.join(self.ann, name), self.root)
    keys = [k for k, _ in self.files['noisy'][:10]]
    with open(os.path.join(self.root, 'noisy_train_key_list.txt'), 'w') as f:
      f.write('\n'.join(keys) + '\n')
    s = registry.load_split_set(self._cfg())
    self.assertAllEqual(s.train.ids, np.arange(10))

  def _edit(self, name, line, text):
    path = os.path.join(self.ann, name)
    with open(path) as f:
      lines = f.read().splitlines()
    lines[line - 1] = text
    with open(path, 'w') as f:
      f.write('\n'.join(lines) + '\n')
    return path

  def test_malformed_files(self):
    first_noisy = self.files['noisy'][0][0]
    cases = [
      (
        'noisy_label_kv.txt',
        2,
        f'{first_noisy} 14',
        r'line 2: label 14 is outside \[0, 14\)',
      ),
      ('noisy_label_kv.txt', 3, 'images/0/00/x.jpg', 'line 3: expected'),
      (
        'noisy_label_kv.txt',
        4,
        f'{first_noisy} 1',
        f'line 4: {first_noisy} is listed twice',
      ),
      ('clean_label_kv.txt', 1, 'images/a.jpg 1.5', "line 1: label '1.5'"),
      (
        'clean_test_key_list.txt',
        2,
        'images/nowhere.jpg',
        'line 2: images/nowhere.jpg has no label in clean_label_kv.txt',
      ),
      ('clean_val_key_list.txt', 1, 'a b', 'line 1: expected one image path'),
    ]
    for name, line, text, message in cases:
      with self.subTest(name=name, line=line):
        path = self._edit(name, line, text)
        with self.assertRaisesRegex(UserError, f'^{path}: {message}'):
          registry.load_split_set(self._cfg())
        fake_layouts.clothing1m(self.root)  # Restore.

  def test_missing_files(self):
    os.remove(os.path.join(self.root, self.files['clean_test'][3]))
    with self.assertRaisesRegex(UserError, '1 bad examples.*=0'):
      registry.load_split_set(self._cfg(max_bad_examples=0))
    s = registry.load_split_set(self._cfg(max_bad_examples=1))
    self.assertLen(s.test, 13)
    os.remove(os.path.join(self.ann, 'clean_train_key_list.txt'))
    with self.assertRaisesRegex(UserError, 'clean_train_key_list.txt'):
      registry.load_split_set(self._cfg())
    empty = self.create_tempdir().full_path
    with self.assertRaisesRegex(UserError, 'has no noisy_label_kv.txt'):
      registry.load_split_set(self._cfg(data_dir=empty))


if __name__ == '__main__':
  tf.test.main()
