"""BatchNorm statistics for inference: stored moving averages or re-estimated.

Training normalizes with each batch's own statistics; inference uses the
moving averages, a decay-m average (m = 0.9 in most networks here: about the
last 10 batches) of
statistics produced by weights that changed at every one of those steps. The
EMA weights have no statistics of their own at all: evaluated with the raw
model's, they see activations of other weights. Measured on CIFAR-10 (docs/methods.md
"Precise BatchNorm statistics"), this costs IEG runs 1.5-2.3 points of eval
top-1 and an EMA model up to 4.

`PreciseBatchNorm` re-estimates, for one set of weights, every BN layer's
mean and variance as the average over `num_batches` weak-view training
batches (per-replica batches of the training size, the ones training
normalizes with) of the batch statistics those weights produce: Wu &
Johnson's "precise BN". Equal weights over many batches of fixed weights,
where the moving average weighs a few recent batches of moving weights.
`MovingStatistics` is the same interface over the stored moving averages
(--precise_bn_batches=0).

Both give, per weight set ('raw' or 'ema'), the values that replace
`model.non_trainable_variables` in `model.stateless_call(..., training=False)`
inside `strategy.run` (`values`), or on the host (`host_values`).
"""

import keras
import numpy as np
import tensorflow as tf

from ieg_tf.data import pipeline
from ieg_tf.data import statistics_input
from ieg_tf.data.split import Split


def moving_statistic_momenta(model: keras.Model) -> list[float | None]:
  """Per `model.non_trainable_variables` entry: its BN layer's momentum.

  Args:
    model: a Keras model.

  Returns:
    One entry per non-trainable variable, in order: the decay m of the
    BatchNormalization layer whose moving mean / variance it is, or None for
    any other variable (e.g. a dropout seed), which is kept as it is.
  """
  momenta = {}
  stack = [model]
  while stack:
    layer = stack.pop()
    # A frozen BN layer (trainable=False) normalizes with its moving
    # statistics even in training mode and updates nothing: keep them.
    if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable:
      for variable in (layer.moving_mean, layer.moving_variance):
        momenta[id(variable)] = float(layer.momentum)
    stack.extend(getattr(layer, 'layers', ()))
  return [momenta.get(id(v)) for v in model.non_trainable_variables]


def average_batch_statistics(
  sums: list[np.ndarray], momenta: list[float | None], count: int
) -> list[np.ndarray | None]:
  """Mean batch statistics from summed one-step moving-average updates.

  A BN layer in training mode updates moving = m * moving + (1 - m) * batch;
  started from moving = 0, its output is (1 - m) * batch. Summed over
  `count` (replica, batch) pairs, the mean batch statistic is
  sum / (count * (1 - m)).

  Args:
    sums: per non-trainable variable, the sum of the updated values (any
      shape); ignored where `momenta` is None.
    momenta: from `moving_statistic_momenta`.
    count: number of summed (replica, batch) updates.

  Returns:
    Per variable the mean batch statistic, or None where `momenta` is None.
  """
  return [
    None if m is None else np.asarray(s) / (count * (1.0 - m))
    for s, m in zip(sums, momenta)
  ]


def _raw_weights(model) -> list[tf.Tensor]:
  return [tf.convert_to_tensor(v.value) for v in model.trainable_variables]


class MovingStatistics:
  """The stored moving averages, for every weight set (no re-estimation)."""

  def __init__(self, model):
    """Args: model: the Keras model whose moving statistics are used."""
    self._model = model

  def refresh(self) -> None:
    """Nothing to re-estimate (host)."""

  def values(self, name: str) -> list[tf.Tensor]:
    """Replica context: the replica's own copies of the statistics."""
    del name  # One set of statistics for every weight set.
    return [
      tf.convert_to_tensor(v.value) for v in self._model.non_trainable_variables
    ]

  def host_values(self, name: str) -> list[np.ndarray]:
    """Host: the statistics (a cross-replica read is the replica mean)."""
    del name
    return [np.asarray(v.numpy()) for v in self._model.non_trainable_variables]


class PreciseBatchNorm:
  """Re-estimated BN statistics per weight set ('raw', plus 'ema' with EMA).

  Every worker must call `refresh` (its sums are cross-replica reductions).
  The statistics live in mirrored variables so replica steps read them on
  their device instead of receiving them with every batch.
  """

  def __init__(
    self,
    strategy: tf.distribute.Strategy,
    model,
    ema,
    split: Split,
    *,
    global_batch: int,
    num_batches: int,
    flip: bool,
    seed: int,
  ):
    """Args:
    strategy: the strategy the model lives in.
    model: Keras model (`stateless_call`, BN moving statistics).
    ema: WeightEMA or None.
    split: the training split (its weak views are normalized).
    global_batch: the training batch, across replicas.
    num_batches: global batches averaged per estimate (>= 1).
    flip: whether weak views may flip.
    seed: seeds the row sample and the views (the same batches at every
      refresh).
    """
    if num_batches < 1:
      raise ValueError(f'num_batches must be >= 1, got {num_batches}')
    self._strategy = strategy
    self._model = model
    self._ema = ema
    self._num_batches = num_batches
    self._momenta = moving_statistic_momenta(model)
    if not any(m is not None for m in self._momenta):
      raise ValueError('the model has no BatchNormalization statistics')
    self._dataset = strategy.distribute_datasets_from_function(
      statistics_input.statistics_dataset_fn(
        split, global_batch, num_batches, flip=flip, seed=seed
      )
    )
    names = ['raw'] + (['ema'] if ema is not None else [])
    with strategy.scope():
      self._stats = {
        name: [
          tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False)
          for v in model.non_trainable_variables
        ]
        for name in names
      }
    self._sums = tf.function(self._distributed_sums)

  def _params(self, name):
    return self._ema.values() if name == 'ema' else _raw_weights(self._model)

  def _replica_sums(self, batch, name):
    """Replica context: one training-mode update of zeroed statistics."""
    current = [
      tf.convert_to_tensor(v.value) for v in self._model.non_trainable_variables
    ]
    zeroed = [
      c if m is None else tf.zeros_like(c)
      for c, m in zip(current, self._momenta)
    ]
    _, updated = self._model.stateless_call(
      self._params(name), zeroed, batch['image_weak'], training=True
    )
    return [tf.cast(u, tf.float32) for u in updated]

  def _distributed_sums(self, batch, name):
    """Cross-replica context: per non-trainable variable, the sum over
    replicas of `_replica_sums` (float32, the variable's shape)."""
    per_replica = self._strategy.run(self._replica_sums, args=(batch, name))
    return [
      self._strategy.reduce(tf.distribute.ReduceOp.SUM, s, axis=None)
      for s in per_replica
    ]

  def refresh(self) -> None:
    """Re-estimates the statistics of the current weights (host)."""
    count = self._num_batches * self._strategy.num_replicas_in_sync
    current = [v.numpy() for v in self._model.non_trainable_variables]
    for name, stats in self._stats.items():
      totals, steps = None, 0
      for batch in self._dataset:  # `num_batches` batches, then it ends.
        sums = [s.numpy() for s in self._sums(batch, name)]
        totals = (
          sums if totals is None else [a + b for a, b in zip(totals, sums)]
        )
        steps += 1
      if steps != self._num_batches:
        raise RuntimeError(
          f'precise BN read {steps} of {self._num_batches} batches'
        )
      means = average_batch_statistics(totals, self._momenta, count)
      for variable, mean, kept in zip(stats, means, current):
        variable.assign(kept if mean is None else mean.astype(kept.dtype))

  def values(self, name: str) -> list[tf.Tensor]:
    """Replica context: the statistics re-estimated for `name`'s weights."""
    return [tf.convert_to_tensor(v) for v in self._stats[name]]

  def host_values(self, name: str) -> list[np.ndarray]:
    """Host: the statistics re-estimated for `name`'s weights."""
    return [np.asarray(v.numpy()) for v in self._stats[name]]


def for_run(cfg, strategy, data, state, split: Split):
  """The run's statistics: `PreciseBatchNorm` when --precise_bn_batches > 0.

  Args:
    cfg: the run's config (`run.precise_bn_batches`, `run.batch_size`,
      `data.seed`).
    strategy: distribution strategy.
    data: `PreparedData` (whether views may flip).
    state: `TrainState` (model, EMA).
    split: the split the run trains on.

  Returns:
    `PreciseBatchNorm` or `MovingStatistics`.
  """
  if cfg.run.precise_bn_batches <= 0:
    return MovingStatistics(state.network.model)
  return PreciseBatchNorm(
    strategy,
    state.network.model,
    state.ema,
    split,
    global_batch=cfg.run.batch_size,
    num_batches=cfg.run.precise_bn_batches,
    flip=pipeline.allows_flip(data.name),
    seed=cfg.data.seed,
  )
