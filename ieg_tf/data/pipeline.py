"""tf.data input pipelines, distributed with `distribute_datasets_from_function`.

Every function here returns a `dataset_fn(input_context)` that builds ONE
input pipeline (one per worker / TPU host). Each pipeline reads its shard of
the data and batches at the PER-REPLICA batch size; tf.distribute hands
consecutive batches to the replicas that pipeline feeds.

Batch contract:
  train:  {'image_weak', ['image_strong'], 'label', 'id', 'index',
           ['clean_label', 'is_noisy'], ['label_prior' float32 [C] with
           IEG's --label_vote_neighbors]}
  meta:   {'train': <train>, 'probe': {'image', 'label', 'id', 'holdout'
           bool: a row IEG's MixUp must not train on}}
  eval:   {'image', 'label', 'mask'}

Randomness and resume: the train stream is a pure function of (seed, step).
Element k of a pipeline's stream (k counts from 0 at step 0) is row
`index_shuffle(k mod n, seed=(seed, k div n))` of the pipeline's shard, so
every epoch is a fresh permutation computed without a shuffle buffer, and the
view seed of element k is the stateless pair (seed, k). A run restarted at
step s builds its stream from k = s * examples-per-step: nothing about the
iterator needs to be saved. (TF 2.21's `tf.distribute` iterators cannot be put
in a `tf.train.Checkpoint`, and a saved tf.data shuffle buffer would hold
tens of thousands of images; see docs/reliability.md.)
"""

import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf

from ieg_tf.augment import views
from ieg_tf.data import probe as probe_lib
from ieg_tf.data import record_stream
from ieg_tf.data.split import Split

# Horizontal flips change the meaning of digits.
_NO_FLIP_DATASETS = ('digits', 'mnist')
# First word of the permutation key (any constant; fixed forever, since
# changing it changes every run's data order).
_PERMUTATION_SALT = 0x1E6
# Rows gathered per op from an in-memory split (any size gives the same
# stream; larger amortizes the per-op cost).
_GATHER_BLOCK = 256


@dataclasses.dataclass(frozen=True)
class TrainInput:
  """What the train pipeline produces.

  Attributes:
    global_batch: examples per step across all replicas.
    strong_view: also produce `image_strong` (IEG, consistency losses).
    num_strong_views: strong views per example with `strong_view`; more than
      1 adds 'image_strong_2' .. (IEG --num_views=K > 2), each an
      independent strong augmentation of the same weak view.
    aug_type: strong augmentation ('randaug', 'autoaug', 'weak').
    with_probe: zip a probe batch of the same size (meta methods).
    flip: random horizontal flips in the views.
    seed: seeds the epoch permutations and the views.
    start_step: the global step the stream starts at (a resumed run passes
      its restored step and gets exactly the batches an uninterrupted run
      would have seen from that step on).
  """

  global_batch: int
  strong_view: bool = False
  num_strong_views: int = 1
  aug_type: str = 'randaug'
  with_probe: bool = False
  flip: bool = True
  seed: int = 0
  start_step: int = 0


def allows_flip(dataset_name: str) -> bool:
  """Whether horizontal flips keep labels valid for this dataset."""
  return dataset_name not in _NO_FLIP_DATASETS


def _per_replica_batch(global_batch: int, ctx: tf.distribute.InputContext):
  return ctx.get_per_replica_batch_size(global_batch)


def shuffled_row(position, seed: int, shard: int, num_shards: int, size: int):
  """Row of the split at stream `position` of one pipeline (tf.data / eager).

  The pipeline's shard is rows shard, shard + num_shards, ... (`size` rows);
  epoch e = position // size visits them in the permutation
  index_shuffle(., seed=(seed, e)), so each epoch covers the shard once.

  Args:
    position: int64 scalar or [K], stream positions (>= 0).
    seed: permutation seed of this pipeline.
    shard: this pipeline's shard id.
    num_shards: number of pipelines.
    size: rows in this shard (>= 1).

  Returns:
    int64 rows of the split, same shape as `position`.
  """
  position = tf.convert_to_tensor(position, tf.int64)
  epoch = position // size
  # The raw op takes a [3] (or [K, 3]) key; the public wrapper mis-pads
  # batched [K, 2] seeds in TF 2.21.
  key = tf.stack(
    [tf.fill(tf.shape(epoch), tf.constant(seed, tf.int64)), epoch], axis=-1
  )
  key = tf.concat([tf.ones_like(key[..., :1]) * _PERMUTATION_SALT, key], -1)
  within = tf.raw_ops.RandomIndexShuffle(
    index=position % size,
    seed=key,
    max_index=tf.fill(tf.shape(position), tf.constant(size - 1, tf.int64)),
    rounds=4,
  )
  return shard + num_shards * within


def probe_position(position, per_step: int, shard: int, num_shards: int):
  """Global probe-stream position of one pipeline's stream position.

  Each global step reads num_shards * per_step consecutive positions of the
  (cyclic, class-interleaved) probe stream: pipeline `shard` takes the
  chunk [shard * per_step, (shard + 1) * per_step) of them, which
  tf.distribute cuts into one per-replica batch per local replica. So no two
  replicas of a step read the same positions, and the step as a whole reads
  a window of consecutive positions: class balanced, and the whole probe
  whenever the probe is no longer than the window.

  Args:
    position: int64 scalar or [K], positions of this pipeline's stream
      (position 0 = step 0).
    per_step: probe rows this pipeline yields per global step.
    shard: this pipeline's id.
    num_shards: number of pipelines.

  Returns:
    int64 global positions, same shape as `position`.
  """
  position = tf.convert_to_tensor(position, tf.int64)
  step, offset = position // per_step, position % per_step
  return (step * num_shards + shard) * per_step + offset


def _shard_size(n: int, shard: int, num_shards: int) -> int:
  return len(range(shard, n, num_shards))


def _with_view_seeds(ds: tf.data.Dataset, start: int, view_seed: int):
  """Pairs stream element j with the view seed (view_seed, start + j)."""
  seeds = tf.data.Dataset.counter(start).map(
    lambda k: tf.stack([tf.constant(view_seed, tf.int64), k])
  )
  return tf.data.Dataset.zip((ds, seeds))


def _stream(
  split: Split, start: int, row_fn, view_seed: int
) -> tf.data.Dataset:
  """(element, view seed int64 [2]) for stream positions start, start+1, ...

  Decoded in-memory splits are gathered a block of rows at a time (the
  elements are those of `Split.to_dataset`: its host columns plus the
  image). Splits of files / encoded bytes are read by random access
  (`tf.data.experimental.at`) from `Split.to_dataset`, which keeps decoding
  and bad-image handling (a bad row's element is a substitute row, so the
  dataset keeps one element per row) in one place.
  """
  positions = tf.data.Dataset.counter(start)

  def seeds(k):
    return tf.stack(
      [tf.fill(tf.shape(k), tf.constant(view_seed, tf.int64)), k], -1
    )

  if split.images is not None:
    columns = dict(split.host_columns(), image=split.images)
    table = {k: tf.constant(v) for k, v in columns.items()}

    def gather(block):
      rows = row_fn(block)
      return {k: tf.gather(v, rows) for k, v in table.items()}, seeds(block)

    return positions.batch(_GATHER_BLOCK).map(gather).unbatch()
  source = split.to_dataset()
  return positions.map(
    lambda k: (tf.data.experimental.at(source, row_fn(k)), seeds(k)),
    num_parallel_calls=tf.data.AUTOTUNE,
  )


def train_dataset_fn(
  train: Split, probe: Split | None, spec: TrainInput
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
  """The training input: noisy batches (and probe batches), forever.

  Each pipeline (worker / TPU host) reads its shard of `train` in a fresh
  permutation every epoch (see the module docstring); the probe is read in
  a cyclic, class-balanced order, each replica of a step its own window
  (`probe_position`).

  Args:
    train: the (noisy) training split.
    probe: the clean probe split; required when `spec.with_probe`.
    spec: batch size, views, seed and start step.

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
          element['image'],
          seed,
          aug_type=spec.aug_type,
          flip=spec.flip,
          num_strong=spec.num_strong_views,
        )
      )
    else:
      out['image_weak'] = views.to_float(
        views.weak_view(element['image'], seed, flip=spec.flip)
      )
    return out

  def probe_view(element, seed, holdout_table):
    image = views.weak_view(element['image'], seed, flip=spec.flip)
    return {
      'image': views.to_float(image),
      'label': element['label'],
      'id': element['id'],
      'holdout': holdout_table.lookup(tf.cast(element['id'], tf.int64)) > 0,
    }

  def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
    batch = _per_replica_batch(spec.global_batch, ctx)
    shard, shards = ctx.input_pipeline_id, ctx.num_input_pipelines
    # Each global step takes one per-replica batch for every replica this
    # pipeline feeds.
    per_step = batch * (ctx.num_replicas_in_sync // shards)
    start = spec.start_step * per_step
    # Different pipelines (workers) must not draw the same augmentations.
    seed = spec.seed + 1000 * shard
    if train.random_access:
      size = _shard_size(len(train), shard, shards)
      if size < 1:
        raise ValueError(f'{len(train)} train examples for {shards} pipelines')
      ds = _stream(
        train,
        start,
        lambda k: shuffled_row(k, seed, shard, shards, size),
        view_seed=seed + 1,
      )
    else:
      # TFRecord shards: the records stream is itself a pure function of
      # (seed, position) (see ieg_tf/data/record_stream.py).
      ds = _with_view_seeds(
        record_stream.train_stream(
          train, seed=seed, shard=shard, num_shards=shards, start=start
        ),
        start,
        seed + 1,
      )
    ds = ds.map(train_views, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch, drop_remainder=True)
    if spec.with_probe:
      # IEG §3.4: the probe is not shuffled; it is read as a cyclic,
      # class-interleaved stream, and the replicas of a step read
      # consecutive, disjoint windows of it (`probe_position`).
      if probe.random_access:
        cycle = tf.constant(probe_lib.balanced_cycle(probe.labels))
        period = int(cycle.shape[0])

        def probe_row(k):
          q = probe_position(k, per_step, shard, shards)
          return tf.gather(cycle, q % period)

        pds = _stream(probe, start, probe_row, view_seed=seed + 2)
      else:
        # Records are read in stored order (class-interleaved when the
        # probe was carved by `split_probe`): the global stream is cut into
        # per_step chunks and each pipeline takes every shards-th one.
        n_probe = len(probe)
        global_start = spec.start_step * per_step * shards
        pds = (
          probe.to_dataset()
          .repeat()
          .skip(global_start % n_probe)
          .batch(per_step)
          .shard(shards, shard)
          .unbatch()
        )
        pds = _with_view_seeds(pds, start, seed + 2)
      # A fixed half of the probe, by example id (`probe.holdout_flags`).
      holdout_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
          tf.constant(np.asarray(probe.ids, np.int64)),
          tf.constant(probe_lib.holdout_flags(probe.labels).astype(np.int64)),
        ),
        default_value=tf.constant(0, tf.int64),
      )
      pds = pds.map(
        lambda element, seed: probe_view(element, seed, holdout_table),
        num_parallel_calls=tf.data.AUTOTUNE,
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
