"""Bad images: skipped, counted once, and the run stopped past the limit."""

import os

import numpy as np
import tensorflow as tf

from ieg_tf.data import bad_examples
from ieg_tf.data import record_format
from ieg_tf.data import split_reader
from ieg_tf.data.split import Split
from ieg_tf.errors import UserError


def _jpeg(value: int) -> bytes:
  return tf.io.encode_jpeg(np.full((6, 6, 3), value, np.uint8)).numpy()


class BadExamplesTest(tf.test.TestCase):
  def _files(self, contents: list[bytes]) -> list[str]:
    root = self.create_tempdir().full_path
    paths = []
    for i, data in enumerate(contents):
      paths.append(os.path.join(root, f'{i}.jpg'))
      with open(paths[-1], 'wb') as f:
        f.write(data)
    return paths

  def _split(self, contents, limit, ids=None):
    bad = bad_examples.BadExamples('toy', limit)
    n = len(contents)
    split = Split(
      labels=np.arange(n) % 3,
      ids=np.arange(n) + 100 if ids is None else ids,
      paths=self._files(contents),
      image_shape=(6, 6, 3),
      bad_examples=bad,
    )
    return split, bad

  def test_host_count_and_check(self):
    bad = bad_examples.BadExamples('toy', limit=2)
    bad.note_host('a.jpg', 'file not found')
    bad.note_host('b.jpg', 'file not found')
    bad.check()  # 2 <= 2.
    self.assertEqual(bad.total(), 2)
    bad.note_host('c.jpg', 'file not found')
    with self.assertRaisesRegex(
      UserError, r'^toy: 3 bad examples .*max_bad_examples=2; e\.g\. a\.jpg'
    ):
      bad.check()
    self.assertEqual(bad.host_items()[2], ('c.jpg', 'file not found'))

  def test_bad_rows_are_replaced_and_counted_once(self):
    good = [_jpeg(10 * i) for i in range(5)]
    contents = list(good)
    contents[1] = good[1][: len(good[1]) // 2]  # Truncated.
    contents[4] = b'<html>gone</html>'  # Last row: wraps to row 0.
    split, bad = self._split(contents, limit=5)
    ds = split.to_dataset()
    epoch1 = list(ds.as_numpy_iterator())
    epoch2 = list(ds.as_numpy_iterator())
    self.assertEqual([e['id'] for e in epoch1], [100, 102, 102, 103, 100])
    self.assertEqual([e['index'] for e in epoch1], [0, 2, 2, 3, 0])
    self.assertEqual([e['label'] for e in epoch1], [0, 2, 2, 0, 0])
    # The image is the substitute row's image (value 20 = row 2).
    self.assertAllEqual(epoch1[1]['image'], np.full((6, 6, 3), 20, np.uint8))
    self.assertEqual([e['id'] for e in epoch2], [e['id'] for e in epoch1])
    # Two distinct bad examples, although each was met twice.
    self.assertEqual(bad.runtime_count(), 2)
    self.assertEqual(bad.total(), 2)
    bad.check()

  def test_random_access_substitutes_too(self):
    contents = [_jpeg(0), b'junk' * 10, _jpeg(40)]
    split, bad = self._split(contents, limit=3)
    element = tf.data.experimental.at(split.to_dataset(), 1)
    self.assertEqual(int(element['id']), 102)
    self.assertEqual(bad.runtime_count(), 1)

  def test_over_the_limit_fails_the_pipeline_and_check(self):
    contents = [_jpeg(0), b'junk' * 10, b'', _jpeg(40)]
    split, bad = self._split(contents, limit=1)
    with self.assertRaisesRegex(
      tf.errors.InvalidArgumentError, 'max_bad_examples=1'
    ):
      list(split.to_dataset().as_numpy_iterator())
    with self.assertRaisesRegex(UserError, 'bad examples'):
      bad.check()

  def test_stop_over_limit_turns_the_pipeline_failure_into_one_line(self):
    contents = [_jpeg(0), b'junk' * 10, b'', _jpeg(40)]
    split, bad = self._split(contents, limit=1)
    with self.assertRaisesRegex(UserError, r'^toy: 2 bad examples .*=1'):
      with bad.stop_over_limit():
        list(split.to_dataset().as_numpy_iterator())

  def test_stop_over_limit_keeps_other_errors(self):
    split, bad = self._split([_jpeg(0), b'junk' * 10], limit=1)
    list(split.to_dataset().as_numpy_iterator())  # 1 bad: within the limit.
    # A tf.data error that is not the limit keeps its own message.
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError, 'not limit'):
      with bad.stop_over_limit():
        raise tf.errors.InvalidArgumentError(None, None, 'not limit')
    with self.assertRaisesRegex(ValueError, 'other'):
      with bad.stop_over_limit():
        raise ValueError('other')

  def test_limit_counts_host_skips(self):
    contents = [_jpeg(0), b'junk' * 10, _jpeg(40)]
    split, bad = self._split(contents, limit=1)
    bad.note_host('missing.jpg', 'file not found')
    with self.assertRaises(tf.errors.InvalidArgumentError):
      list(split.to_dataset().as_numpy_iterator())

  def test_records_drop_and_count(self):
    folder = self.create_tempdir().full_path
    path = os.path.join(folder, 'x.tfrecord')
    contents = [_jpeg(0), b'\xff\xd8\xff' + b'x' * 30, _jpeg(80)]
    with tf.io.TFRecordWriter(path) as writer:
      for i, data in enumerate(contents):
        writer.write(
          record_format.serialize_example(data, i, 7 + i, i, f'k{i}.jpg')
        )
    bad = bad_examples.BadExamples('toy', limit=3)
    split = Split(
      labels=[2, 1, 0],
      ids=[7, 8, 9],
      record_files=(path,),
      record_shards=[0, 0, 0],
      image_shape=(6, 6, 3),
      bad_examples=bad,
    )
    self.assertFalse(split.random_access)
    rows = list(split.to_dataset().as_numpy_iterator())
    self.assertEqual([r['id'] for r in rows], [7, 9])
    self.assertEqual([r['label'] for r in rows], [2, 0])  # Host labels win.
    self.assertEqual(bad.runtime_count(), 1)

  def test_counting_pipeline_iterator_can_be_checkpointed(self):
    contents = [_jpeg(0), b'junk' * 10, _jpeg(40)]
    split, _ = self._split(contents, limit=3)
    ds = split_reader.decode_checked(
      tf.data.Dataset.from_tensor_slices(
        {
          'data': tf.constant(
            [open(p, 'rb').read() for p in split.paths], tf.string
          ),
          'id': tf.constant(split.ids),
          'where': tf.constant(split.paths.astype(str)),
          'row': tf.range(3),
        }
      ),
      split,
      split.bad_examples,
    ).repeat()
    iterator = iter(ds)
    next(iterator)
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    saved = checkpoint.save(os.path.join(self.create_tempdir().full_path, 'c'))
    after = int(next(iterator)['id'])
    checkpoint.restore(saved)
    self.assertEqual(int(next(iterator)['id']), after)


if __name__ == '__main__':
  tf.test.main()
