"""Heavy-ball momentum SGD whose momentum buffer the meta step can read.

TF1 `MomentumOptimizer` semantics (reference §1.8): the slot accumulates
gradients, accum <- mu * accum + g, and the variable moves by -lr * accum.
IEG's look-ahead uses that accumulator directly (theta' = theta - alpha * (mu *
accum + G)), so the slots are created eagerly in the strategy scope, before the
first step, and exposed as `slots`.
"""

from typing import Callable, Sequence

import tensorflow as tf


class MomentumOptimizer(tf.Module):
  """Momentum SGD over a fixed list of variables.

  Create it inside `strategy.scope()`; call `apply_gradients` in replica
  context (inside `strategy.run`) with this replica's gradients of a loss that
  follows the scaling rule of `ieg_tf/meta/losses.py`; the gradients are
  SUMMED over replicas here.
  """

  def __init__(
    self,
    variables: Sequence[tf.Variable],
    learning_rate: Callable[[tf.Tensor], tf.Tensor],
    momentum: float = 0.9,
    name: str = 'momentum',
  ):
    """Creates the slots.

    Args:
      variables: the trainable variables, in a fixed order (Keras variables
        or tf.Variables).
      learning_rate: maps the int64 step counter to a float32 LR.
      momentum: mu in [0, 1).
      name: name scope of the slots.
    """
    super().__init__(name=name)
    self._variables = list(variables)
    self._learning_rate = learning_rate
    self.momentum = momentum
    self.iterations = tf.Variable(
      0, dtype=tf.int64, trainable=False, name='iterations'
    )
    self.slots = []
    for i, var in enumerate(self._variables):
      with tf.init_scope():
        self.slots.append(
          tf.Variable(
            tf.zeros(var.shape, var.dtype),
            trainable=False,
            name=f'accum_{i}',
          )
        )

  def learning_rate(self) -> tf.Tensor:
    """float32 scalar LR at the current step (any context)."""
    return self._learning_rate(self.iterations)

  def slot_values(self) -> list:
    """The momentum buffers as tensors (replica context: the local copies)."""
    return [tf.convert_to_tensor(s) for s in self.slots]

  def apply_gradients(
    self,
    grads: Sequence[tf.Tensor],
    post_update=None,
    assign_vars: Sequence = (),
    assign_values: Sequence[tf.Tensor] = (),
  ):
    """Sums `grads` over replicas and applies one momentum step.

    Runs in replica context. The sum and the update happen in a merge_call so
    every replica's copy of a mirrored variable receives the same update.

    Args:
      grads: float tensors aligned with the variables (this replica's
        gradients; None is not allowed).
      post_update: optional callable(strategy) run in cross-replica context
        right after the update (EMA updates go here).
      assign_vars: other variables to set in the same cross-replica update
        (BatchNorm statistics); assigning mirrored variables one by one in
        replica context would issue collectives in a different order per
        replica.
      assign_values: this replica's new values for `assign_vars` (they
        should already be identical across replicas).
    """
    ctx = tf.distribute.get_replica_context()
    grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, list(grads))
    # Callables and variables travel in the closure: merge_call would regroup
    # them from `args` into PerReplica values.
    ctx.merge_call(
      lambda strategy, g, a: self._apply_cross_replica(
        strategy, g, post_update, assign_vars, a
      ),
      args=(grads, list(assign_values)),
    )

  def _apply_cross_replica(
    self, strategy, grads, post_update, assign_vars, assign_values
  ):
    for var, value in zip(assign_vars, assign_values):
      strategy.extended.update(
        tf_variable(var), lambda v, x: v.assign(x), args=(value,), group=False
      )
    lr = self.learning_rate()
    mu = self.momentum

    def update_one(var, slot, grad):
      new_accum = mu * slot + grad
      slot.assign(new_accum)
      var.assign_sub(lr * new_accum)

    for var, slot, grad in zip(self._variables, self.slots, grads):
      strategy.extended.update(
        tf_variable(var), update_one, args=(slot, grad), group=False
      )
    if post_update is not None:
      post_update(strategy)
    self.iterations.assign_add(1)


def tf_variable(var):
  """The tf.Variable behind a Keras 3 variable (itself for tf.Variables)."""
  return getattr(var, 'value', var) if not isinstance(var, tf.Variable) else var
