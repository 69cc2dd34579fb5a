"""The compiled inner loop: `steps_per_loop` distributed steps in one tf.function.

Per step, in replica context: read the variables, run the method's pure
`compute` (XLA-compiled with --jit_compile), average the new BatchNorm
statistics over replicas, and let the optimizer SUM the gradients and update
weights, momentum and EMA. Metrics are averaged over replicas and steps.
"""

from typing import Callable

from absl import logging
import tensorflow as tf

from ieg_tf.optim.ema import WeightEMA
from ieg_tf.optim.momentum import MomentumOptimizer


def make_train_loop(
  strategy: tf.distribute.Strategy,
  model,
  optimizer: MomentumOptimizer,
  ema: WeightEMA | None,
  step_impl,
  *,
  seed: int,
  jit_compile: bool,
  extra_optimizer: MomentumOptimizer | None = None,
  example_stats=None,
) -> Callable:
  """Builds `loop(iterator, num_steps) -> {metric: float32 scalar}`.

  Args:
    strategy: the distribution strategy the variables were created under.
    model: Keras model (trainable / non_trainable variables, stateless_call).
    optimizer: momentum optimizer over `model.trainable_variables`.
    ema: weight EMA or None.
    step_impl: a method step with `compute(...)` and `metric_names`.
    seed: run seed; each step and replica derives its own from it.
    jit_compile: XLA-compile the per-replica compute.
    extra_optimizer: optimizer of the step's own variables
      (`step_impl.extra_variables`, e.g. the Meta-Weight-Net); their values
      reach `compute` as the keyword `extra` and their gradients come back as
      `StepOutput.extra_grads`.
    example_stats: accumulator of `StepOutput.per_example` for the label
      report (`ieg_tf/runtime/example_stats.py`), or None.

  Returns:
    A tf.function taking a distributed iterator and an int32 scalar tensor
    (steps to run; a tensor, so different counts do not retrace). Call it on
    the host (cross-replica context).
  """
  compute = step_impl.compute
  if jit_compile:
    compute = tf.function(compute, jit_compile=True)
  names = step_impl.metric_names

  def replica_step(batch):
    ctx = tf.distribute.get_replica_context()
    params = [tf.convert_to_tensor(v.value) for v in model.trainable_variables]
    non_trainable = [
      tf.convert_to_tensor(v.value) for v in model.non_trainable_variables
    ]
    step_seed = tf.stack(
      [
        tf.constant(seed, tf.int64),
        optimizer.iterations * ctx.num_replicas_in_sync
        + tf.cast(ctx.replica_id_in_sync_group, tf.int64),
      ]
    )
    kwargs = {}
    if extra_optimizer is not None:
      kwargs['extra'] = [
        tf.convert_to_tensor(v) for v in step_impl.extra_variables
      ]
    out = compute(
      params,
      non_trainable,
      optimizer.slot_values(),
      batch,
      step_seed,
      tf.identity(optimizer.iterations),
      **kwargs,
    )
    if example_stats is not None and out.per_example:
      example_stats.update(optimizer.iterations, out.per_example)
    if extra_optimizer is not None:
      extra_optimizer.apply_gradients(out.extra_grads)
    new_stats = list(out.new_non_trainable)
    if new_stats:
      # Replicas saw different batches; averaging keeps every copy of the
      # moving statistics identical (BN itself stays per replica).
      new_stats = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, new_stats)
    post = None
    if ema is not None:
      post = lambda s: ema.update(s, optimizer.iterations)  # noqa: E731
    optimizer.apply_gradients(
      out.grads,
      post_update=post,
      assign_vars=model.non_trainable_variables if new_stats else (),
      assign_values=new_stats,
    )
    return {k: tf.cast(out.metrics[k], tf.float32) for k in names}

  @tf.function
  def loop(iterator, num_steps):
    sums = {k: tf.constant(0.0) for k in names}
    for _ in tf.range(num_steps):
      per_replica = strategy.run(replica_step, args=(next(iterator),))
      # Rebinding (not item assignment) makes `sums` an autograph loop var.
      sums = {
        k: sums[k]
        + strategy.reduce(
          tf.distribute.ReduceOp.MEAN, per_replica[k], axis=None
        )
        for k in names
      }
    n = tf.cast(tf.maximum(num_steps, 1), tf.float32)
    return {k: v / n for k, v in sums.items()}

  logging.info('Train loop built (jit_compile=%s)', jit_compile)
  return loop
