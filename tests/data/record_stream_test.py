"""The records-mode training stream: coverage, determinism, exact resume."""

import os

import numpy as np
import tensorflow as tf

from ieg_tf.data import record_format
from ieg_tf.data import record_stream
from ieg_tf.data.split import Split


def _write_shards(folder, ids_per_shard):
  files = []
  for s, ids in enumerate(ids_per_shard):
    path = os.path.join(folder, f'part-{s}.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
      for i in ids:
        data = tf.io.encode_png(np.full((4, 4, 3), i, np.uint8)).numpy()
        writer.write(record_format.serialize_example(data, 0, i, -1, f'{i}'))
    files.append(path)
  return files


class RecordStreamTest(tf.test.TestCase):
  def setUp(self):
    super().setUp()
    folder = self.create_tempdir().full_path
    layout = [[3, 8, 1, 12], [5, 0, 9], [7, 2, 11, 4, 6], [10]]
    files = _write_shards(folder, layout)
    shard_of = {i: s for s, ids in enumerate(layout) for i in ids}
    # The split leaves out ids 4 and 9 (e.g. they went to the probe).
    ids = np.array([i for i in range(13) if i not in (4, 9)])
    self.split = Split(
      labels=ids % 3,
      ids=ids,
      record_files=tuple(files),
      record_shards=[shard_of[i] for i in ids],
      image_shape=(4, 4, 3),
    )

  def _ids(self, n, seed=7, start=0, shard=0, num_shards=1):
    ds = record_stream.train_stream(
      self.split, seed=seed, shard=shard, num_shards=num_shards, start=start
    )
    rows = list(ds.take(n).as_numpy_iterator())
    for r in rows:  # Image pixel = id; labels come from the host split.
      self.assertEqual(r['image'][0, 0, 0], r['id'])
      self.assertEqual(r['label'], r['id'] % 3)
    return [int(r['id']) for r in rows]

  def test_each_epoch_is_a_permutation_of_the_split(self):
    n = len(self.split)
    stream = self._ids(3 * n)
    for e in range(3):
      self.assertCountEqual(stream[e * n : (e + 1) * n], self.split.ids)
    self.assertNotEqual(stream[:n], stream[n : 2 * n])

  def test_deterministic_per_seed_and_resume_is_exact(self):
    full = self._ids(40)
    self.assertEqual(self._ids(40), full)
    self.assertNotEqual(self._ids(40, seed=8), full)
    # Inside the first shard, and across a shard and an epoch boundary.
    for start in (2, 13, 29):
      self.assertEqual(self._ids(8, start=start), full[start : start + 8])

  def test_pipelines_split_the_files(self):
    n = len(self.split)
    a = self._ids(n, shard=0, num_shards=2)
    b = set(self._ids(n, shard=1, num_shards=2))
    self.assertTrue(set(a[:5]).isdisjoint(b))
    self.assertEqual(set(a) | b, set(self.split.ids))
    with self.assertRaisesRegex(ValueError, 'no records'):
      record_stream.train_stream(
        self.split.take(np.flatnonzero(self.split.record_shards == 3)),
        seed=0,
        shard=1,
        num_shards=2,
        start=0,
      )


if __name__ == '__main__':
  tf.test.main()
