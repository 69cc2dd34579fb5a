"""The host outer loop: train in compiled chunks, log, evaluate, checkpoint.

Host (cross-replica) context throughout. The inner `steps_per_loop` steps run
inside one tf.function (`train_loop.py`); between chunks the host writes
metrics, evaluates every `eval_every_steps` and saves a checkpoint then.
Restarting with the same workdir resumes from the newest checkpoint.
"""

import time

from absl import logging
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.data import pipeline
from ieg_tf.data.prepare import PreparedData
from ieg_tf.errors import UserError
from ieg_tf.eval.evaluator import Evaluator
from ieg_tf.optim import schedules
from ieg_tf.optim.ema import WeightEMA
from ieg_tf.optim.momentum import MomentumOptimizer
from ieg_tf.runtime import checkpoints, summaries, train_loop


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True on the worker that writes files (always true outside multi-worker)."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not getattr(resolver, 'task_type', None):
    return True
  return resolver.task_type in ('chief', None) or (
    resolver.task_type == 'worker' and resolver.task_id == 0
  )


class TrainState:
  """Model, optimizer and EMA created in the strategy scope, plus checkpoints."""

  def __init__(
    self,
    cfg: config_lib.Config,
    strategy,
    network,
    train_size: int,
    step_impl=None,
  ):
    """Args:
    cfg: the run's config.
    strategy: variables are created in its scope.
    network: `ieg_tf.models.registry.Network`.
    train_size: examples in the split trained on (epoch length, report).
    step_impl: the method's step; its `extra_variables` (if any) get their
      own optimizer, its `per_example_names` (if any) an ExampleStats table.
    """
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
      extra = list(getattr(step_impl, 'extra_variables', ()))
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
      names = tuple(getattr(step_impl, 'per_example_names', ()))
      if names:
        from ieg_tf.runtime.example_stats import ExampleStats

        self.example_stats = ExampleStats(
          train_size,
          names,
          window_start_step=max(
            0, cfg.run.train_steps - cfg.run.report_window_steps
          ),
        )
    trackables = {'model': model, 'optimizer': self.optimizer}
    if self.ema is not None:
      trackables['ema'] = self.ema
    if self.extra_optimizer is not None:
      trackables['extra_variables'] = extra
      trackables['extra_optimizer'] = self.extra_optimizer
    if self.example_stats is not None:
      trackables['example_stats'] = self.example_stats
    self.checkpointer = checkpoints.Checkpointer(
      cfg.run.workdir,
      is_chief=is_chief(strategy),
      max_to_keep=cfg.run.keep_checkpoints,
      **trackables,
    )

  @property
  def step(self) -> int:
    return int(self.optimizer.iterations.numpy())


def _next_stop(step: int, total: int, run: config_lib.RunConfig) -> int:
  """The next step at which the host must act (log, eval or the end)."""
  stops = [total, step + run.steps_per_loop]
  for every in (run.log_every_steps, run.eval_every_steps):
    stops.append((step // every + 1) * every)
  return min(stops)


def train(
  cfg: config_lib.Config,
  strategy: tf.distribute.Strategy,
  data: PreparedData,
  train_split,
  state: TrainState,
  step_impl,
) -> dict:
  """Trains to `cfg.run.train_steps`, resuming if a checkpoint exists.

  Args:
    cfg: the run's config.
    strategy: distribution strategy.
    data: prepared splits (test split is evaluated).
    train_split: the split to train on (noisy train, or the probe for
      probe_only).
    state: model/optimizer/EMA/checkpoints.
    step_impl: the method's per-replica step.

  Returns:
    The final evaluation metrics.
  """
  run = cfg.run
  writer = summaries.MetricsWriter(run.workdir, is_chief(strategy))
  restored = state.checkpointer.restore_latest()
  step = state.step
  if restored:
    logging.info('Resuming at step %d', step)
  spec = pipeline.TrainInput(
    global_batch=run.batch_size,
    strong_view=step_impl.needs_strong_view,
    aug_type=cfg.data.aug_type.value,
    with_probe=step_impl.needs_probe,
    flip=pipeline.allows_flip(data.name),
    # A resumed run must not replay the first epoch's order.
    seed=cfg.data.seed + step,
  )
  dataset = strategy.distribute_datasets_from_function(
    pipeline.train_dataset_fn(train_split, data.probe, spec)
  )
  iterator = iter(dataset)
  loop = train_loop.make_train_loop(
    strategy,
    state.network.model,
    state.optimizer,
    state.ema,
    step_impl,
    seed=cfg.data.seed,
    jit_compile=run.jit_compile,
    extra_optimizer=state.extra_optimizer,
    example_stats=state.example_stats,
  )
  evaluator = Evaluator(
    strategy, state.network.model, state.ema, data.test, run.eval_batch_size
  )
  result = {}
  total = run.train_steps
  t_last, step_last = time.time(), step
  while step < total:
    stop = _next_stop(step, total, run)
    metrics = loop(iterator, tf.constant(stop - step, tf.int32))
    step = stop
    if step % run.log_every_steps == 0 or step == total:
      # Rate over the last log interval (the first one includes tracing).
      now = time.time()
      rate = (step - step_last) / max(now - t_last, 1e-9)
      t_last, step_last = now, step
      row = {k: float(v) for k, v in metrics.items()}
      row['train/lr'] = float(state.optimizer.learning_rate())
      row['train/steps_per_sec'] = rate
      row['train/images_per_sec'] = rate * run.batch_size
      writer.write(step, row)
      eta = (total - step) / max(rate, 1e-9)
      logging.info(
        'step %d/%d  %.1f steps/s  %.0f img/s  ETA %.0fs  loss %.4f',
        step,
        total,
        rate,
        rate * run.batch_size,
        eta,
        row.get('loss/total', float('nan')),
      )
    if step % run.eval_every_steps == 0 or step == total:
      result = evaluator.evaluate()
      writer.write(step, result)
      state.checkpointer.save(step)
      logging.info(
        'step %d eval top1 %.4f (raw %.4f) top5 %.4f',
        step,
        result['eval/top1'],
        result['eval/top1_raw'],
        result['eval/top5'],
      )
      t_last = time.time()  # Keep eval time out of the training rate.
  if not result:  # Nothing left to train: report the restored model.
    result = evaluator.evaluate()
  writer.close()
  return dict(result, step=state.step)


def evaluate_only(cfg, strategy, data: PreparedData, state: TrainState) -> dict:
  """--mode=eval: restore the newest checkpoint and evaluate the test split."""
  if state.checkpointer.restore_latest() is None:
    raise UserError(
      f'--mode=eval found no checkpoint in {state.checkpointer.directory}; '
      'train first (--mode=train) with the same --workdir.'
    )
  evaluator = Evaluator(
    strategy,
    state.network.model,
    state.ema,
    data.test,
    cfg.run.eval_batch_size,
  )
  result = evaluator.evaluate()
  writer = summaries.MetricsWriter(cfg.run.workdir, is_chief(strategy))
  writer.write(state.step, dict(result, mode='eval'))
  writer.close()
  return dict(result, step=state.step)
