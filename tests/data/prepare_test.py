"""Tests of ieg_tf.data.prepare: source -> probe -> noise."""

import dataclasses
import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import noise
from ieg_tf.data import prepare
from ieg_tf.data import sources
from ieg_tf.errors import UserError

_DIGITS = config.DataConfig(
  dataset='digits',
  noise_type=config.NoiseType.UNIFORM,
  noise_ratio=0.6,
  probe_per_class=10,
)


def _write_png(path, value):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tf.io.write_file(path, tf.io.encode_png(np.full((6, 6, 3), value, np.uint8)))


class PrepareTest(tf.test.TestCase, parameterized.TestCase):
  def test_digits_probe_and_noise(self):
    data = prepare.prepare_data(_DIGITS)
    source = sources.load_source(_DIGITS)
    self.assertEqual(data.name, 'digits')
    self.assertEqual(data.image_shape, (8, 8, 1))
    self.assertEqual(data.class_names, source.class_names)
    # Probe: 10 per class, interleaved, clean, disjoint from train.
    self.assertLen(data.probe, 100)
    self.assertAllEqual(data.probe.labels, np.tile(np.arange(10), 10))
    truth = dict(zip(source.train.ids, source.train.labels))
    self.assertAllEqual(data.probe.labels, [truth[i] for i in data.probe.ids])
    self.assertEmpty(np.intersect1d(data.probe.ids, data.train.ids))
    self.assertAllEqual(
      np.sort(np.concatenate([data.probe.ids, data.train.ids])),
      np.sort(source.train.ids),
    )
    self.assertAllEqual(data.test.ids, source.test.ids)
    # Train: clean labels kept, noisy labels from apply_noise on the rest.
    train = data.train
    self.assertAllEqual(train.clean_labels, [truth[i] for i in train.ids])
    want = noise.apply_noise(
      train.clean_labels, train.ids, 10, 'uniform', 0.6, _DIGITS.seed, 'digits'
    )
    self.assertAllEqual(train.labels, want)
    p, n = 0.6 * 0.9, len(train)
    self.assertAllClose(
      np.mean(train.labels != train.clean_labels),
      p,
      atol=5 * np.sqrt(p * (1 - p) / n),
      rtol=0,
    )
    row = next(iter(train.to_dataset()))
    self.assertIn('is_noisy', row)

  def test_deterministic(self):
    a = prepare.prepare_data(_DIGITS)
    b = prepare.prepare_data(_DIGITS)
    self.assertAllEqual(a.train.labels, b.train.labels)
    self.assertAllEqual(a.probe.ids, b.probe.ids)
    c = prepare.prepare_data(dataclasses.replace(_DIGITS, seed=1))
    common, ia, ic = np.intersect1d(
      a.train.ids, c.train.ids, return_indices=True
    )
    self.assertGreater(len(common), 1000)
    self.assertGreater(np.mean(a.train.labels[ia] != c.train.labels[ic]), 0.3)
    self.assertNotAllEqual(np.sort(a.probe.ids), np.sort(c.probe.ids))

  def test_hold_ratio_wins_over_per_class(self):
    cfg = dataclasses.replace(_DIGITS, probe_per_class=10, probe_hold_ratio=0.1)
    data = prepare.prepare_data(cfg)
    n_source = len(data.train) + len(data.probe)
    per_class = int(np.floor(n_source * 0.1)) // 10
    self.assertLen(data.probe, 10 * per_class)

  def test_no_probe(self):
    cfg = dataclasses.replace(
      _DIGITS, probe_per_class=0, noise_type=config.NoiseType.NONE
    )
    data = prepare.prepare_data(cfg)
    self.assertLen(data.probe, 0)
    self.assertEqual(data.probe.image_shape, (8, 8, 1))
    self.assertAllEqual(data.train.labels, data.train.clean_labels)
    self.assertFalse(any(r['is_noisy'] for r in data.train.to_dataset()))

  def test_noisy_labels_file_wins_over_noise_type(self):
    source = sources.load_source(_DIGITS)
    given = (source.train.labels + 3) % 10
    path = os.path.join(self.get_temp_dir(), 'noisy.npy')
    np.save(path, given)
    cfg = dataclasses.replace(_DIGITS, noisy_labels_file=path)
    data = prepare.prepare_data(cfg)
    by_id = dict(zip(source.train.ids, given))
    self.assertAllEqual(data.train.labels, [by_id[i] for i in data.train.ids])
    self.assertAllEqual(data.train.clean_labels, (data.train.labels - 3) % 10)
    # The probe still has clean labels and one image per class per row.
    self.assertAllEqual(data.probe.labels, np.tile(np.arange(10), 10))

  def test_folder_with_provided_probe(self):
    root = self.create_tempdir().full_path
    for cls, count in (('a', 4), ('b', 3)):
      for i in range(count):
        _write_png(os.path.join(root, 'train', cls, f'{i}.png'), i)
        _write_png(os.path.join(root, 'probe', cls, f'{i}.png'), i)
      _write_png(os.path.join(root, 'test', cls, 'x.png'), 1)
    cfg = config.DataConfig(
      dataset='folder', data_dir=root, noise_type='flip', noise_ratio=1.0
    )
    data = prepare.prepare_data(cfg)
    self.assertLen(data.train, 7)
    self.assertAllEqual(data.probe.labels, [0, 1, 0, 1, 0, 1, 0])
    self.assertTrue(np.all(data.probe.ids >= 10**9))
    self.assertTrue(np.all(data.train.labels != data.train.clean_labels))
    self.assertEqual(data.image_shape, (6, 6, 3))

  @parameterized.named_parameters(
    ('unknown', {'dataset': 'imagenet'}, 'unknown dataset.*digits'),
    ('ratio', {'noise_ratio': 1.5}, 'noise ratio must be in'),
    ('probe', {'probe_per_class': 500}, 'class \\d+ has only \\d+'),
    ('labels_file', {'noisy_labels_file': '/nope.csv'}, 'nope.csv does not'),
    ('folder_no_dir', {'dataset': 'folder'}, 'must hold train/<class>'),
  )
  def test_user_errors(self, changes, message):
    cfg = dataclasses.replace(_DIGITS, **changes)
    with self.assertRaisesRegex(UserError, message):
      prepare.prepare_data(cfg)

  def test_asymmetric_noise_on_folder(self):
    root = self.create_tempdir().full_path
    for cls in 'ab':
      for i in range(3):
        _write_png(os.path.join(root, 'train', cls, f'{i}.png'), i)
    cfg = config.DataConfig(
      dataset='folder',
      data_dir=root,
      noise_type='asymmetric',
      probe_per_class=1,
    )
    with self.assertRaisesRegex(UserError, "no class map for dataset 'folder'"):
      prepare.prepare_data(cfg)


if __name__ == '__main__':
  tf.test.main()
