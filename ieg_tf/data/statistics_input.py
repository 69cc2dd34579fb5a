"""A fixed, finite sample of weak-view training batches (precise BN input).

Unlike the training stream (`pipeline.train_dataset_fn`: endless, random
access), this input reads a fixed random sample of rows, so every pass
yields the same batches and ends. A pass must end: dropping an
iterator of the random-access stream while its parallel reads are in flight
crashes the process (TF 2.21, file-backed splits).
"""

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from ieg_tf.augment import views
from ieg_tf.data.split import Split


def sample_rows(num_rows: int, wanted: int, seed: int) -> np.ndarray:
  """A seeded draw of min(wanted, num_rows) distinct rows, in random order.

  Random order matters: folder splits are stored class by class, and
  batches of consecutive rows would each hold about one class, whose
  variance misses the between-class part that training's shuffled batches
  have. (TFRecord splits are read in their shards' order, which the
  converter already shuffled.)

  Args:
    num_rows: rows in the split (>= 1).
    wanted: rows needed (>= 1); a smaller split is read repeatedly.
    seed: seeds the draw.

  Returns:
    int64 [min(wanted, num_rows)].
  """
  rng = np.random.default_rng(seed)
  rows = rng.choice(num_rows, size=min(wanted, num_rows), replace=False)
  return rows.astype(np.int64)


def statistics_dataset_fn(
  split: Split, global_batch: int, num_batches: int, *, flip: bool, seed: int
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
  """dataset_fn of `num_batches` global batches of weak training views.

  Args:
    split: the training split (>= 1 row).
    global_batch: examples per global batch across all replicas.
    num_batches: global batches per pass.
    flip: whether weak views may flip.
    seed: seeds the row sample and the views.

  Returns:
    dataset_fn for `strategy.distribute_datasets_from_function`; each pass
    yields, per replica, `num_batches` batches {'image_weak': float32
    [b, H, W, C]} (b = the per-replica batch; static shapes).
  """

  def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
    batch = ctx.get_per_replica_batch_size(global_batch)
    per_pipeline = num_batches * (
      ctx.num_replicas_in_sync // ctx.num_input_pipelines
    )
    # Each pipeline draws its own sample, seeded by its id (samples of
    # different pipelines may overlap).
    shard = ctx.input_pipeline_id
    wanted = per_pipeline * batch
    rows = sample_rows(len(split), wanted, seed + 1000 * shard)
    sample = split.take(rows).to_dataset().repeat().take(wanted)
    ds = tf.data.Dataset.zip(sample, tf.data.Dataset.counter())

    def weak(element, k):
      view_seed = tf.stack([tf.constant(seed + 1000 * shard, tf.int64), k])
      image = views.weak_view(element['image'], view_seed, flip=flip)
      return {'image_weak': views.to_float(image)}

    ds = ds.map(weak, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

  return dataset_fn
