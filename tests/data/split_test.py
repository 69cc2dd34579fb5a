"""Tests of ieg_tf.data.split.Split."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from ieg_tf.data.split import Split


def _memory_split(n=6, clean=True):
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 3, n)
  return Split(
    labels=labels,
    ids=np.arange(n) + 100,
    images=rng.integers(0, 256, (n, 4, 5, 3), dtype=np.uint8),
    clean_labels=np.where(np.arange(n) % 2, labels, (labels + 1) % 3)
    if clean
    else None,
  )


def _write(path, image, png=True):
  encode = tf.io.encode_png if png else tf.io.encode_jpeg
  tf.io.write_file(path, encode(image))


class SplitTest(tf.test.TestCase):
  def test_normalizes_dtypes_and_shape(self):
    split = _memory_split()
    self.assertEqual(split.labels.dtype, np.int32)
    self.assertEqual(split.ids.dtype, np.int64)
    self.assertEqual(split.clean_labels.dtype, np.int32)
    self.assertEqual(split.image_shape, (4, 5, 3))
    self.assertLen(split, 6)

  def test_validation(self):
    images = np.zeros((2, 3, 3, 1), np.uint8)
    with self.assertRaisesRegex(ValueError, 'exactly one'):
      Split(labels=[0, 1], ids=[0, 1])
    with self.assertRaisesRegex(ValueError, 'exactly one'):
      Split(labels=[0, 1], ids=[0, 1], images=images, paths=['a', 'b'])
    with self.assertRaisesRegex(ValueError, 'length'):
      Split(labels=[0, 1, 2], ids=[0, 1, 2], images=images)
    with self.assertRaisesRegex(ValueError, 'uint8'):
      Split(labels=[0, 1], ids=[0, 1], images=images.astype(np.float32))
    with self.assertRaisesRegex(ValueError, 'image_shape'):
      Split(labels=[0, 1], ids=[0, 1], paths=['a', 'b'])
    with self.assertRaisesRegex(ValueError, 'length'):
      Split(labels=[0, 1], ids=[0, 1], images=images, clean_labels=[1])

  def test_take_and_with_labels(self):
    split = _memory_split()
    part = split.take(np.array([4, 1]))
    self.assertAllEqual(part.ids, [104, 101])
    self.assertAllEqual(part.labels, split.labels[[4, 1]])
    self.assertAllEqual(part.images, split.images[[4, 1]])
    self.assertAllEqual(part.clean_labels, split.clean_labels[[4, 1]])
    relabeled = split.with_labels(np.zeros(6), None)
    self.assertAllEqual(relabeled.labels, np.zeros(6))
    self.assertIsNone(relabeled.clean_labels)
    self.assertAllEqual(relabeled.ids, split.ids)
    self.assertLen(split.take(np.zeros(0, int)), 0)
    mask = np.array([True, False, False, True, False, True])
    self.assertAllEqual(split.take(mask).ids, [100, 103, 105])

  def test_label_prior_column(self):
    prior = np.random.default_rng(2).dirichlet(np.ones(3), 6)
    split = dataclasses.replace(_memory_split(), label_prior=prior)
    self.assertEqual(split.label_prior.dtype, np.float32)
    self.assertAllClose(split.take([5, 0]).label_prior, prior[[5, 0]])
    self.assertAllClose(split.with_labels(np.zeros(6), None).label_prior, prior)
    rows = list(split.to_dataset().as_numpy_iterator())
    for i, row in enumerate(rows):
      self.assertAllClose(row['label_prior'], prior[i])
    with self.assertRaisesRegex(ValueError, 'length'):
      dataclasses.replace(split, label_prior=prior[:5])
    with self.assertRaisesRegex(ValueError, r'\[N, C\]'):
      dataclasses.replace(split, label_prior=prior[:, 0])

  def test_to_dataset_from_memory(self):
    split = _memory_split()
    rows = list(split.to_dataset().as_numpy_iterator())
    self.assertLen(rows, 6)
    self.assertEqual(
      set(rows[0]), {'image', 'label', 'id', 'index', 'clean_label', 'is_noisy'}
    )
    spec = split.to_dataset().element_spec
    self.assertEqual(spec['image'].dtype, tf.uint8)
    self.assertEqual(spec['image'].shape, (4, 5, 3))
    self.assertEqual(spec['label'].dtype, tf.int32)
    self.assertEqual(spec['id'].dtype, tf.int64)
    self.assertEqual(spec['clean_label'].dtype, tf.int32)
    self.assertEqual(spec['is_noisy'].dtype, tf.bool)
    for i, row in enumerate(rows):
      self.assertAllEqual(row['image'], split.images[i])
      self.assertEqual(row['id'], split.ids[i])
      self.assertEqual(row['label'], split.labels[i])
      self.assertEqual(row['clean_label'], split.clean_labels[i])
      self.assertEqual(row['is_noisy'], i % 2 == 0)

  def test_to_dataset_without_clean_labels(self):
    spec = _memory_split(clean=False).to_dataset().element_spec
    self.assertEqual(set(spec), {'image', 'label', 'id', 'index'})

  def test_to_dataset_from_files(self):
    tmp = self.get_temp_dir()
    rng = np.random.default_rng(1)
    exact = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    _write(os.path.join(tmp, 'exact.png'), exact)
    # A different size, constant color: resizing must keep the color.
    _write(os.path.join(tmp, 'big.png'), np.full((12, 9, 3), 77, np.uint8))
    # Grayscale: decoded to 3 equal channels.
    gray = rng.integers(0, 256, (6, 7, 1), dtype=np.uint8)
    _write(os.path.join(tmp, 'gray.png'), gray)
    yy, xx = np.mgrid[0:6, 0:7]
    smooth = np.stack([yy * 20, xx * 20, yy * 10 + xx * 10], -1).astype(
      np.uint8
    )
    _write(os.path.join(tmp, 'photo.JPG'), smooth, png=False)
    names = ['exact.png', 'big.png', 'gray.png', 'photo.JPG']
    split = Split(
      labels=[0, 1, 2, 0],
      ids=[5, 6, 7, 8],
      paths=[os.path.join(tmp, n) for n in names],
      image_shape=(6, 7, 3),
    )
    ds = split.to_dataset()
    self.assertEqual(ds.element_spec['image'].shape, (6, 7, 3))
    self.assertEqual(set(ds.element_spec), {'image', 'label', 'id', 'index'})
    rows = list(ds.as_numpy_iterator())
    self.assertAllEqual(rows[0]['image'], exact)
    self.assertAllEqual(rows[1]['image'], np.full((6, 7, 3), 77))
    self.assertAllEqual(rows[2]['image'], np.repeat(gray, 3, axis=2))
    # JPEG (quality 95) is lossy on a smooth image only by a few levels.
    err = np.abs(rows[3]['image'].astype(int) - smooth).mean()
    self.assertLess(err, 8)
    self.assertAllEqual([r['id'] for r in rows], [5, 6, 7, 8])

  def test_cifar_sized_arrays(self):
    """50k 32x32x3 images go through from_tensor_slices without trouble."""
    images = np.zeros((50_000, 32, 32, 3), np.uint8)
    images[-1] = 9
    split = Split(labels=np.zeros(50_000), ids=np.arange(50_000), images=images)
    ds = split.to_dataset().skip(49_999)
    row = next(iter(ds))
    self.assertEqual(int(row['id']), 49_999)
    self.assertAllEqual(row['image'], np.full((32, 32, 3), 9))


if __name__ == '__main__':
  tf.test.main()
