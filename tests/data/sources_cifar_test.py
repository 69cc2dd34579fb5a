"""Tests of the `cifar10` / `cifar100` sources on tiny fake official files."""

import io
import os
import pickle
import struct
import tarfile
from unittest import mock

from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from ieg_tf import config
from ieg_tf.data import sources
from ieg_tf.data.sources import cifar_pickle
from ieg_tf.data.sources import tfds_fallback
from ieg_tf.errors import UserError

_TRAIN_PER_BATCH = 2
_TEST = 3


class _Py2Pickler(pickle._Pickler):
  """Writes bytes and str the way Python 2 wrote `str` (as the official
  CIFAR python files do), so loading needs encoding='bytes'."""

  dispatch = dict(pickle._Pickler.dispatch)

  def _save_py2_str(self, obj):
    data = obj.encode('latin1') if isinstance(obj, str) else obj
    if len(data) < 256:
      self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
    else:
      self.write(pickle.BINSTRING + struct.pack('<i', len(data)) + data)
    self.memoize(obj)

  dispatch[bytes] = _save_py2_str
  dispatch[str] = _save_py2_str


def _py2_pickle(obj) -> bytes:
  out = io.BytesIO()
  _Py2Pickler(out, protocol=2).dump(obj)
  # Files written by numpy 1 name the array rebuilder numpy.core.multiarray.
  return out.getvalue().replace(
    b'cnumpy._core.multiarray\n', b'cnumpy.core.multiarray\n'
  )


def _planes(images):
  """uint8 [N, 32, 32, 3] -> [N, 3072]: R plane, G plane, B plane."""
  return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


class _Fake:
  """Random CIFAR-like arrays and their files in the official layouts."""

  def __init__(self, dataset, seed=0):
    rng = np.random.default_rng(seed)
    self.dataset = dataset
    self.classes = 10 if dataset == 'cifar10' else 100
    n_train = 5 * _TRAIN_PER_BATCH if dataset == 'cifar10' else 7
    self.parts = {}
    for part, n in (('train', n_train), ('test', _TEST)):
      images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
      labels = rng.integers(0, self.classes, n)
      self.parts[part] = (images, labels)

  def files(self, fmt, legacy_pickle=True):
    """{file name: bytes} for format 'binary' or 'python'."""
    out = {}
    for part, (images, labels) in self.parts.items():
      if self.dataset == 'cifar10':
        if part == 'train':
          names = [f'data_batch_{i}' for i in range(1, 6)]
          chunks = np.split(np.arange(len(labels)), 5)
        else:
          names, chunks = ['test_batch'], [np.arange(len(labels))]
      else:
        names, chunks = [part], [np.arange(len(labels))]
      for name, rows in zip(names, chunks):
        pixels, lab = _planes(images[rows]), labels[rows]
        if fmt == 'binary':
          head = [lab[:, None]]
          if self.dataset == 'cifar100':
            head = [(lab // 5)[:, None], lab[:, None]]  # Coarse, fine.
          record = np.concatenate(head + [pixels], 1).astype(np.uint8)
          out[name + '.bin'] = record.tobytes()
        else:
          key = 'labels' if self.dataset == 'cifar10' else 'fine_labels'
          batch = {'batch_label': name, 'data': pixels, key: lab.tolist()}
          if self.dataset == 'cifar100':
            batch['coarse_labels'] = (lab // 5).tolist()
          if legacy_pickle:
            out[name] = _py2_pickle({k.encode(): v for k, v in batch.items()})
          else:
            out[name] = pickle.dumps(batch, protocol=4)
    return out


_FOLDERS = {
  ('cifar10', 'binary'): 'cifar-10-batches-bin',
  ('cifar10', 'python'): 'cifar-10-batches-py',
  ('cifar100', 'binary'): 'cifar-100-binary',
  ('cifar100', 'python'): 'cifar-100-python',
}
_ARCHIVES = {
  ('cifar10', 'binary'): 'cifar-10-binary.tar.gz',
  ('cifar10', 'python'): 'cifar-10-python.tar.gz',
  ('cifar100', 'binary'): 'cifar-100-binary.tar.gz',
  ('cifar100', 'python'): 'cifar-100-python.tar.gz',
}


def _write_tree(root, folder, files):
  os.makedirs(os.path.join(root, folder), exist_ok=True)
  for name, data in files.items():
    with open(os.path.join(root, folder, name), 'wb') as f:
      f.write(data)


def _write_archive(path, folder, files):
  with tarfile.open(path, 'w:gz') as archive:
    info = tarfile.TarInfo(folder)
    info.type = tarfile.DIRTYPE
    archive.addfile(info)
    for name, data in files.items():
      info = tarfile.TarInfo(f'{folder}/{name}')
      info.size = len(data)
      archive.addfile(info, io.BytesIO(data))


class _Evil:
  """Unpickling this would create a directory."""

  def __init__(self, target):
    self.target = target

  def __reduce__(self):
    return (os.mkdir, (self.target,))


class CifarSourceTest(tf.test.TestCase, parameterized.TestCase):
  def _load(self, dataset, root):
    return sources.load_source(
      config.DataConfig(dataset=dataset, data_dir=root)
    )

  def _check(self, data, fake):
    self.assertEqual(data.num_classes, fake.classes)
    self.assertLen(data.class_names, fake.classes)
    self.assertTrue(data.labels_are_clean)
    self.assertIsNone(data.probe)
    for part, split in (('train', data.train), ('test', data.test)):
      images, labels = fake.parts[part]
      self.assertAllEqual(split.images, images)
      self.assertAllEqual(split.labels, labels)
      self.assertAllEqual(split.ids, np.arange(len(labels)))
      self.assertEqual(split.image_shape, (32, 32, 3))

  @parameterized.product(
    dataset=['cifar10', 'cifar100'],
    fmt=['binary', 'python'],
    packing=['folder', 'archive', 'flat'],
  )
  def test_official_layouts(self, dataset, fmt, packing):
    fake = _Fake(dataset)
    root = self.create_tempdir().full_path
    files = fake.files(fmt)
    if packing == 'folder':
      _write_tree(root, _FOLDERS[dataset, fmt], files)
    elif packing == 'flat':  # The files directly in --data_dir.
      _write_tree(root, '', files)
    else:
      path = os.path.join(root, _ARCHIVES[dataset, fmt])
      _write_archive(path, _FOLDERS[dataset, fmt], files)
    data = self._load(dataset, root)
    self.assertEqual(data.name, dataset)
    self._check(data, fake)

  def test_pickles_written_by_numpy2(self):
    fake = _Fake('cifar10')
    root = self.create_tempdir().full_path
    _write_tree(root, 'cifar-10-batches-py', fake.files('python', False))
    self._check(self._load('cifar10', root), fake)

  def test_class_names(self):
    fake = _Fake('cifar100')
    root = self.create_tempdir().full_path
    _write_tree(root, 'cifar-100-binary', fake.files('binary'))
    names = self._load('cifar100', root).class_names
    self.assertEqual((names[0], names[99]), ('apple', 'worm'))

  def test_malicious_pickle_is_refused(self):
    root = self.create_tempdir().full_path
    target = os.path.join(root, 'pwned')
    files = _Fake('cifar10').files('python')
    files['data_batch_2'] = _py2_pickle({b'data': _Evil(target)})
    _write_tree(root, 'cifar-10-batches-py', files)
    with self.assertRaisesRegex(
      UserError, 'data_batch_2: not a CIFAR python batch.*refusing.*mkdir'
    ):
      self._load('cifar10', root)
    self.assertFalse(os.path.exists(target))

  @parameterized.named_parameters(
    ('eval', b"cbuiltins\neval\n(S'1+1'\ntR.", 'builtins.eval'),
    ('numpy_scalar', pickle.dumps(np.float64(1.5), protocol=2), 'scalar'),
    ('numpy_load', b"cnumpy\nload\n(S'x'\ntR.", 'numpy.load'),
  )
  def test_unpickler_allows_only_array_globals(self, data, name):
    with self.assertRaisesRegex(UserError, f'f.pkl.*refusing.*{name}'):
      cifar_pickle.load_pickle(data, 'f.pkl')

  def test_unpickler_reads_arrays(self):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for data in (_py2_pickle({b'a': array}), pickle.dumps({'a': array}, 2)):
      if b'_codecs' in data:
        continue  # Python 3 protocol 2 bytes need _codecs: not allowed.
      self.assertAllEqual(cifar_pickle.load_pickle(data, 'f')[b'a'], array)

  def test_python3_protocol2_bytes_are_refused(self):
    data = pickle.dumps({'a': b'raw'}, protocol=2)
    with self.assertRaisesRegex(UserError, 'refusing.*_codecs.encode'):
      cifar_pickle.load_pickle(data, 'f')

  def test_errors(self):
    fake = _Fake('cifar10')
    root = self.create_tempdir().full_path
    with self.assertRaisesRegex(
      UserError, f'{root} holds none.*cifar-10-batches-bin/ or cifar-10-binary'
    ):
      self._load('cifar10', root)
    files = fake.files('binary')
    files['data_batch_3.bin'] = files['data_batch_3.bin'][:-5]
    _write_tree(root, 'cifar-10-batches-bin', files)
    with self.assertRaisesRegex(
      UserError, 'data_batch_3.bin: size 6141 is not a multiple of the 3073'
    ):
      self._load('cifar10', root)

  def test_label_out_of_range(self):
    fake = _Fake('cifar10')
    fake.parts['test'][1][1] = 10
    root = self.create_tempdir().full_path
    _write_tree(root, 'cifar-10-batches-bin', fake.files('binary'))
    with self.assertRaisesRegex(UserError, r'labels must lie in \[0, 10\)'):
      self._load('cifar10', root)

  def test_bad_archives(self):
    root = self.create_tempdir().full_path
    files = _Fake('cifar100').files('binary')
    del files['test.bin']
    path = os.path.join(root, 'cifar-100-binary.tar.gz')
    _write_archive(path, 'cifar-100-binary', files)
    with self.assertRaisesRegex(
      UserError, 'tar.gz: archive lacks cifar-100-binary/test.bin'
    ):
      self._load('cifar100', root)
    with open(path, 'wb') as f:
      f.write(b'garbage')
    with self.assertRaisesRegex(UserError, 'tar.gz: not a readable .tar.gz'):
      self._load('cifar100', root)

  def test_python_batch_without_data(self):
    root = self.create_tempdir().full_path
    files = _Fake('cifar100').files('python')
    files['train'] = _py2_pickle({b'fine_labels': [1, 2]})
    _write_tree(root, 'cifar-100-python', files)
    with self.assertRaisesRegex(UserError, 'train: "data" must be a uint8'):
      self._load('cifar100', root)

  def test_tfds_without_prepared_copy(self):
    empty = self.create_tempdir().full_path
    with mock.patch.object(tfds_fallback, 'TFDS_DATA_DIR', empty):
      with self.assertRaisesRegex(
        UserError, 'prepared copy of cifar100.*cifar-100-binary.tar.gz'
      ):
        sources.load_source(config.DataConfig(dataset='cifar100'))

  def test_tfds_fallback(self):
    with tfds.testing.mock_data(num_examples=5):
      data = sources.load_source(config.DataConfig(dataset='cifar10'))
    self.assertEqual(data.train.images.shape, (5, 32, 32, 3))
    self.assertEqual(data.test.images.shape, (5, 32, 32, 3))
    self.assertLen(np.unique(data.train.ids), 5)

  def test_tfds_ids_are_official_positions(self):
    ids = tfds_fallback._ids([b'train_00042', b'train_00007'], 2)
    self.assertAllEqual(ids, [42, 7])
    self.assertAllEqual(tfds_fallback._ids([b'x', b'y'], 2), [0, 1])


if __name__ == '__main__':
  tf.test.main()
