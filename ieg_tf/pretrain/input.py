"""tf.data inputs of the contrastive stage: SimCLR view pairs, and plain
eval views for feature extraction.

Both return a `dataset_fn(input_context)` for
`strategy.distribute_datasets_from_function`; batches are PER-REPLICA and
static (drop_remainder), as XLA and TPUs need. Augmentation runs here on the
host (no py_function), never inside the compiled step.
"""

from typing import Callable

import numpy as np
import tensorflow as tf

from ieg_tf.augment import views
from ieg_tf.data.split import Split

_MAX_SHUFFLE_BUFFER = 50_000
# Views of images up to this side use the CIFAR recipe (crop area >= 0.2,
# colour strength 0.5, no blur), larger ones the ImageNet one.
_SMALL_IMAGE_SIDE = 64


def view_recipe(image_shape) -> dict:
  """SimCLR view settings for an image shape (H, W, C): C2D's CIFAR recipe
  for small images, SimCLR's ImageNet recipe for large ones."""
  if min(image_shape[:2]) <= _SMALL_IMAGE_SIDE:
    return {'strength': 0.5, 'crop_scale': (0.2, 1.0)}
  return {'strength': 1.0, 'crop_scale': (0.08, 1.0)}


def pairs_dataset_fn(
  split: Split, global_batch: int, seed: int
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
  """The contrastive input: {'view1', 'view2'} pairs of `split`'s images.

  Labels are not read. Shuffled, repeated forever; one stateless seed per
  element from a seeded `Dataset.random`, so a fixed `seed` reproduces the
  stream.

  Args:
    split: the images to pre-train on (the noisy train split).
    global_batch: pairs per step across all replicas.
    seed: shuffle / augmentation seed (callers add the start step so a
      resumed stage does not replay the first batches).

  Returns:
    dataset_fn yielding {'view1', 'view2'}: float32 [b, H, W, C] in [-1, 1]
    with b the per-replica batch.
  """
  recipe = view_recipe(split.image_shape)

  def make_views(element, element_seed):
    return views.simclr_views(element['image'], element_seed, **recipe)

  def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
    batch = ctx.get_per_replica_batch_size(global_batch)
    pipeline_seed = seed + 1000 * ctx.input_pipeline_id
    ds = split.to_dataset()
    if ctx.num_input_pipelines > 1:
      ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
    buffer = max(1, min(len(split), _MAX_SHUFFLE_BUFFER))
    ds = ds.shuffle(buffer, seed=pipeline_seed, reshuffle_each_iteration=True)
    ds = ds.repeat()
    seeds = tf.data.Dataset.random(seed=pipeline_seed + 1).batch(
      2, drop_remainder=True
    )
    ds = tf.data.Dataset.zip((ds, seeds)).map(
      make_views, num_parallel_calls=tf.data.AUTOTUNE
    )
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

  return dataset_fn


def feature_steps(num_examples: int, global_batch: int) -> int:
  """Steps that cover `num_examples` once with padded global batches."""
  return max(1, -(-num_examples // global_batch))


def rows_dataset_fn(
  split: Split, global_batch: int
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
  """Every row of `split` once, as eval views, padded to whole steps.

  Not sharded: every input pipeline yields ALL rows to its own replicas, so
  each worker can assemble all features (no collective is needed).

  Args:
    split: the examples to encode.
    global_batch: examples per step across all replicas.

  Returns:
    dataset_fn yielding {'image': float32 [b, H, W, C], 'index': int32 [b]
    (row in `split`), 'mask': float32 [b] (0 = padding)}.
  """
  image_shape = tuple(split.image_shape)

  def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
    batch = ctx.get_per_replica_batch_size(global_batch)
    local_replicas = ctx.num_replicas_in_sync // ctx.num_input_pipelines
    total = feature_steps(len(split), global_batch) * batch * local_replicas
    ds = split.to_dataset().map(
      lambda e: {
        'image': views.eval_view(e['image']),
        'index': e['index'],
        'mask': tf.constant(1.0),
      },
      num_parallel_calls=tf.data.AUTOTUNE,
    )
    pad = tf.data.Dataset.from_tensors(
      {
        'image': tf.zeros(image_shape, tf.float32),
        'index': tf.constant(0, tf.int32),
        'mask': tf.constant(0.0),
      }
    ).repeat()
    ds = ds.concatenate(pad).take(total)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

  return dataset_fn


def subset(split: Split, max_examples: int, seed: int) -> Split:
  """A seeded random subset of at most `max_examples` rows (host)."""
  n = len(split)
  if max_examples >= n:
    return split
  rows = np.random.default_rng(seed).permutation(n)[:max_examples]
  return split.take(np.sort(rows))
