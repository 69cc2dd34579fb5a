"""The fixed sample of weak-view batches that precise BN normalizes."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.data.split import Split
from ieg_tf.data.statistics_input import sample_rows, statistics_dataset_fn

SHAPE = (8, 8, 3)


def _split(n):
  # Row r's image is the constant 2 r + 1, so the centre pixel of any weak
  # view (1-pixel pad-and-crop, flip) names the row it came from.
  images = np.broadcast_to(
    (2 * np.arange(n) + 1).astype(np.uint8)[:, None, None, None],
    (n,) + SHAPE,
  ).copy()
  return Split(labels=np.zeros(n), ids=np.arange(n), images=images)


def _rows(batch):
  centre = batch['image_weak'].numpy()[:, 4, 4, 0]
  level = np.rint((centre + 1.0) / 2.0 * 255.0).astype(int)  # [-1, 1] -> 0..255
  return (level - 1) // 2


class SampleRowsTest(tf.test.TestCase):
  def test_distinct_sorted_and_seeded(self):
    rows = sample_rows(100, 30, seed=3)
    self.assertLen(rows, 30)
    self.assertLen(np.unique(rows), 30)
    self.assertTrue(np.all((rows >= 0) & (rows < 100)))
    self.assertAllEqual(rows, sample_rows(100, 30, seed=3))
    self.assertNotAllEqual(rows, sample_rows(100, 30, seed=4))

  def test_small_split_gives_every_row(self):
    self.assertAllEqual(np.sort(sample_rows(5, 12, seed=0)), np.arange(5))

  def test_class_sorted_rows_make_mixed_batches(self):
    # Folder splits are stored class by class: a batch must still mix them.
    labels = np.repeat(np.arange(10), 500)  # 10 classes, sorted
    rows = sample_rows(len(labels), 50 * 64, seed=1)
    for batch in rows.reshape(50, 64):
      self.assertGreaterEqual(len(np.unique(labels[batch])), 8)


class StatisticsDatasetTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.named_parameters(('one_replica', 1), ('two_replicas', 2))
  def test_batches_read_the_sampled_rows(self, replicas):
    n, batch, num_batches, seed = 60, 8, 3, 5
    ctx = tf.distribute.InputContext(num_replicas_in_sync=replicas)
    dataset = statistics_dataset_fn(
      _split(n), batch, num_batches, flip=True, seed=seed
    )(ctx)
    batches = list(dataset)
    # One per-replica batch per replica and global step.
    self.assertLen(batches, num_batches * replicas)
    for b in batches:
      self.assertEqual(b['image_weak'].shape, (batch // replicas,) + SHAPE)
      self.assertEqual(b['image_weak'].dtype, tf.float32)
    read = np.concatenate([_rows(b) for b in batches])
    self.assertAllEqual(read, sample_rows(n, batch * num_batches, seed))
    # A second pass yields the same batches (same views too).
    for a, b in zip(batches, list(dataset)):
      self.assertAllEqual(a['image_weak'], b['image_weak'])

  def test_a_small_split_is_read_again(self):
    dataset = statistics_dataset_fn(_split(5), 4, 3, flip=False, seed=0)(
      tf.distribute.InputContext()
    )
    read = np.concatenate([_rows(b) for b in dataset])
    self.assertAllEqual(read, np.tile(sample_rows(5, 12, seed=0), 3)[:12])

  def test_pipelines_read_different_rows(self):
    def rows(pipeline_id):
      ctx = tf.distribute.InputContext(
        num_input_pipelines=2,
        input_pipeline_id=pipeline_id,
        num_replicas_in_sync=2,
      )
      dataset = statistics_dataset_fn(_split(60), 8, 2, flip=True, seed=1)
      return np.concatenate([_rows(b) for b in dataset(ctx)])

    self.assertNotAllEqual(rows(0), rows(1))
    self.assertLen(rows(0), 8)  # 2 batches of the worker's 4 rows


if __name__ == '__main__':
  tf.test.main()
