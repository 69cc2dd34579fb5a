"""Per-example predictions of the reported model on the training split.

Each training example is seen through its plain (eval) view and a few weak
views (pad-and-crop, flip when the dataset allows it, seeded by the row so
reruns agree); the softmax outputs are averaged. The pass is distributed like
evaluation: padded batches with a mask, every row exactly once, results
gathered from all replicas (and workers) in cross-replica context.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from ieg_tf.augment import views
from ieg_tf.data import pipeline
from ieg_tf.data.split import Split
from ieg_tf.eval import precise_bn

# Weak views averaged with the plain view (IEG guesses labels from K = 2).
NUM_WEAK_VIEWS = 2


@dataclasses.dataclass(frozen=True)
class Predictions:
  """Host arrays aligned with the rows of the split.

  Attributes:
    p_given: float32 [N] probability of the given label.
    suggested: int32 [N] argmax class.
    p_suggested: float32 [N] its probability.
  """

  p_given: np.ndarray
  suggested: np.ndarray
  p_suggested: np.ndarray


def report_dataset_fn(
  split: Split,
  global_batch: int,
  *,
  num_weak_views: int = NUM_WEAK_VIEWS,
  flip: bool = True,
  seed: int = 0,
):
  """dataset_fn of padded batches of stacked views (host, tf.data).

  Args:
    split: the training split.
    global_batch: examples per step across all replicas.
    num_weak_views: weak views next to the plain one.
    flip: random flips in the weak views.
    seed: seeds the weak views (with the row index).

  Returns:
    dataset_fn for `strategy.distribute_datasets_from_function`; elements
    {'views': float32 [b, 1 + num_weak_views, H, W, C], 'label': int32 [b],
    'index': int32 [b], 'mask': float32 [b]} (padding: mask 0, index -1).
  """
  shape = tuple(split.image_shape)
  k = 1 + num_weak_views

  def to_views(e):
    stack = [views.eval_view(e['image'])]
    for v in range(num_weak_views):
      s = tf.stack([tf.cast(seed, tf.int64) + v, tf.cast(e['index'], tf.int64)])
      stack.append(views.to_float(views.weak_view(e['image'], s, flip=flip)))
    return {
      'views': tf.stack(stack),
      'label': e['label'],
      'index': e['index'],
      'mask': tf.constant(1.0),
    }

  def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
    batch = ctx.get_per_replica_batch_size(global_batch)
    steps = pipeline.eval_steps(
      len(split), global_batch, ctx.num_input_pipelines
    )
    per_pipeline = (
      steps * batch * (ctx.num_replicas_in_sync // ctx.num_input_pipelines)
    )
    ds = split.to_dataset()
    if ctx.num_input_pipelines > 1:
      ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
    ds = ds.map(to_views, num_parallel_calls=tf.data.AUTOTUNE)
    pad = tf.data.Dataset.from_tensors(
      {
        'views': tf.zeros((k,) + shape, tf.float32),
        'label': tf.constant(0, tf.int32),
        'index': tf.constant(-1, tf.int32),
        'mask': tf.constant(0.0),
      }
    ).repeat()
    ds = ds.concatenate(pad).take(per_pipeline)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

  return dataset_fn


def predict_split(
  strategy: tf.distribute.Strategy,
  model,
  ema,
  split: Split,
  global_batch: int,
  *,
  flip: bool,
  seed: int = 0,
  num_weak_views: int = NUM_WEAK_VIEWS,
  statistics=None,
) -> Predictions:
  """Averaged softmax of the reported model (EMA when on) for every row.

  Host context; every worker must call it (the gathers are collectives).

  Args:
    strategy: the strategy the model lives in.
    model: Keras model (`stateless_call`).
    ema: WeightEMA or None.
    split: the training split.
    global_batch: examples per step across replicas.
    flip: whether weak views may flip.
    seed: seeds the weak views.
    num_weak_views: weak views next to the plain one.
    statistics: BN statistics per weight set (`precise_bn`), refreshed by
      the caller; None = the stored moving averages.

  Returns:
    Predictions for the N rows.
  """
  statistics = statistics or precise_bn.MovingStatistics(model)
  dataset = strategy.distribute_datasets_from_function(
    report_dataset_fn(
      split, global_batch, num_weak_views=num_weak_views, flip=flip, seed=seed
    )
  )

  def replica_step(batch):
    params = (
      ema.values()
      if ema is not None
      else [tf.convert_to_tensor(v.value) for v in model.trainable_variables]
    )
    non_trainable = statistics.values('ema' if ema is not None else 'raw')
    images = batch['views']
    b, k = tf.shape(images)[0], images.shape[1]
    flat = tf.reshape(images, tf.concat([[b * k], tf.shape(images)[2:]], 0))
    logits, _ = model.stateless_call(
      params, non_trainable, flat, training=False
    )
    probs = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
    probs = tf.reduce_mean(tf.reshape(probs, [b, k, -1]), axis=1)
    p_given = tf.gather(probs, batch['label'], batch_dims=1)
    return {
      'index': tf.where(batch['mask'] > 0, batch['index'], -1),
      'p_given': p_given,
      'suggested': tf.argmax(probs, axis=-1, output_type=tf.int32),
      'p_suggested': tf.reduce_max(probs, axis=-1),
    }

  @tf.function
  def step(batch):
    out = strategy.run(replica_step, args=(batch,))
    return {k: strategy.gather(v, axis=0) for k, v in out.items()}

  parts = {}
  for batch in dataset:
    for key, value in step(batch).items():
      parts.setdefault(key, []).append(value.numpy())
  merged = {k: np.concatenate(v) for k, v in parts.items()}
  real = merged['index'] >= 0
  index = merged['index'][real]
  n = len(split)
  if len(index) != n or not np.array_equal(np.sort(index), np.arange(n)):
    raise RuntimeError(
      f'report pass covered {len(np.unique(index))} of {n} rows '
      f'({len(index)} predictions)'
    )
  out = {}
  for key in ('p_given', 'suggested', 'p_suggested'):
    column = np.empty(n, merged[key].dtype)
    column[index] = merged[key][real]
    out[key] = column
  return Predictions(**out)
