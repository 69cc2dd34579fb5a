"""The compiled inner loop: `steps_per_loop` distributed steps in one tf.function.

Per step, in replica context: read the variables, run the method's pure
`compute` (XLA-compiled with --jit_compile), average the new BatchNorm
statistics over replicas, and let the optimizer SUM the gradients and update
weights, momentum and EMA. Metrics are averaged over replicas and steps.

Non-finite guard: a step whose loss, gradients (the step's `extra_grads`
included) or new BatchNorm statistics are not finite on ANY replica updates
nothing (see `MomentumOptimizer.apply_gradients`); it is counted in
`optimizer.nonfinite_steps`, left out of the metric averages and, unless
`skip_nonfinite`, ends the chunk at once so the host can stop the run.
A `stop_flag` variable set from another thread (SIGTERM) ends the chunk
before its next step.
"""

from typing import Callable

from absl import logging
import tensorflow as tf

from ieg_tf.optim.ema import WeightEMA
from ieg_tf.optim.momentum import MomentumOptimizer, all_finite


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
  skip_nonfinite: bool = False,
  stop_flag: tf.Variable | None = None,
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
    skip_nonfinite: keep going after a non-finite step (it is skipped and
      counted); False ends the chunk right after it.
    stop_flag: optional bool tf.Variable (not mirrored, host); when it is
      true the chunk ends before its next step.

  Returns:
    A tf.function taking a distributed iterator and an int32 scalar tensor
    (at most that many steps; a tensor, so different counts do not retrace)
    and returning {metric: float32 mean over the chunk's finite steps}. Call
    it on the host (cross-replica context); the steps actually run are the
    change of `optimizer.iterations`.
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
    new_stats = list(out.new_non_trainable)
    if new_stats:
      # Replicas saw different batches; averaging keeps every copy of the
      # moving statistics identical (BN itself stays per replica).
      new_stats = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, new_stats)
    loss = [out.metrics['loss/total']] if 'loss/total' in out.metrics else []
    local_ok = all_finite(
      loss + list(out.grads) + list(out.extra_grads) + new_stats
    )
    # One verdict for all replicas, so they skip (or apply) together
    # (ReduceOp has no MIN: count the replicas that saw a non-finite value).
    bad = ctx.all_reduce(
      tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(local_ok, tf.float32)
    )
    ok = bad < 0.5
    if extra_optimizer is not None:
      extra_optimizer.apply_gradients(out.extra_grads, apply_if=ok)
    post = None
    if ema is not None:

      def post(strategy, verdict):
        ema.update(strategy, optimizer.iterations, verdict)

    optimizer.apply_gradients(
      out.grads,
      post_update=post,
      assign_vars=model.non_trainable_variables if new_stats else (),
      assign_values=new_stats,
      apply_if=ok,
    )
    metrics = {k: tf.cast(out.metrics[k], tf.float32) for k in names}
    return metrics, tf.cast(ok, tf.float32)

  def stop_requested():
    if stop_flag is None:
      return tf.constant(False)
    return tf.convert_to_tensor(stop_flag)

  @tf.function
  def loop(iterator, num_steps):
    sums = {k: tf.constant(0.0) for k in names}
    good = tf.constant(0.0)
    for _ in tf.range(num_steps):
      if stop_requested():
        break
      per_replica, ok = strategy.run(replica_step, args=(next(iterator),))
      # The verdict is identical on every replica.
      ok = strategy.reduce(tf.distribute.ReduceOp.MEAN, ok, axis=None) > 0.5
      # Rebinding (not item assignment) makes `sums` an autograph loop var.
      sums = {
        k: sums[k]
        + tf.where(
          ok,
          strategy.reduce(
            tf.distribute.ReduceOp.MEAN, per_replica[k], axis=None
          ),
          0.0,
        )
        for k in names
      }
      good += tf.cast(ok, tf.float32)
      if not skip_nonfinite:
        if not ok:
          break
    n = tf.maximum(good, 1.0)
    return {k: v / n for k, v in sums.items()}

  logging.info('Train loop built (jit_compile=%s)', jit_compile)
  return loop
