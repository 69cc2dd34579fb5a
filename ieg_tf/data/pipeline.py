"""tf.data input pipelines, distributed with `distribute_datasets_from_function`.

Every function here returns a `dataset_fn(input_context)` that builds ONE
input pipeline (one per worker / TPU host). Each pipeline reads its shard of
the data and batches at the PER-REPLICA batch size; tf.distribute hands
consecutive batches to the replicas that pipeline feeds.

Batch contract (DESIGN.md):
  train:  {'image_weak', ['image_strong'], 'label', 'id', ['clean_label',
           'is_noisy']}
  meta:   {'train': <train>, 'probe': {'image', 'label'}}
  eval:   {'image', 'label', 'mask'}

Randomness: augmentation draws from a per-element seed [2] that comes from a
seeded `tf.data.Dataset.random`, so a fixed `seed` gives the same stream of
views and the iterator state (a checkpointable tf.data object) resumes it.
"""

import dataclasses
from typing import Callable

import tensorflow as tf

from ieg_tf.augment import views
from ieg_tf.data.split import Split

# Horizontal flips change the meaning of digits.
_NO_FLIP_DATASETS = ('digits', 'mnist')
_MAX_SHUFFLE_BUFFER = 50_000


@dataclasses.dataclass(frozen=True)
class TrainInput:
  """What the train pipeline produces.

  Attributes:
    global_batch: examples per step across all replicas.
    strong_view: also produce `image_strong` (IEG, consistency losses).
    aug_type: strong augmentation ('randaug', 'autoaug', 'weak').
    with_probe: zip a probe batch of the same size (meta methods).
    flip: random horizontal flips in the views.
    seed: seeds shuffling and augmentation.
  """

  global_batch: int
  strong_view: bool = False
  aug_type: str = 'randaug'
  with_probe: bool = False
  flip: bool = True
  seed: int = 0


def allows_flip(dataset_name: str) -> bool:
  """Whether horizontal flips keep labels valid for this dataset."""
  return dataset_name not in _NO_FLIP_DATASETS


def _per_replica_batch(global_batch: int, ctx: tf.distribute.InputContext):
  return ctx.get_per_replica_batch_size(global_batch)


def _with_seeds(ds: tf.data.Dataset, seed: int) -> tf.data.Dataset:
  """Pairs each element with its own stateless-op seed int64 [2]."""
  seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)
  return tf.data.Dataset.zip((ds, seeds))


def _shuffled(split: Split, ctx, seed: int) -> tf.data.Dataset:
  ds = split.to_dataset()
  if ctx.num_input_pipelines > 1:
    ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
  buffer = max(1, min(len(split), _MAX_SHUFFLE_BUFFER))
  return ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)


def train_dataset_fn(
  train: Split, probe: Split | None, spec: TrainInput
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
  """The training input: noisy batches (and probe batches), forever.

  Args:
    train: the (noisy) training split.
    probe: the clean probe split; required when `spec.with_probe`.
    spec: batch size, views and seeds.

  Returns:
    dataset_fn for `strategy.distribute_datasets_from_function`. Batches
    have static shapes (drop_remainder) as XLA / TPU need.
  """
  if spec.with_probe and (probe is None or len(probe) == 0):
    raise ValueError('with_probe needs a non-empty probe split')

  def train_views(element, seed):
    out = {k: v for k, v in element.items() if k != 'image'}
    if spec.strong_view:
      out.update(
        views.train_views(
          element['image'], seed, aug_type=spec.aug_type, flip=spec.flip
        )
      )
    else:
      out['image_weak'] = views.to_float(
        views.weak_view(element['image'], seed, flip=spec.flip)
      )
    return out

  def probe_view(element, seed):
    image = views.weak_view(element['image'], seed, flip=spec.flip)
    return {'image': views.to_float(image), 'label': element['label']}

  def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
    batch = _per_replica_batch(spec.global_batch, ctx)
    # Different pipelines (workers) must not draw the same augmentations.
    seed = spec.seed + 1000 * ctx.input_pipeline_id
    ds = _shuffled(train, ctx, seed).repeat()
    ds = _with_seeds(ds, seed + 1).map(
      train_views, num_parallel_calls=tf.data.AUTOTUNE
    )
    ds = ds.batch(batch, drop_remainder=True)
    if spec.with_probe:
      # IEG §3.4: the probe is neither shuffled nor sharded: it is
      # class-interleaved, so consecutive batches stay class balanced.
      pds = probe.to_dataset().repeat()
      pds = _with_seeds(pds, seed + 2).map(
        probe_view, num_parallel_calls=tf.data.AUTOTUNE
      )
      pds = pds.batch(batch, drop_remainder=True)
      ds = tf.data.Dataset.zip({'train': ds, 'probe': pds})
    return ds.prefetch(tf.data.AUTOTUNE)

  return dataset_fn


def eval_steps(num_examples: int, global_batch: int, num_pipelines: int) -> int:
  """Steps that cover every eval example once with padded batches.

  Args:
    num_examples: size of the eval split.
    global_batch: eval examples per step across all replicas.
    num_pipelines: input pipelines (workers).

  Returns:
    The number of steps every pipeline yields.
  """
  per_pipeline_batch = global_batch // num_pipelines
  shard = -(-num_examples // num_pipelines)
  return max(1, -(-shard // per_pipeline_batch))


def eval_dataset_fn(
  split: Split, global_batch: int
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
  """The eval input: each example exactly once, padding masked out.

  Every pipeline yields the same number of full batches (`eval_steps`), so
  all replicas run the same number of steps; padded rows have mask 0.

  Args:
    split: the eval split.
    global_batch: eval examples per step across all replicas.

  Returns:
    dataset_fn for `strategy.distribute_datasets_from_function`; elements
    {'image': float32 [b, H, W, C], 'label': int32 [b], 'mask': float32 [b]}.
  """
  image_shape = tuple(split.image_shape)

  def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
    batch = _per_replica_batch(global_batch, ctx)
    steps = eval_steps(len(split), global_batch, ctx.num_input_pipelines)
    per_pipeline = (
      steps * batch * (ctx.num_replicas_in_sync // ctx.num_input_pipelines)
    )
    ds = split.to_dataset()
    if ctx.num_input_pipelines > 1:
      ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
    ds = ds.map(
      lambda e: {
        'image': views.eval_view(e['image']),
        'label': e['label'],
        'mask': tf.constant(1.0),
      },
      num_parallel_calls=tf.data.AUTOTUNE,
    )
    pad = tf.data.Dataset.from_tensors(
      {
        'image': tf.zeros(image_shape, tf.float32),
        'label': tf.constant(0, tf.int32),
        'mask': tf.constant(0.0),
      }
    ).repeat()
    ds = ds.concatenate(pad).take(per_pipeline)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

  return dataset_fn
