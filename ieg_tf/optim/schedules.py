"""Learning-rate schedules as pure functions of the step (graph-safe).

Runs in any context; the train step evaluates it once per step on the host
loop's replicated step counter.
"""

import math

import tensorflow as tf


def cosine_restarts(
  step: tf.Tensor,
  base_lr: float,
  first_decay_steps: int,
  t_mul: float = 1.5,
  m_mul: float = 0.9,
  alpha: float = 0.0,
) -> tf.Tensor:
  """Cosine decay with warm restarts (SGDR), as `tf.train.cosine_decay_restarts`.

  Cycle i lasts first_decay_steps * t_mul**i steps and starts at
  base_lr * m_mul**i; inside a cycle the LR falls along half a cosine to
  alpha * (that cycle's peak).

  Args:
    step: int or float scalar, steps since the schedule started (>= 0).
    base_lr: peak of the first cycle.
    first_decay_steps: length of the first cycle (> 0).
    t_mul: cycle length multiplier (> 0).
    m_mul: cycle peak multiplier.
    alpha: floor as a fraction of the cycle's peak.

  Returns:
    float32 scalar learning rate.
  """
  t = tf.cast(step, tf.float32) / float(first_decay_steps)
  if t_mul == 1.0:
    cycle = tf.floor(t)
    frac = t - cycle
  else:
    # Cycle i starts at (t_mul**i - 1) / (t_mul - 1) in units of the first one.
    cycle = tf.floor(tf.math.log(1.0 - t * (1.0 - t_mul)) / math.log(t_mul))
    start = (1.0 - tf.pow(t_mul, cycle)) / (1.0 - t_mul)
    frac = (t - start) / tf.pow(t_mul, cycle)
  # Rounding can put frac a hair outside [0, 1] exactly at a boundary.
  frac = tf.clip_by_value(frac, 0.0, 1.0)
  peak = base_lr * tf.pow(m_mul, cycle)
  cosine = 0.5 * (1.0 + tf.cos(math.pi * frac))
  return peak * ((1.0 - alpha) * cosine + alpha)


def warmup_cosine_restarts(
  step: tf.Tensor,
  base_lr: float,
  first_decay_steps: int,
  t_mul: float = 1.5,
  m_mul: float = 0.9,
  warmup_steps: int = 0,
) -> tf.Tensor:
  """Linear warmup 0 -> base_lr over `warmup_steps`, then shifted cosine restarts.

  Args:
    step: int scalar global step (>= 0).
    base_lr: peak learning rate.
    first_decay_steps: length of the first cosine cycle (> 0).
    t_mul: cycle length multiplier.
    m_mul: cycle peak multiplier.
    warmup_steps: steps of linear warmup (0 = none).

  Returns:
    float32 scalar learning rate.
  """
  step_f = tf.cast(step, tf.float32)
  decayed = cosine_restarts(
    tf.maximum(step_f - float(warmup_steps), 0.0),
    base_lr,
    first_decay_steps,
    t_mul,
    m_mul,
  )
  if warmup_steps <= 0:
    return decayed
  # (step + 1) so the very first step trains with a non-zero LR.
  ramp = base_lr * tf.minimum((step_f + 1.0) / float(warmup_steps), 1.0)
  return tf.where(step_f < float(warmup_steps), ramp, decayed)
