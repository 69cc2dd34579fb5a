"""Tests of the `mnist` / `fashion_mnist` sources (IDX files and TFDS)."""

import gzip
import os
from unittest import mock

from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from ieg_tf import config
from ieg_tf.data import sources
from ieg_tf.data.sources import tfds_fallback
from ieg_tf.errors import UserError

_NAMES = {
  'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
  'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def _idx(array, magic=None):
  """IDX bytes of a uint8 array: big-endian magic, dims, then the data."""
  magic = (0x800 | array.ndim) if magic is None else magic
  header = magic.to_bytes(4, 'big')
  header += b''.join(d.to_bytes(4, 'big') for d in array.shape)
  return header + array.astype(np.uint8).tobytes()


def _shared_data():
  root = os.environ.get('IEG_TF_SHARED_DATA') or os.path.join(
    os.path.dirname(__file__), '..', '..', '..', 'shared', 'data'
  )
  return os.path.abspath(root)


class IdxSourceTest(tf.test.TestCase, parameterized.TestCase):
  def _write_mnist(self, folder, sizes=(5, 3), compress=True, overrides=None):
    """Writes the four files; returns {part: (images, labels)}."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(sum(sizes))
    arrays = {}
    for part, n in zip(('train', 'test'), sizes):
      images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
      labels = rng.integers(0, 10, n).astype(np.uint8)
      arrays[part] = (images, labels)
      for name, data in zip(_NAMES[part], (_idx(images), _idx(labels))):
        data = (overrides or {}).get(name, data)
        if compress:
          name, data = name + '.gz', gzip.compress(data)
        with open(os.path.join(folder, name), 'wb') as f:
          f.write(data)
    return arrays

  @parameterized.parameters(
    ('mnist', True, ''), ('fashion_mnist', False, ''), ('mnist', True, 'mnist')
  )
  def test_reads_idx_files(self, name, compress, subfolder):
    root = self.create_tempdir().full_path
    arrays = self._write_mnist(os.path.join(root, subfolder), compress=compress)
    data = sources.load_source(config.DataConfig(dataset=name, data_dir=root))
    self.assertEqual(data.name, name)
    self.assertEqual(data.num_classes, 10)
    self.assertLen(data.class_names, 10)
    self.assertTrue(data.labels_are_clean)
    for part, split in (('train', data.train), ('test', data.test)):
      images, labels = arrays[part]
      self.assertAllEqual(split.images, images[..., None])
      self.assertAllEqual(split.labels, labels)
      self.assertAllEqual(split.ids, np.arange(len(labels)))
      self.assertEqual(split.image_shape, (28, 28, 1))

  def test_fashion_class_names(self):
    root = self.create_tempdir().full_path
    self._write_mnist(root)
    cfg = config.DataConfig(dataset='fashion_mnist', data_dir=root)
    names = sources.load_source(cfg).class_names
    self.assertEqual((names[0], names[9]), ('T-shirt/top', 'Ankle boot'))

  @parameterized.named_parameters(
    (
      'bad_magic',
      {'train-images-idx3-ubyte': _idx(np.zeros((5, 28, 28)), magic=0x801)},
      'train-images-idx3-ubyte.gz: not an IDX file.*00000803',
    ),
    (
      'truncated',
      {'t10k-labels-idx1-ubyte': _idx(np.zeros(3))[:-1]},
      't10k-labels-idx1-ubyte.gz: header says .3. = 3 bytes.*holds 2',
    ),
    (
      'count_mismatch',
      {'train-labels-idx1-ubyte': _idx(np.zeros(4))},
      'holds 5 images but .*train-labels-idx1-ubyte.gz holds 4 labels',
    ),
    (
      'label_range',
      {'t10k-labels-idx1-ubyte': _idx(np.array([1, 12, 0]))},
      't10k-labels-idx1-ubyte.gz: label 12 is not in 0..9',
    ),
    (
      'image_size',
      {'t10k-images-idx3-ubyte': _idx(np.zeros((3, 27, 28)))},
      r't10k-images-idx3-ubyte.gz: images are \(27, 28\), expected 28x28',
    ),
  )
  def test_malformed_files(self, overrides, message):
    root = self.create_tempdir().full_path
    self._write_mnist(root, overrides=overrides)
    with self.assertRaisesRegex(UserError, message):
      sources.load_source(config.DataConfig(dataset='mnist', data_dir=root))

  def test_bad_gzip(self):
    root = self.create_tempdir().full_path
    self._write_mnist(root)
    with open(os.path.join(root, 'train-images-idx3-ubyte.gz'), 'wb') as f:
      f.write(b'not gzip at all')
    with self.assertRaisesRegex(UserError, 'idx3-ubyte.gz: not a valid gzip'):
      sources.load_source(config.DataConfig(dataset='mnist', data_dir=root))

  def test_missing_files(self):
    root = self.create_tempdir().full_path
    with self.assertRaisesRegex(
      UserError, f'{root}.*four IDX files train-images-idx3-ubyte.gz'
    ):
      sources.load_source(config.DataConfig(dataset='mnist', data_dir=root))

  def test_tfds_without_prepared_copy(self):
    empty = self.create_tempdir().full_path
    with mock.patch.object(tfds_fallback, 'TFDS_DATA_DIR', empty):
      with self.assertRaisesRegex(
        UserError, 'no prepared copy of fashion_mnist.*--data_dir'
      ):
        sources.load_source(config.DataConfig(dataset='fashion_mnist'))

  def test_tfds_fallback(self):
    with tfds.testing.mock_data(num_examples=6):
      data = sources.load_source(config.DataConfig(dataset='mnist'))
    self.assertEqual(data.train.images.shape, (6, 28, 28, 1))
    self.assertEqual(data.test.images.dtype, np.uint8)
    self.assertAllEqual(data.train.ids, np.arange(6))
    self.assertTrue(np.all((data.train.labels >= 0) & (data.train.labels < 10)))

  def test_real_mnist(self):
    folder = os.path.join(_shared_data(), 'mnist')
    if not os.path.isdir(folder):
      self.skipTest(f'no MNIST files in {folder}')
    data = sources.load_source(
      config.DataConfig(dataset='mnist', data_dir=folder)
    )
    self.assertEqual(data.train.images.shape, (60000, 28, 28, 1))
    self.assertEqual(data.test.images.shape, (10000, 28, 28, 1))
    for split, n in ((data.train, 60000), (data.test, 10000)):
      counts = np.bincount(split.labels, minlength=10)
      self.assertLen(counts, 10)
      self.assertEqual(counts.sum(), n)
      # Every digit is common: no class below 8% of the split.
      self.assertGreater(counts.min(), 0.08 * n)
      self.assertEqual(split.images.max(), 255)
      self.assertEqual(split.images.min(), 0)
    # The parent folder works too (files found in its mnist/ subfolder).
    parent = config.DataConfig(dataset='mnist', data_dir=_shared_data())
    self.assertLen(sources.load_source(parent).test, 10000)


if __name__ == '__main__':
  tf.test.main()
