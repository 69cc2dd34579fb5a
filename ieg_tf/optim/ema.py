"""Exponential moving average of the trainable weights (reference §1.8).

Effective decay min(decay, (1 + n) / (10 + n)) with n the number of updates,
as TF1's `ExponentialMovingAverage(decay, num_updates)`. Evaluation reads
`shadows`; BatchNorm moving statistics are not averaged: evaluation
re-estimates them for the shadows (`eval/precise_bn.py`) or, with
--precise_bn_batches=0, uses the raw model's.
"""

from typing import Sequence

import tensorflow as tf

from ieg_tf.optim import momentum


def effective_decay(decay: float, num_updates: tf.Tensor) -> tf.Tensor:
  """min(decay, (1 + n) / (10 + n)); float32 scalar."""
  n = tf.cast(num_updates, tf.float32)
  return tf.minimum(decay, (1.0 + n) / (10.0 + n))


class WeightEMA(tf.Module):
  """Shadow copies of variables; create in `strategy.scope()`."""

  def __init__(
    self, variables: Sequence[tf.Variable], decay: float, name: str = 'ema'
  ):
    super().__init__(name=name)
    self._variables = list(variables)
    self.decay = decay
    self.shadows = []
    for i, var in enumerate(self._variables):
      with tf.init_scope():
        self.shadows.append(
          tf.Variable(
            tf.convert_to_tensor(var), trainable=False, name=f'ema_{i}'
          )
        )

  def update(
    self,
    strategy: tf.distribute.Strategy,
    num_updates: tf.Tensor,
    apply_if=None,
  ):
    """One EMA step; runs in cross-replica context (inside a merge_call).

    Args:
      strategy: the current strategy.
      num_updates: int scalar, optimizer steps taken before this update.
      apply_if: None, or the optimizer's per-replica bool verdict (see
        `MomentumOptimizer.apply_gradients`): when false the shadows keep
        their values (a skipped non-finite step leaves no trace).
    """
    d = effective_decay(self.decay, num_updates)

    def update_one(shadow, var, *flag):
      new = d * shadow + (1.0 - d) * var
      if flag:
        new = tf.where(flag[0], new, shadow)
      shadow.assign(new)

    for shadow, var in zip(self.shadows, self._variables):
      args = (momentum.tf_variable(var),)
      if apply_if is not None:
        args += (apply_if,)
      strategy.extended.update(shadow, update_one, args=args, group=False)

  def values(self) -> list:
    """The averaged weights as tensors (replica context: local copies)."""
    return [tf.convert_to_tensor(s) for s in self.shadows]
