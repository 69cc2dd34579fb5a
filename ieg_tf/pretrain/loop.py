"""The compiled contrastive inner loop: `num_steps` steps in one tf.function.

The same shape as `ieg_tf/runtime/train_loop.py`: per step, in replica
context, read the variables, run the step's pure `compute`, average the new
BatchNorm statistics over replicas and let LARS SUM the gradients and update
weights and momentum in one cross-replica update. Metrics are averaged over
replicas and steps.
"""

from typing import Callable

import tensorflow as tf

from ieg_tf.optim.lars import LARSOptimizer
from ieg_tf.pretrain.step import ContrastiveStep


def make_pretrain_loop(
  strategy: tf.distribute.Strategy,
  model,
  optimizer: LARSOptimizer,
  step: ContrastiveStep,
) -> Callable:
  """Builds `loop(iterator, num_steps) -> {metric: float32 scalar}`.

  Args:
    strategy: the strategy the variables were created under.
    model: the contrastive Keras model (encoder + head); its trainable
      variables are the ones `optimizer` updates, in the same order.
    optimizer: LARS over `model.trainable_variables`.
    step: the per-replica contrastive step.

  Returns:
    A tf.function of a distributed iterator of {'view1', 'view2'} batches
    and an int32 scalar tensor (steps to run; a tensor so different counts
    do not retrace). Call it on the host (cross-replica context).
  """
  names = step.metric_names

  def replica_step(batch):
    ctx = tf.distribute.get_replica_context()
    params = [tf.convert_to_tensor(v.value) for v in model.trainable_variables]
    non_trainable = [
      tf.convert_to_tensor(v.value) for v in model.non_trainable_variables
    ]
    out = step.compute(params, non_trainable, batch)
    new_stats = list(out.new_non_trainable)
    if new_stats:
      # Replicas normalized different batches; the mean keeps every copy of
      # the moving statistics identical.
      new_stats = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, new_stats)
    optimizer.apply_gradients(
      out.grads,
      assign_vars=model.non_trainable_variables if new_stats else (),
      assign_values=new_stats,
    )
    return {k: tf.cast(out.metrics[k], tf.float32) for k in names}

  @tf.function
  def loop(iterator, num_steps):
    sums = {k: tf.constant(0.0) for k in names}
    for _ in tf.range(num_steps):
      per_replica = strategy.run(replica_step, args=(next(iterator),))
      sums = {
        k: sums[k]
        + strategy.reduce(
          tf.distribute.ReduceOp.MEAN, per_replica[k], axis=None
        )
        for k in names
      }
    n = tf.cast(tf.maximum(num_steps, 1), tf.float32)
    return {k: v / n for k, v in sums.items()}

  return loop
