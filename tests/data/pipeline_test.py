"""Input pipelines: batch contract keys/shapes, probe zip, eval padding."""

import dataclasses
import os

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


def _as_files(split: Split, folder: str) -> Split:
  """The same rows with their images written as PNG files in `folder`."""
  paths = []
  for i, image in enumerate(split.images):
    path = os.path.join(folder, f'{i}.png')
    tf.io.write_file(path, tf.io.encode_png(image))
    paths.append(path)
  return dataclasses.replace(
    split, images=None, paths=np.asarray(paths, dtype=object)
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

  def test_extra_strong_views_for_num_views_above_two(self):
    spec = pipeline.TrainInput(
      global_batch=4, strong_view=True, num_strong_views=2, seed=7
    )
    ctx = tf.distribute.InputContext()
    batch = next(iter(pipeline.train_dataset_fn(_split(20), None, spec)(ctx)))
    self.assertEqual(batch['image_strong_2'].shape, batch['image_weak'].shape)
    self.assertNotAllEqual(batch['image_strong_2'], batch['image_strong'])
    two = pipeline.TrainInput(global_batch=4, strong_view=True, seed=7)
    base = next(iter(pipeline.train_dataset_fn(_split(20), None, two)(ctx)))
    self.assertNotIn('image_strong_2', base)
    self.assertAllEqual(base['image_strong'], batch['image_strong'])

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

  def test_each_epoch_is_a_new_permutation_of_the_split(self):
    spec = pipeline.TrainInput(global_batch=4, seed=7, flip=False)
    ds = pipeline.train_dataset_fn(_split(20), None, spec)(
      tf.distribute.InputContext()
    )
    ids = np.concatenate([b['id'].numpy() for b in ds.take(15)])
    epochs = ids.reshape(3, 20)
    for epoch in epochs:
      self.assertAllEqual(np.sort(epoch), np.arange(20))
    self.assertNotAllEqual(epochs[0], epochs[1])
    self.assertNotAllEqual(epochs[0], np.arange(20))

  def test_shuffled_row_is_a_permutation_per_shard(self):
    for shards, shard, n in ((1, 0, 13), (3, 1, 13), (3, 2, 13)):
      size = len(range(shard, n, shards))
      rows = pipeline.shuffled_row(
        np.arange(2 * size), 5, shard, shards, size
      ).numpy()
      for epoch in rows.reshape(2, size):
        self.assertAllEqual(np.sort(epoch), np.arange(shard, n, shards))
      # Scalar and batched calls agree (the tf.data path is per element).
      self.assertEqual(
        int(pipeline.shuffled_row(size + 1, 5, shard, shards, size)),
        rows[size + 1],
      )

  @parameterized.parameters('one', 'two')
  def test_stream_restarted_at_a_step_continues_it_exactly(self, name):
    # Resume contract: the batches from step s on depend only on (seed, s).
    strategy = _strategies()[name]
    local = strategy.experimental_local_results

    def batches(start, count):
      spec = pipeline.TrainInput(
        global_batch=4,
        strong_view=True,
        with_probe=True,
        seed=11,
        start_step=start,
      )
      fn = pipeline.train_dataset_fn(_split(10), _split(3, offset=50), spec)
      it = iter(strategy.distribute_datasets_from_function(fn))
      out = []
      for _ in range(count):
        b = next(it)
        out.append(
          [
            np.concatenate([x.numpy() for x in local(t)])
            for t in (
              b['train']['id'],
              b['train']['image_strong'],
              b['probe']['image'],
              b['probe']['label'],
            )
          ]
        )
      return out

    full = batches(0, 7)
    resumed = batches(4, 3)  # crosses the epoch boundary at step 5
    for want, got in zip(full[4:], resumed):
      for a, b in zip(want, got):
        self.assertAllEqual(a, b)

  def test_file_split_streams_like_the_same_images_in_memory(self):
    # Files go through random access on Split.to_dataset, in-memory images
    # through a gather: the same rows, views and restart behaviour.
    memory = _split(10)
    files = _as_files(memory, self.create_tempdir().full_path)
    ctx = tf.distribute.InputContext()

    def stream(split, start, count):
      spec = pipeline.TrainInput(global_batch=4, seed=3, start_step=start)
      ds = pipeline.train_dataset_fn(split, None, spec)(ctx)
      return [
        (b['id'].numpy(), b['image_weak'].numpy()) for b in ds.take(count)
      ]

    want = stream(memory, 0, 4)
    for expected, got in (
      (want, stream(files, 0, 4)),
      (want[2:], stream(files, 2, 2)),
    ):
      self.assertLen(got, len(expected))
      for a, b in zip(expected, got):
        self.assertAllEqual(a[0], b[0])
        self.assertAllClose(a[1], b[1])

  @parameterized.parameters('memory', 'files')
  def test_label_prior_rows_follow_their_examples(self, source):
    # Each row's prior encodes its id, so a batch shows whether the prior
    # was gathered with the same row as the image and label.
    split = _split(10, offset=50)
    if source == 'files':
      split = _as_files(split, self.create_tempdir().full_path)
    prior = np.zeros((10, 3), np.float32)
    prior[:, 0] = split.ids
    split = dataclasses.replace(split, label_prior=prior)
    spec = pipeline.TrainInput(global_batch=4, strong_view=True, seed=1)
    ds = pipeline.train_dataset_fn(split, None, spec)(
      tf.distribute.InputContext()
    )
    for batch in ds.take(5):
      self.assertEqual(batch['label_prior'].shape, (4, 3))
      self.assertEqual(batch['label_prior'].dtype, tf.float32)
      self.assertAllEqual(batch['label_prior'][:, 0], batch['id'])

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
