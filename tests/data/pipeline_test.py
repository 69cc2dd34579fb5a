"""Input pipelines: batch contract keys/shapes, probe zip, eval padding."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from ieg_tf.data import pipeline
from ieg_tf.data.split import Split
from ieg_tf.runtime import devices

devices.ensure_logical_cpus(2)


def _split(n, num_classes=3, offset=0, clean=False):
  rng = np.random.default_rng(n)
  labels = np.arange(n) % num_classes
  return Split(
    labels=labels,
    ids=np.arange(n) + offset,
    images=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
    clean_labels=labels if clean else None,
  )


def _strategies():
  return {
    'one': tf.distribute.OneDeviceStrategy('/cpu:0'),
    'two': devices.cpu_mirrored_strategy(2),
  }


class PipelineTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters('one', 'two')
  def test_train_batch_contract_with_probe_and_strong_view(self, name):
    strategy = _strategies()[name]
    spec = pipeline.TrainInput(
      global_batch=8, strong_view=True, with_probe=True, seed=3
    )
    fn = pipeline.train_dataset_fn(
      _split(40, clean=True), _split(9, offset=100), spec
    )
    dist = strategy.distribute_datasets_from_function(fn)
    batch = next(iter(dist))
    local = strategy.experimental_local_results
    train = batch['train']
    self.assertContainsSubset(
      ['image_weak', 'image_strong', 'label', 'id', 'clean_label', 'is_noisy'],
      list(train),
    )
    per_replica = 8 // strategy.num_replicas_in_sync
    for image in local(train['image_weak']) + local(batch['probe']['image']):
      self.assertEqual(image.shape, (per_replica, 8, 8, 3))
      self.assertEqual(image.dtype, tf.float32)
      self.assertBetween(float(tf.reduce_min(image)), -1.0, 1.0)
      self.assertBetween(float(tf.reduce_max(image)), -1.0, 1.0)
    probe_ids = np.concatenate(
      [p.numpy() for p in local(batch['probe']['label'])]
    )
    self.assertLen(probe_ids, 8)

  def test_train_pipeline_is_deterministic_for_a_seed(self):
    spec = pipeline.TrainInput(global_batch=4, strong_view=True, seed=7)
    ctx = tf.distribute.InputContext()
    fn = pipeline.train_dataset_fn(_split(20), None, spec)
    a = next(iter(fn(ctx)))
    b = next(iter(fn(ctx)))
    self.assertAllEqual(a['id'], b['id'])
    self.assertAllEqual(a['image_strong'], b['image_strong'])
    other = pipeline.train_dataset_fn(
      _split(20), None, pipeline.TrainInput(global_batch=4, seed=8)
    )
    self.assertNotAllEqual(
      np.concatenate([next(iter(other(ctx)))['id'] for _ in range(1)]),
      a['id'],
    )

  @parameterized.product(name=['one', 'two'], n=[1, 7, 16, 17])
  def test_eval_counts_every_example_once(self, name, n):
    strategy = _strategies()[name]
    split = _split(n)
    dist = strategy.distribute_datasets_from_function(
      pipeline.eval_dataset_fn(split, global_batch=4)
    )
    labels, masks, steps = [], [], 0
    for batch in dist:
      steps += 1
      for lab, m in zip(
        strategy.experimental_local_results(batch['label']),
        strategy.experimental_local_results(batch['mask']),
      ):
        labels.append(lab.numpy())
        masks.append(m.numpy())
    labels, masks = np.concatenate(labels), np.concatenate(masks)
    self.assertEqual(masks.sum(), n)
    self.assertEqual(steps, pipeline.eval_steps(n, 4, 1))
    self.assertAllEqual(np.sort(labels[masks == 1]), np.sort(split.labels))

  def test_eval_steps_arithmetic(self):
    self.assertEqual(pipeline.eval_steps(10, 4, 1), 3)
    self.assertEqual(pipeline.eval_steps(10, 4, 2), 3)  # 5 per worker, 2/step
    self.assertEqual(pipeline.eval_steps(8, 4, 2), 2)


if __name__ == '__main__':
  tf.test.main()
