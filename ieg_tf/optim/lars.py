"""LARS: momentum SGD with a layer-wise trust ratio (SimCLR's optimizer).

Per variable w with gradient g (the gradients SUMMED over replicas), for
variables that are adapted (`adapt_mask` True: conv and dense kernels):
  g <- g + wd * w
  trust = eeta * ||w|| / ||g||   (1 when either norm is 0)
and for the others (BatchNorm gamma / beta, biases) g is left alone and
trust = 1, i.e. they get neither weight decay nor adaptation. Then, with
SimCLR's "classic" momentum,
  v <- momentum * v + lr * trust * g,   w <- w - v.
Choose the mask by layer type, not by variable name (names change between
Keras versions; see `ieg_tf/pretrain/contrastive_model.py`).

Like `momentum.MomentumOptimizer` it is a tf.Module with eagerly created
slots (create it in `strategy.scope()`), so its state checkpoints and an
unbuilt optimizer never meets its first distributed step.
"""

import functools
from typing import Callable, Sequence

import tensorflow as tf

from ieg_tf.optim.momentum import tf_variable

DEFAULT_EETA = 0.001


class LARSOptimizer(tf.Module):
  """LARS over a fixed list of variables; apply in replica context."""

  def __init__(
    self,
    variables: Sequence[tf.Variable],
    learning_rate: Callable[[tf.Tensor], tf.Tensor],
    *,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    eeta: float = DEFAULT_EETA,
    adapt_mask: Sequence[bool] | None = None,
    name: str = 'lars',
  ):
    """Creates the momentum slots.

    Args:
      variables: trainable variables in a fixed order (Keras or tf).
      learning_rate: maps the int64 step counter to a float32 LR.
      momentum: in [0, 1).
      weight_decay: wd of the decay added to adapted variables' gradients.
      eeta: LARS trust coefficient.
      adapt_mask: one bool per variable, True = weight decay and trust ratio
        (kernels), False = plain momentum SGD (BN, biases). None = all True.
      name: name scope of the slots.
    """
    super().__init__(name=name)
    self._variables = list(variables)
    if adapt_mask is None:
      adapt_mask = (True,) * len(self._variables)
    if len(adapt_mask) != len(self._variables):
      raise ValueError(
        f'adapt_mask has {len(adapt_mask)} entries for '
        f'{len(self._variables)} variables'
      )
    self.adapt_mask = tuple(bool(m) for m in adapt_mask)
    self._learning_rate = learning_rate
    self.momentum = momentum
    self.weight_decay = weight_decay
    self.eeta = eeta
    self.iterations = tf.Variable(
      0, dtype=tf.int64, trainable=False, name='iterations'
    )
    self.slots = []
    for i, var in enumerate(self._variables):
      with tf.init_scope():
        self.slots.append(
          tf.Variable(
            tf.zeros(var.shape, var.dtype), trainable=False, name=f'v_{i}'
          )
        )

  def learning_rate(self) -> tf.Tensor:
    """float32 scalar LR at the current step (any context)."""
    return self._learning_rate(self.iterations)

  def apply_gradients(
    self,
    grads: Sequence[tf.Tensor],
    assign_vars: Sequence = (),
    assign_values: Sequence[tf.Tensor] = (),
  ):
    """Sums `grads` over replicas and applies one LARS step (replica ctx).

    Args:
      grads: this replica's gradients, aligned with the variables (a loss
        scaled by the GLOBAL batch, so the sum is the global gradient).
      assign_vars: other variables set in the same cross-replica update
        (BatchNorm moving statistics).
      assign_values: their new values (identical across replicas).
    """
    ctx = tf.distribute.get_replica_context()
    grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, list(grads))
    ctx.merge_call(
      lambda strategy, g, a: self._apply_cross_replica(
        strategy, g, assign_vars, a
      ),
      args=(grads, list(assign_values)),
    )

  def _apply_cross_replica(self, strategy, grads, assign_vars, assign_values):
    for var, value in zip(assign_vars, assign_values):
      strategy.extended.update(
        tf_variable(var), lambda v, x: v.assign(x), args=(value,), group=False
      )
    lr = self.learning_rate()

    def update_one(var, slot, grad, *, adapt):
      if adapt:
        grad = grad + self.weight_decay * var
        w_norm = tf.norm(var)
        g_norm = tf.norm(grad)
        trust = tf.where(
          (w_norm > 0.0) & (g_norm > 0.0),
          self.eeta * w_norm / tf.maximum(g_norm, 1e-30),
          1.0,
        )
      else:
        trust = 1.0
      new_v = self.momentum * slot + lr * trust * grad
      slot.assign(new_v)
      var.assign_sub(new_v)

    for var, slot, grad, adapt in zip(
      self._variables, self.slots, grads, self.adapt_mask
    ):
      # `adapt` is static; binding it keeps it out of the per-replica args.
      strategy.extended.update(
        tf_variable(var),
        functools.partial(update_one, adapt=adapt),
        args=(slot, grad),
        group=False,
      )
    self.iterations.assign_add(1)
