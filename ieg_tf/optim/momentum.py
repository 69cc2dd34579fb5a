"""Heavy-ball momentum SGD whose momentum buffer the meta step can read.

TF1 `MomentumOptimizer` semantics (reference §1.8): the slot accumulates
gradients, accum <- mu * accum + g, and the variable moves by -lr * accum.
IEG's look-ahead uses that accumulator directly (theta' = theta - alpha * (mu *
accum + G)), so the slots are created eagerly in the strategy scope, before the
first step, and exposed as `slots`.

Non-finite guard: `apply_gradients(..., apply_if=ok)` turns the whole update
(weights, momentum, assigned BatchNorm statistics, the post-update EMA) into
a no-op when `ok` is false or when the replica-summed gradients are not
finite, and counts such steps in `nonfinite_steps`; the step counter still
advances, so the input stream and LR schedule stay a function of the step.
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
    # Steps whose update was skipped as non-finite, and the 0-based step
    # counter of the first one (-1 = none); the host reads them per chunk.
    self.nonfinite_steps = tf.Variable(
      0, dtype=tf.int64, trainable=False, name='nonfinite_steps'
    )
    self.first_nonfinite_step = tf.Variable(
      -1, dtype=tf.int64, trainable=False, name='first_nonfinite_step'
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
    apply_if=None,
  ):
    """Sums `grads` over replicas and applies one momentum step.

    Runs in replica context. The sum and the update happen in a merge_call so
    every replica's copy of a mirrored variable receives the same update.

    Args:
      grads: float tensors aligned with the variables (this replica's
        gradients; None is not allowed).
      post_update: optional callable(strategy, apply_if) run in
        cross-replica context right after the update (EMA updates go here);
        `apply_if` is the step's finiteness verdict (a per-replica bool the
        callee passes on to `strategy.extended.update`), or None when no
        guard is active.
      assign_vars: other variables to set in the same cross-replica update
        (BatchNorm statistics); assigning mirrored variables one by one in
        replica context would issue collectives in a different order per
        replica.
      assign_values: this replica's new values for `assign_vars` (they
        should already be identical across replicas).
      apply_if: optional bool scalar, identical on every replica (e.g. an
        all-reduced finiteness check of the loss); None = no guard. With a
        guard the step is skipped (and counted) unless `apply_if` holds and
        the summed gradients are finite.
    """
    ctx = tf.distribute.get_replica_context()
    grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, list(grads))
    if apply_if is not None:
      # The summed gradients are identical on every replica, so every
      # replica reaches the same verdict without another collective.
      apply_if = tf.logical_and(
        tf.convert_to_tensor(apply_if, tf.bool), all_finite(grads)
      )
    # Callables and variables travel in the closure: merge_call would regroup
    # them from `args` into PerReplica values.
    ctx.merge_call(
      lambda strategy, g, a, ok: self._apply_cross_replica(
        strategy, g, post_update, assign_vars, a, ok
      ),
      args=(grads, list(assign_values), apply_if),
    )

  def _apply_cross_replica(
    self, strategy, grads, post_update, assign_vars, assign_values, ok
  ):
    # With a guard, every assignment is tf.where(ok, new, old): the NaN in
    # the unselected branch is dropped and the update stays one straight-line
    # XLA/TPU computation (no tf.cond around variable writes).
    ok_unused = ok is None
    for var, value in zip(assign_vars, assign_values):

      def assign(v, x, *flag):
        if flag:
          x = tf.where(flag[0], x, v)
        v.assign(x)

      strategy.extended.update(
        tf_variable(var),
        assign,
        args=(value,) if ok_unused else (value, ok),
        group=False,
      )
    lr = self.learning_rate()
    mu = self.momentum

    def update_one(var, slot, grad, *flag):
      new_accum = mu * slot + grad
      step = lr * new_accum
      if flag:
        new_accum = tf.where(flag[0], new_accum, slot)
        step = tf.where(flag[0], step, tf.zeros_like(step))
      slot.assign(new_accum)
      var.assign_sub(step)

    for var, slot, grad in zip(self._variables, self.slots, grads):
      strategy.extended.update(
        tf_variable(var),
        update_one,
        args=(slot, grad) if ok_unused else (slot, grad, ok),
        group=False,
      )
    if post_update is not None:
      post_update(strategy, ok)
    if not ok_unused:

      def count(counter, first, step, flag):
        bad = tf.logical_not(flag)
        counter.assign_add(tf.cast(bad, tf.int64))
        first.assign(tf.where(tf.logical_and(bad, first < 0), step, first))

      strategy.extended.update(
        self.nonfinite_steps,
        count,
        args=(self.first_nonfinite_step, self.iterations, ok),
        group=False,
      )
    self.iterations.assign_add(1)


def all_finite(tensors: Sequence[tf.Tensor]) -> tf.Tensor:
  """bool scalar: every element of every tensor is finite (any context)."""
  flags = [
    tf.reduce_all(tf.math.is_finite(t))
    for t in (tf.convert_to_tensor(x) for x in tensors if x is not None)
    if t.dtype.is_floating
  ]
  return tf.reduce_all(tf.stack(flags)) if flags else tf.constant(True)


def tf_variable(var):
  """The tf.Variable behind a Keras 3 variable (itself for tf.Variables)."""
  return getattr(var, 'value', var) if not isinstance(var, tf.Variable) else var
