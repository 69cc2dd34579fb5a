"""The `webvision_mini` source on a miniature copy of the official layout."""

import os
import shutil

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import prepare
from ieg_tf.data.sources import registry
from ieg_tf.data.sources import webvision
from ieg_tf.errors import UserError
from tests.data import fake_layouts


class WebVisionTest(tf.test.TestCase):
  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.wv = os.path.join(self.root, 'webvision')
    self.inet = os.path.join(self.root, 'ILSVRC2012')
    self.listed = fake_layouts.webvision(
      self.wv, train_per_class=2, val_per_class=3, imagenet=self.inet
    )

  def _cfg(self, **kwargs):
    kwargs.setdefault('probe_per_class', 1)
    kwargs.setdefault('data_dir', self.wv)
    return config.DataConfig(
      dataset='webvision_mini', noise_type='none', **kwargs
    )

  def test_lists_first_50_classes(self):
    s = registry.load_split_set(self._cfg())
    kept = [
      (i, p, c) for i, (p, c) in enumerate(self.listed['train']) if c < 50
    ]
    self.assertAllEqual(s.train.ids, [i for i, _, _ in kept])
    self.assertAllEqual(s.train.labels, [c for _, _, c in kept])
    self.assertEqual(
      list(s.train.paths), [os.path.join(self.wv, p) for _, p, _ in kept]
    )
    self.assertIsNone(s.train.clean_labels)  # Web labels: truth unknown.
    self.assertEqual(s.train.image_shape, (224, 224, 3))
    self.assertTrue(s.train.center_crop)
    self.assertEqual(
      s.test.paths[0], os.path.join(self.wv, 'val_images_256', 'val000000.jpg')
    )
    self.assertTrue(s.test.ids.min() >= webvision.VAL_ID_OFFSET)
    self.assertEqual(s.class_names[3], f'{fake_layouts.wnid(3)} class3, thing')
    self.assertTrue(s.probe_from_test)
    self.assertEqual(s.extra_tests, {})

  def test_probe_held_out_of_val(self):
    data = prepare.prepare_data(self._cfg(image_size=8))
    self.assertLen(data.probe, 50)
    self.assertLen(data.test, 100)
    self.assertEmpty(np.intersect1d(data.probe.ids, data.test.ids))
    self.assertAllEqual(data.probe.labels[:50], np.arange(50))  # Interleaved.
    self.assertLen(data.train, 100)
    # Decoded images carry their class (pixel value) through the pipeline.
    probe = list(data.probe.to_dataset().as_numpy_iterator())
    for row in probe[:5]:
      self.assertEqual(row['image'].shape, (8, 8, 3))
      self.assertAllClose(
        row['image'][4, 4], [fake_layouts.pixel(row['label'])] * 3, atol=2
      )

  def test_imagenet_probe_and_second_test_set(self):
    data = prepare.prepare_data(
      self._cfg(imagenet_dir=self.inet, probe_per_class=2, image_size=8)
    )
    self.assertLen(data.probe, 100)
    self.assertTrue(
      np.all(data.probe.ids >= webvision.IMAGENET_TRAIN_ID_OFFSET)
    )
    self.assertLen(data.test, 150)  # All of WebVision val.
    imagenet = data.extra_tests['imagenet']
    self.assertLen(imagenet, 50)  # Classes 50 and 51 are left out.
    self.assertCountEqual(imagenet.labels, range(50))
    for row in imagenet.to_dataset().take(4).as_numpy_iterator():
      self.assertAllClose(
        row['image'][4, 4], [fake_layouts.pixel(row['label'])] * 3, atol=2
      )

  def test_class_index_folders(self):
    # DivideMix's layout: imagenet/val/<class index>/.
    alt = os.path.join(self.root, 'alt')
    for c in range(50):
      src = os.path.join(self.inet, 'val', fake_layouts.wnid(c))
      shutil.copytree(src, os.path.join(alt, 'val', str(c)))
    s = registry.load_split_set(self._cfg(imagenet_dir=alt))
    self.assertCountEqual(s.extra_tests['imagenet'].labels, range(50))
    self.assertTrue(s.probe_from_test)  # No train/ folder.

  def test_missing_images_are_counted(self):
    rel = self.listed['train'][0][0]
    os.remove(os.path.join(self.wv, rel))
    os.remove(os.path.join(self.wv, 'val_images_256', 'val000100.jpg'))
    with self.assertRaisesRegex(UserError, r'2 bad examples .*=1; e\.g\. '):
      registry.load_split_set(self._cfg(max_bad_examples=1))
    s = registry.load_split_set(self._cfg(max_bad_examples=2))
    self.assertLen(s.train, 99)
    self.assertLen(s.test, 149)
    self.assertEqual(s.bad_examples.total(), 2)

  def _edit(self, name, line, text):
    path = os.path.join(self.wv, 'info', name)
    with open(path) as f:
      lines = f.read().splitlines()
    lines[line - 1] = text
    with open(path, 'w') as f:
      f.write('\n'.join(lines) + '\n')
    return path

  def test_malformed_lists(self):
    cases = [
      (
        'train_filelist_google.txt',
        3,
        'google/q0001/x.jpg',
        'line 3: expected',
      ),
      (
        'train_filelist_google.txt',
        4,
        'google/q0001/x.jpg seven',
        "line 4: label 'seven'",
      ),
      (
        'val_filelist.txt',
        2,
        'val000001.jpg 1000',
        r'line 2: label 1000 is outside \[0, 1000\)',
      ),
      ('val_filelist.txt', 5, 'val000001.jpg -1', 'line 5: label -1'),
      ('synsets.txt', 7, 'tench', 'line 7: expected "<wnid> <names>"'),
    ]
    for name, line, text, message in cases:
      with self.subTest(name=name, line=line):
        path = self._edit(name, line, text)
        with self.assertRaisesRegex(UserError, f'^{path}: {message}'):
          registry.load_split_set(self._cfg(imagenet_dir=self.inet))
        fake_layouts.webvision(self.wv, 2, 3)  # Restore.

  def test_layout_errors(self):
    shutil.rmtree(os.path.join(self.inet, 'val', fake_layouts.wnid(7)))
    with self.assertRaisesRegex(UserError, 'lacks class folders.*7'):
      registry.load_split_set(self._cfg(imagenet_dir=self.inet))
    with self.assertRaisesRegex(UserError, 'has no val/'):
      registry.load_split_set(self._cfg(imagenet_dir=self.root))
    os.remove(os.path.join(self.wv, 'info', 'synsets.txt'))
    shutil.copytree(
      os.path.join(self.inet, 'val', fake_layouts.wnid(8)),
      os.path.join(self.inet, 'val', fake_layouts.wnid(7)),
    )
    with self.assertRaisesRegex(UserError, 'need the WebVision class list'):
      registry.load_split_set(self._cfg(imagenet_dir=self.inet))
    os.remove(os.path.join(self.wv, 'info', 'val_filelist.txt'))
    with self.assertRaisesRegex(UserError, 'val_filelist.txt'):
      registry.load_split_set(self._cfg())
    with self.assertRaisesRegex(UserError, 'needs --data_dir'):
      registry.load_split_set(self._cfg(data_dir=''))


if __name__ == '__main__':
  tf.test.main()
