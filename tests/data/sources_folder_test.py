"""Tests of the `folder` source on tiny trees of JPEG/PNG files."""

import os
import tarfile

import numpy as np
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data import hashing
from ieg_tf.data import sources
from ieg_tf.data.sources import folder
from ieg_tf.errors import UserError


def _shared_data():
  root = os.environ.get('IEG_TF_SHARED_DATA') or os.path.join(
    os.path.dirname(__file__), '..', '..', '..', 'shared', 'data'
  )
  return os.path.abspath(root)


def _write_image(path, value, size=(10, 12)):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image = np.full(size + (3,), value, np.uint8)
  if path.lower().endswith('.png'):
    data = tf.io.encode_png(image)
  else:
    data = tf.io.encode_jpeg(image)
  tf.io.write_file(path, data)


def _tree(root, spec):
  """spec: {'train/cat': ['a.jpg', ...], ...}; pixel value = file index."""
  for sub, names in spec.items():
    for i, name in enumerate(names):
      _write_image(os.path.join(root, sub, name), (20 * i + 10) % 256)


_SPEC = {
  'train/dog': ['b.JPG', 'a.png', 'c.jpeg', 'notes.txt'],
  'train/cat': ['z.jpg', 'y.jpg'],
  'train/emu': ['e1.png', 'e2.PNG', 'e3.jpg'],
  'probe/dog': ['p1.jpg'],
  'probe/cat': ['p2.jpg', 'p3.jpg'],
  'test/emu': ['t1.jpg'],
  'test/cat': ['t2.png'],
}


class FolderSourceTest(tf.test.TestCase):
  def _load(self, root, **kwargs):
    cfg = config.DataConfig(dataset='folder', data_dir=root, **kwargs)
    return sources.load_source(cfg)

  def test_tree(self):
    root = self.create_tempdir().full_path
    _tree(root, _SPEC)
    data = self._load(root)
    self.assertEqual(data.name, 'folder')
    self.assertEqual(data.class_names, ('cat', 'dog', 'emu'))
    self.assertEqual(data.num_classes, 3)
    self.assertTrue(data.labels_are_clean)
    train = data.train
    rel = [os.path.relpath(p, root) for p in train.paths]
    self.assertEqual(
      rel,
      [
        'train/cat/y.jpg',
        'train/cat/z.jpg',
        'train/dog/a.png',
        'train/dog/b.JPG',
        'train/dog/c.jpeg',
        'train/emu/e1.png',
        'train/emu/e2.PNG',
        'train/emu/e3.jpg',
      ],
    )
    self.assertAllEqual(train.labels, [0, 0, 1, 1, 1, 2, 2, 2])
    self.assertAllEqual(train.ids, np.arange(8))
    self.assertEqual(train.image_shape, (10, 12, 3))
    self.assertAllEqual(data.probe.ids, [10**9, 10**9 + 1, 10**9 + 2])
    self.assertAllEqual(data.probe.labels, [0, 0, 1])
    self.assertAllEqual(data.test.ids, [2 * 10**9, 2 * 10**9 + 1])
    self.assertAllEqual(data.test.labels, [0, 2])
    rows = list(train.to_dataset().as_numpy_iterator())
    self.assertEqual(rows[0]['image'].shape, (10, 12, 3))
    # y.jpg was the 2nd file written to train/cat: value 30 (JPEG: +-2).
    self.assertAllClose(rows[0]['image'], np.full((10, 12, 3), 30), atol=2)
    self.assertAllEqual(rows[2]['image'], np.full((10, 12, 3), 30))  # a.png

  def test_image_size_and_resize(self):
    root = self.create_tempdir().full_path
    _tree(root, {'train/a': ['1.png'], 'train/b': ['2.png']})
    _write_image(os.path.join(root, 'train/b/3.png'), 99, size=(40, 30))
    data = self._load(root, image_size=16)
    self.assertEqual(data.train.image_shape, (16, 16, 3))
    images = [r['image'] for r in data.train.to_dataset().as_numpy_iterator()]
    images += [r['image'] for r in data.test.to_dataset().as_numpy_iterator()]
    self.assertLen(images, 3)
    for image in images:
      self.assertEqual(image.shape, (16, 16, 3))
    # Without image_size the first train image (10x12) sets the shape.
    self.assertEqual(self._load(root).train.image_shape, (10, 12, 3))

  def test_hold_out_test_without_test_folder(self):
    root = self.create_tempdir().full_path
    names = [f'{i:03d}.png' for i in range(60)]
    _tree(root, {'train/a': names, 'train/b': names})
    data = self._load(root)
    self.assertIsNone(data.probe)
    all_ids = np.arange(120)
    held = hashing.uniform(0, all_ids, hashing.Stream.FOLDER_TEST) < 0.1
    self.assertAllEqual(data.test.ids, all_ids[held])
    self.assertAllEqual(data.train.ids, all_ids[~held])
    self.assertBetween(len(data.test), 1, 30)  # 12 expected, sd 3.3.
    again = self._load(root, seed=99)
    self.assertAllEqual(again.test.ids, data.test.ids)

  def test_errors(self):
    root = self.create_tempdir().full_path
    with self.assertRaisesRegex(UserError, 'must hold train/<class>/'):
      self._load('')
    with self.assertRaisesRegex(UserError, f'{root}.*must hold train/<class>'):
      self._load(root)
    os.makedirs(os.path.join(root, 'train'))
    with self.assertRaisesRegex(UserError, 'train has no class subfolders'):
      self._load(root)
    _tree(root, {'train/a': ['1.jpg'], 'train/b': ['x.txt']})
    with self.assertRaisesRegex(UserError, 'train/b holds no .jpg'):
      self._load(root)
    _tree(root, {'train/b': ['1.jpg'], 'test/c': ['1.jpg']})
    with self.assertRaisesRegex(UserError, r"test has class folders \['c'\]"):
      self._load(root)
    os.rename(os.path.join(root, 'test/c'), os.path.join(root, 'test/a'))
    os.makedirs(os.path.join(root, 'probe/b'))
    with self.assertRaisesRegex(UserError, 'probe holds no .jpg'):
      self._load(root)

  def test_undecodable_first_image(self):
    root = self.create_tempdir().full_path
    os.makedirs(os.path.join(root, 'train/a'))
    with open(os.path.join(root, 'train/a/bad.jpg'), 'wb') as f:
      f.write(b'not an image')
    with self.assertRaisesRegex(UserError, 'bad.jpg: cannot decode'):
      self._load(root)

  def test_real_cifar10_jpegs(self):
    archive = os.path.join(_shared_data(), 'cifar10_jpg.tar')
    if not os.path.exists(archive):
      self.skipTest(f'{archive} is absent')
    root = self.create_tempdir().full_path
    want = {'train': 20, 'test': 5}  # Images per class.
    taken = {}
    with tarfile.open(archive) as tar:
      for member in tar:
        parts = member.name.removeprefix('./').split('/')
        if len(parts) != 3 or not member.isfile():
          continue
        key = (parts[0], parts[1])
        if taken.get(key, 0) < want[parts[0]]:
          taken[key] = taken.get(key, 0) + 1
          data = tar.extractfile(member).read()
          path = os.path.join(root, *parts)
          os.makedirs(os.path.dirname(path), exist_ok=True)
          with open(path, 'wb') as f:
            f.write(data)
        if len(taken) == 20 and sum(taken.values()) == 250:
          break
    data = self._load(root)
    self.assertLen(data.class_names, 10)
    self.assertIn('airplane', data.class_names)
    self.assertIn('truck', data.class_names)
    self.assertLen(data.train, 200)
    self.assertLen(data.test, 50)
    self.assertAllEqual(np.bincount(data.train.labels), [20] * 10)
    self.assertEqual(data.train.image_shape, (32, 32, 3))
    batch = next(iter(data.test.to_dataset().batch(50)))
    self.assertEqual(batch['image'].shape, (50, 32, 32, 3))
    self.assertEqual(batch['image'].dtype, tf.uint8)
    # Real photos: not constant images.
    self.assertGreater(
      float(tf.math.reduce_std(tf.cast(batch['image'], tf.float32))), 20
    )

  def test_id_offsets_are_documented_constants(self):
    self.assertEqual(folder.PROBE_ID_OFFSET, 10**9)
    self.assertEqual(folder.TEST_ID_OFFSET, 2 * 10**9)


if __name__ == '__main__':
  tf.test.main()
