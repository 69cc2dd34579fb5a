"""Tests of ieg_tf.data.noisy_labels_file."""

import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.data.noisy_labels_file import load_noisy_labels
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError


def _memory_split():
  return Split(
    labels=[0, 1, 2, 0],
    ids=[10, 11, 12, 13],
    images=np.zeros((4, 2, 2, 3), np.uint8),
  )


def _file_split(root):
  rel = ['train/cat/a.jpg', 'train/dog/a.jpg', 'train/dog/b.jpg']
  return Split(
    labels=[0, 1, 1],
    ids=[0, 1, 2],
    paths=[os.path.join(root, r) for r in rel],
    image_shape=(8, 8, 3),
  )


class NoisyLabelsFileTest(tf.test.TestCase, parameterized.TestCase):
  def _write(self, name, text):
    path = os.path.join(self.get_temp_dir(), name)
    with open(path, 'w') as f:
      f.write(text)
    return path

  def _npy(self, array, name='labels.npy'):
    path = os.path.join(self.get_temp_dir(), name)
    np.save(path, array)
    return path

  def test_npy(self):
    path = self._npy(np.array([2, 0, 1, 1], np.int64))
    got = load_noisy_labels(path, _memory_split(), 3)
    self.assertAllEqual(got, [2, 0, 1, 1])
    self.assertEqual(got.dtype, np.int32)

  @parameterized.named_parameters(
    ('wrong_length', np.array([1, 2, 0]), 'has 3 labels.*4 examples'),
    ('floats', np.array([1.0, 2, 0, 1]), 'integer array.*float64'),
    ('two_dims', np.zeros((4, 1), int), 'integer array'),
    ('out_of_range', np.array([0, 1, 3, 0]), r'entry 2: label 3.*\[0, 3\)'),
    ('negative', np.array([0, -1, 1, 0]), r'entry 1: label -1'),
    ('pickled', np.array([1, 'a', None, 0], object), 'not a readable .npy'),
  )
  def test_npy_errors(self, array, message):
    path = self._npy(array)
    with self.assertRaisesRegex(UserError, f'labels.npy.*{message}'):
      load_noisy_labels(path, _memory_split(), 3)

  def test_csv_by_id_any_order_extra_columns(self):
    path = self._write(
      'l.csv', 'note,id,label\nx,12,0\ny,10, 2\nz,13,1\n,11,1\n'
    )
    self.assertAllEqual(
      load_noisy_labels(path, _memory_split(), 3), [2, 1, 0, 1]
    )

  @parameterized.named_parameters(
    ('unknown_id', 'id,label\n10,0\n99,1\n', "line 3: unknown id '99'"),
    (
      'repeated',
      'id,label\n10,0\n10,1\n',
      'line 3: id .10. already given on line 2',
    ),
    ('not_int', 'id,label\n10,cat\n', "line 2: label 'cat' is not an integer"),
    ('float_label', 'id,label\n10,1.0\n', "line 2: label '1.0' is not"),
    ('empty_label', 'id,label\n10,\n', "line 2: label '' is not"),
    ('bad_id', 'id,label\n1x,1\n', "line 2: id '1x' is not an integer"),
    ('range', 'id,label\n10,0\n11,3\n', r'line 3: label 3 is outside \[0, 3\)'),
    (
      'missing',
      'id,label\n10,0\n12,1\n',
      '2 of 4 train examples have no row.*id 11',
    ),
    ('no_label', 'id,class\n10,0\n', 'header with a label column'),
    ('no_key', 'name,label\n10,0\n', 'header with a label column and an id'),
    ('path_in_memory', 'path,label\na.jpg,0\n', 'no image files.*id column'),
  )
  def test_csv_errors(self, text, message):
    path = self._write('bad.csv', text)
    with self.assertRaisesRegex(UserError, f'bad.csv.*{message}'):
      load_noisy_labels(path, _memory_split(), 3)

  def test_csv_by_path(self):
    root = os.path.join(self.get_temp_dir(), 'data')
    split = _file_split(root)
    text = (
      'path,label\n'
      f'{root}/train/dog/b.jpg,0\n'  # Full path.
      'train/cat/a.jpg,1\n'  # Relative to the data dir.
      'dog/a.jpg,0\n'  # Shorter suffix.
    )
    got = load_noisy_labels(self._write('p.csv', text), split, 2)
    self.assertAllEqual(got, [1, 0, 0])
    windows = 'path,label\ntrain\\cat\\a.jpg,1\ndog/a.jpg,0\nb.jpg,1\n'
    got = load_noisy_labels(self._write('w.csv', windows), split, 2)
    self.assertAllEqual(got, [1, 0, 1])

  def test_csv_path_errors(self):
    split = _file_split(os.path.join(self.get_temp_dir(), 'data'))
    ambiguous = self._write('a.csv', 'path,label\na.jpg,1\n')
    with self.assertRaisesRegex(
      UserError, "a.csv: line 2: path 'a.jpg' matches several"
    ):
      load_noisy_labels(ambiguous, split, 2)
    unknown = self._write('u.csv', 'path,label\ntrain/cow/a.jpg,1\n')
    with self.assertRaisesRegex(
      UserError, "u.csv: line 2: unknown path 'train/cow/a.jpg'"
    ):
      load_noisy_labels(unknown, split, 2)
    missing = self._write('m.csv', 'path,label\ncat/a.jpg,1\n')
    with self.assertRaisesRegex(UserError, 'm.csv: 2 of 3.*path .*dog/a.jpg'):
      load_noisy_labels(missing, split, 2)

  def test_missing_file_and_bad_extension(self):
    missing = os.path.join(self.get_temp_dir(), 'nope.npy')
    with self.assertRaisesRegex(UserError, 'nope.npy does not exist'):
      load_noisy_labels(missing, _memory_split(), 3)
    txt = self._write('labels.txt', '1\n2\n')
    with self.assertRaisesRegex(
      UserError, r'labels.txt must end in .npy or .csv'
    ):
      load_noisy_labels(txt, _memory_split(), 3)


if __name__ == '__main__':
  tf.test.main()
