"""The training state: model, optimizer, EMA and friends, plus checkpoints.

Created once per run on the host; every variable of the run lives here, in
the strategy scope (mirrored) or on the host (the train-metric window), and
everything that must survive a restart is tracked in the checkpoint.
"""

import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.meta.step_api import StepDefaults, TrainStep
from ieg_tf.optim import schedules
from ieg_tf.optim.ema import WeightEMA
from ieg_tf.optim.momentum import MomentumOptimizer
from ieg_tf.runtime import checkpoints, summaries


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True on the worker that writes files (always true outside multi-worker).

  TF's rule: task 'chief', or worker 0 only when the cluster has no 'chief'
  job; `should_checkpoint` encodes exactly that for every strategy.
  """
  return bool(strategy.extended.should_checkpoint)


class TrainState:
  """Model, optimizer and EMA created in the strategy scope, plus checkpoints."""

  def __init__(
    self,
    cfg: config_lib.Config,
    strategy,
    network,
    train_size: int,
    step_impl: TrainStep | None = None,
  ):
    """Args:
    cfg: the run's config.
    strategy: variables are created in its scope.
    network: `ieg_tf.models.registry.Network`.
    train_size: examples in the split trained on (epoch length, report).
    step_impl: the method's step; its `extra_variables` (if any) get their
      own optimizer, its `per_example_names` (if any) an ExampleStats table.
      None (tests of evaluation and export) = a step with none of them.
    """
    if step_impl is None:
      step_impl = StepDefaults()
    self.network = network
    self.step_impl = step_impl
    model = network.model
    global_batch = cfg.run.batch_size
    first = cfg.optim.first_decay_steps or max(1, train_size // global_batch)
    o = cfg.optim

    def lr_fn(step):
      return schedules.warmup_cosine_restarts(
        step, o.learning_rate, first, o.cos_t_mul, o.cos_m_mul, o.warmup_steps
      )

    with strategy.scope():
      self.optimizer = MomentumOptimizer(
        model.trainable_variables, lr_fn, o.momentum
      )
      self.ema = None
      if o.ema_decay > 0:
        self.ema = WeightEMA(model.trainable_variables, o.ema_decay)
      extra = list(step_impl.extra_variables)
      self.extra_optimizer = None
      if extra:
        extra_lr = float(step_impl.extra_learning_rate)
        self.extra_optimizer = MomentumOptimizer(
          extra,
          lambda step: tf.constant(extra_lr, tf.float32),
          o.momentum,
          name='extra_momentum',
        )
      self.example_stats = None
      names = tuple(step_impl.per_example_names)
      if names:
        from ieg_tf.runtime.example_stats import ExampleStats

        self.example_stats = ExampleStats(
          train_size,
          names,
          window_start_step=max(
            0, cfg.run.train_steps - cfg.run.report_window_steps
          ),
        )
    # Host variables: train-metric sums of the current log interval.
    self.metric_window = summaries.MetricWindow(
      step_impl.metric_names,
      ratios=step_impl.pooled_ratios,
    )
    trackables = {'model': model, 'optimizer': self.optimizer}
    if cfg.run.mode == config_lib.Mode.TRAIN:
      # Only training resumes mid-interval; the other modes (eval, report,
      # export) must read a checkpoint whatever the method's metric names.
      trackables['train_metric_window'] = self.metric_window
    guard = list(model.trainable_variables) + list(
      model.non_trainable_variables
    )
    guard += self.optimizer.slots
    if self.ema is not None:
      trackables['ema'] = self.ema
      guard += self.ema.shadows
    if self.extra_optimizer is not None:
      trackables['extra_variables'] = extra
      trackables['extra_optimizer'] = self.extra_optimizer
      guard += extra + self.extra_optimizer.slots
    if self.example_stats is not None:
      trackables['example_stats'] = self.example_stats
    self.checkpointer = checkpoints.Checkpointer(
      cfg.run.workdir,
      is_chief=is_chief(strategy),
      max_to_keep=cfg.run.keep_checkpoints,
      guard=guard,
      **trackables,
    )

  @property
  def step(self) -> int:
    return int(self.optimizer.iterations.numpy())
