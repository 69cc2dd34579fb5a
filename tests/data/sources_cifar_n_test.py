"""The `cifar10n` / `cifar100n` sources: label files, order checks, errors."""

import os

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import prepare
from ieg_tf.data.sources import registry
from ieg_tf.data.sources import tfds_fallback
from ieg_tf.errors import UserError
from tests.data import fake_layouts


def _csv(table: dict) -> str:
  names = list(table)
  rows = [',' + ','.join(names)]  # pandas writes an unnamed index column.
  for i in range(len(table[names[0]])):
    rows.append(f'{i},' + ','.join(str(table[k][i]) for k in names))
  return '\n'.join(rows) + '\n'


class CifarNTest(tf.test.TestCase):
  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.labels, self.images = fake_layouts.cifar10_binary(self.root)
    self.table = fake_layouts.cifar10n_table(self.labels)

  def _write(self, name, data):
    mode = 'w' if isinstance(data, str) else 'wb'
    with open(os.path.join(self.root, name), mode) as f:
      f.write(data)

  def _load(self, **kwargs):
    cfg = config.DataConfig(
      dataset='cifar10n', data_dir=self.root, noise_type='none', **kwargs
    )
    return registry.load_split_set(cfg)

  def test_every_label_file_format(self):
    formats = {
      'CIFAR-10_human.pt': fake_layouts.torch_zip(self.table),
      'CIFAR-10_human.npy': fake_layouts.npy_object(self.table),
      'CIFAR-10_human.csv': _csv(self.table),
    }
    tensors = fake_layouts.torch_zip(self.table, tensors=True)
    legacy = fake_layouts.torch_legacy(self.table)
    for name, data in list(formats.items()) + [
      ('CIFAR-10_human.pt', tensors),
      ('CIFAR-10_human.pt', legacy),
    ]:
      with self.subTest(name):
        for old in formats:
          if os.path.exists(os.path.join(self.root, old)):
            os.remove(os.path.join(self.root, old))
        self._write(name, data)
        s = self._load()
        self.assertAllEqual(s.train.labels, self.table['worse_label'])
        self.assertAllEqual(s.train.clean_labels, self.labels)
        self.assertAllEqual(s.train.images, self.images)
        self.assertEqual(s.notes, {'label_set': 'worst'})
        aggre = self._load(cifarn_labels='aggre')
        self.assertAllEqual(aggre.train.labels, self.table['aggre_label'])

  def test_order_is_checked_and_fixed_by_the_order_file(self):
    order = np.random.default_rng(3).permutation(len(self.labels))
    # Row a of the file describes official image order[a].
    shuffled = {k: v[order] for k, v in self.table.items()}
    self._write('CIFAR-10_human_ordered.npy', fake_layouts.npy_object(shuffled))
    with self.assertRaisesRegex(
      UserError, 'not in the official CIFAR train order'
    ):
      self._load()
    np.save(os.path.join(self.root, 'image_order_c10.npy'), order)
    s = self._load(cifarn_labels='random2')
    self.assertAllEqual(s.train.labels, self.table['random_label2'])
    # Without clean_label, the chosen set's agreement decides.
    del shuffled['clean_label']
    self._write('CIFAR-10_human_ordered.npy', fake_layouts.npy_object(shuffled))
    self.assertAllEqual(self._load().train.labels, self.table['worse_label'])
    os.remove(os.path.join(self.root, 'image_order_c10.npy'))
    with self.assertRaisesRegex(UserError, 'image_order_c10.npy'):
      self._load()

  def test_errors(self):
    with self.assertRaisesRegex(
      UserError, 'no CIFAR-N label file.*CIFAR-10_human.pt'
    ):
      self._load()
    bad = dict(self.table)
    bad['worse_label'] = bad['worse_label'].copy()
    bad['worse_label'][5] = 10
    self._write('CIFAR-10_human.npy', fake_layouts.npy_object(bad))
    with self.assertRaisesRegex(
      UserError, r'entry 5: label 10 is outside \[0, 10\)'
    ):
      self._load()
    with self.assertRaisesRegex(UserError, '--cifarn_labels=noisy100 is not'):
      self._load(cifarn_labels='noisy100')
    short = {k: v[:-1] for k, v in self.table.items()}
    self._write('CIFAR-10_human.npy', fake_layouts.npy_object(short))
    with self.assertRaisesRegex(
      UserError, 'has 99 labels, CIFAR train has 100'
    ):
      self._load()
    self._write('CIFAR-10_human.csv', 'worse_label\n1\nx\n')
    os.remove(os.path.join(self.root, 'CIFAR-10_human.npy'))
    with self.assertRaisesRegex(UserError, "line 3: worse_label 'x'"):
      self._load()

  def test_prepare_measures_real_noise(self):
    self._write('CIFAR-10_human.pt', fake_layouts.torch_zip(self.table))
    data = prepare.prepare_data(
      config.DataConfig(
        dataset='cifar10n',
        data_dir=self.root,
        noise_type='none',
        probe_per_class=2,
      )
    )
    self.assertLen(data.probe, 20)
    self.assertAllEqual(data.probe.labels, data.probe.clean_labels)
    self.assertLen(data.train, 80)
    wrong = np.mean(data.train.labels != data.train.clean_labels)
    keep = ~np.isin(np.arange(100), data.probe.ids)
    self.assertAllClose(
      wrong, np.mean(self.table['worse_label'][keep] != self.labels[keep])
    )

  def test_cifar100n(self):
    folder = os.path.join(self.root, 'cifar-100-binary')
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    fine = {}
    for name, n in (('train.bin', 200), ('test.bin', 50)):
      fine[name] = rng.integers(0, 100, n)
      rows = np.concatenate(
        [
          np.zeros((n, 1), np.uint8),
          fine[name][:, None].astype(np.uint8),
          rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        ],
        1,
      )
      with open(os.path.join(folder, name), 'wb') as f:
        f.write(rows.tobytes())
    noisy = np.where(
      rng.random(200) < 0.4, rng.integers(0, 100, 200), fine['train.bin']
    )
    self._write(
      'CIFAR-100_human.npy',
      fake_layouts.npy_object(
        {'clean_label': fine['train.bin'], 'noise_label': noisy}
      ),
    )
    s = registry.load_split_set(
      config.DataConfig(dataset='cifar100n', data_dir=self.root)
    )
    self.assertAllEqual(s.train.labels, noisy)
    self.assertLen(s.class_names, 100)
    self.assertLen(s.test, 50)

  def test_tfds_without_a_prepared_copy(self):
    old = tfds_fallback.TFDS_DATA_DIR
    tfds_fallback.TFDS_DATA_DIR = self.create_tempdir().full_path
    try:
      with self.assertRaisesRegex(UserError, 'no prepared cifar10_n'):
        registry.load_split_set(config.DataConfig(dataset='cifar10n'))
    finally:
      tfds_fallback.TFDS_DATA_DIR = old


if __name__ == '__main__':
  tf.test.main()
