"""The host outer loop: train in compiled chunks, log, evaluate, checkpoint.

Host (cross-replica) context throughout. The inner steps run inside one
tf.function (`train_loop.py`); between chunks the host writes metrics,
evaluates every `eval_every_steps` and checkpoints every
`checkpoint_every_steps` (0: at every evaluation) and at the end.

Reliability (docs/reliability.md):
- resume: restarting with the same workdir restores the newest readable
  checkpoint, rebuilds the input stream at that step (it is a pure function
  of (seed, step)) and rolls back metrics.jsonl lines of redone steps, so a
  killed and restarted `--deterministic` run ends like an uninterrupted one;
- SIGTERM: the current step finishes, a checkpoint is saved and the process
  exits with `preemption.EXIT_PREEMPTED` (143);
- non-finite loss/gradients: the update is skipped in-graph; the run stops
  with a UserError naming the step (last good checkpoint kept) unless
  --skip_nonfinite, which counts them as train/nonfinite_steps.
"""

import sys

from absl import logging
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.data import pipeline
from ieg_tf.data.prepare import PreparedData
from ieg_tf.errors import UserError
from ieg_tf.eval import precise_bn
from ieg_tf.eval.evaluator import Evaluator
from ieg_tf.runtime import (
  rate_meter,
  image_summaries,
  preemption,
  summaries,
  train_loop,
)

# Re-exported: callers build `trainer.TrainState` and ask `trainer.is_chief`.
from ieg_tf.runtime.train_state import TrainState, is_chief  # noqa: F401


def _every(step: int, every: int) -> bool:
  return every > 0 and step % every == 0


def _checkpoint_every(run: config_lib.RunConfig) -> int:
  return run.checkpoint_every_steps or run.eval_every_steps


def _next_stop(step: int, total: int, run: config_lib.RunConfig) -> int:
  """The next step at which the host must act (log, eval, save or the end)."""
  stops = [total, step + run.steps_per_loop]
  for every in (
    run.log_every_steps,
    run.eval_every_steps,
    _checkpoint_every(run),
  ):
    stops.append((step // every + 1) * every)
  return min(stops)


def _make_evaluate(cfg, strategy, state, data: PreparedData, train_split):
  """evaluate() -> the test split's metrics plus each extra test split's.

  Extra splits (e.g. webvision_mini's ImageNet val) report under
  'eval/<name>_<metric>', e.g. 'eval/imagenet_top1'. With
  --precise_bn_batches, BN statistics are re-estimated on `train_split` for
  the current weights first. Host context (every worker calls it).
  """
  model, ema = state.network.model, state.ema
  batch = cfg.run.eval_batch_size
  statistics = precise_bn.for_run(cfg, strategy, data, state, train_split)
  main = Evaluator(strategy, model, ema, data.test, batch, statistics)
  extra = {
    name: Evaluator(strategy, model, ema, split, batch, statistics)
    for name, split in sorted(data.extra_tests.items())
  }

  def evaluate() -> dict:
    statistics.refresh()
    result = main.evaluate()
    for name, evaluator in extra.items():
      for key, value in evaluator.evaluate().items():
        result[key.replace('eval/', f'eval/{name}_', 1)] = value
    return result

  return evaluate


def _nonfinite_error(step: int, total: int, checkpointer) -> UserError:
  last = checkpointer.latest
  kept = f'the last good checkpoint {last} is kept' if last else 'none saved'
  return UserError(
    f'non-finite loss or gradients in training step {step} of {total}; '
    f'no update was applied and {kept}. Lower --learning_rate, check the '
    'data, or pass --skip_nonfinite to skip such batches.'
  )


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
    The final evaluation metrics (+ 'step').

  Raises:
    UserError: non-finite step (without --skip_nonfinite), too many bad
      examples, or unreadable checkpoints.
    SystemExit: `preemption.EXIT_PREEMPTED` after SIGTERM (checkpoint saved).
  """
  # Workers of a multi-worker job cannot agree on a step to stop at without
  # a collective; they keep the default SIGTERM action (docs/reliability.md).
  watcher = preemption.PreemptionWatcher(
    enabled=cfg.run.strategy != config_lib.StrategyName.MULTI_WORKER
  )
  with watcher:
    return _train(cfg, strategy, data, train_split, state, step_impl, watcher)


def _train(cfg, strategy, data, train_split, state, step_impl, watcher):
  """`train` with SIGTERM handled by `watcher` (host)."""
  run = cfg.run
  chief = is_chief(strategy)
  restored = state.checkpointer.restore_latest()
  step = state.step
  if restored:
    logging.info('Resuming at step %d', step)
  if chief:
    moved = summaries.rollback_after(run.workdir, step)
    if moved:
      logging.warning(
        'metrics.jsonl: %d line(s) after step %d (steps being redone) moved '
        'to %s',
        moved,
        step,
        summaries.ROLLED_BACK,
      )
  spec = pipeline.TrainInput(
    global_batch=run.batch_size,
    strong_view=step_impl.needs_strong_view,
    num_strong_views=step_impl.num_strong_views,
    aug_type=cfg.data.aug_type.value,
    with_probe=step_impl.needs_probe,
    flip=pipeline.allows_flip(data.name),
    seed=cfg.data.seed,
    start_step=step,
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
    skip_nonfinite=run.skip_nonfinite,
    stop_flag=watcher.flag,
  )
  # Trace now, while SIGTERM still exits at once (nothing is unsaved yet);
  # the calls below reuse this trace.
  loop.get_concrete_function(iterator, tf.TensorSpec([], tf.int32))
  evaluate = _make_evaluate(cfg, strategy, state, data, train_split)
  writer = summaries.MetricsWriter(run.workdir, chief)
  if chief and not restored:
    image_summaries.write_view_grid(
      run.workdir,
      train_split,
      step,
      aug_type=spec.aug_type,
      flip=spec.flip,
      seed=cfg.data.seed,
    )
  opt = state.optimizer
  bad_examples = data.bad_examples
  last_eval = summaries.last_eval(run.workdir) if chief else None
  result = {}
  total = run.train_steps
  saved = step if restored else -1
  meter = rate_meter.RateMeter(step)
  watcher.training_started()
  logging.info('Training steps %d..%d', step + 1, total)
  try:
    while step < total and not watcher.requested:
      stop = _next_stop(step, total, run)
      nonfinite_before = int(opt.nonfinite_steps.numpy())
      try:
        means = loop(iterator, tf.constant(stop - step, tf.int32))
      except tf.errors.OpError:
        bad_examples.check()  # an input pipeline over the bad-image limit
        raise
      new_step = state.step
      skipped = int(opt.nonfinite_steps.numpy()) - nonfinite_before
      state.metric_window.add(means, new_step - step - skipped)
      step = new_step
      if skipped and not run.skip_nonfinite:
        # The loop ended right after the bad step (1-based: `step`).
        raise _nonfinite_error(step, total, state.checkpointer)
      bad_examples.check()
      if step < stop:  # SIGTERM ended the chunk early
        break
      if _every(step, run.log_every_steps) or step == total:
        # Rate over the last log interval (the first one includes tracing).
        rate = meter.rate(step)
        row = state.metric_window.flush()
        row['train/lr'] = float(opt.learning_rate())
        row['train/steps_per_sec'] = rate
        row['train/images_per_sec'] = rate * run.batch_size
        row['train/nonfinite_steps'] = int(opt.nonfinite_steps.numpy())
        row['data/bad_examples'] = bad_examples.total()
        writer.write(step, row)
        _log_progress(step, total, rate, run.batch_size, row, last_eval)
      meter.pause()  # Eval / save time stays out of the rate.
      if _every(step, run.eval_every_steps) or step == total:
        result = evaluate()
        writer.write(step, result)
        if chief:
          image_summaries.write_weight_histograms(
            run.workdir, state.example_stats, train_split, step
          )
        last_eval = dict(result, step=step)
        logging.info(
          'step %d eval top1 %.4f (raw %.4f) top5 %.4f',
          step,
          result['eval/top1'],
          result['eval/top1_raw'],
          result['eval/top5'],
        )
      if _every(step, _checkpoint_every(run)) or step == total:
        state.checkpointer.save(step)
        saved = step
      meter.resume()
    if watcher.requested and step < total:
      path = state.checkpointer.latest
      if saved != step:
        path = state.checkpointer.save(step)
      print(
        f'ieg_tf: preempted (SIGTERM) at step {step} of {total}; checkpoint '
        f'{path} saved; rerun the same command to resume.',
        file=sys.stderr,
        flush=True,
      )
      raise SystemExit(preemption.EXIT_PREEMPTED)
  finally:
    writer.close()
  if not result:  # Nothing left to train: report the restored model.
    result = evaluate()
  return dict(result, step=state.step)


def _log_progress(step, total, rate, batch_size, row, last_eval):
  """One progress line: speed, ETA, loss and the newest eval top-1."""
  top1 = ''
  if last_eval is not None:
    top1 = f'  eval top1 {last_eval["eval/top1"]:.4f} @{last_eval["step"]}'
  logging.info(
    'step %d/%d  %.1f steps/s  %.0f img/s  ETA %.0fs  loss %.4f%s',
    step,
    total,
    rate,
    rate * batch_size,
    (total - step) / max(rate, 1e-9),
    row.get('loss/total', float('nan')),
    top1,
  )


def evaluate_only(cfg, strategy, data: PreparedData, state: TrainState) -> dict:
  """--mode=eval: restore the newest checkpoint and evaluate the test split."""
  # Evaluation needs the weights only: a checkpoint written with other
  # method flags (other metric / per-example tables) is fine.
  required = ('model', 'ema') if state.ema is not None else ('model',)
  if state.checkpointer.restore_latest(required) is None:
    raise UserError(
      f'--mode=eval found no checkpoint in {state.checkpointer.directory}; '
      'train first (--mode=train) with the same --workdir.'
    )
  train_split = data.training_split(cfg.method.method)
  result = _make_evaluate(cfg, strategy, state, data, train_split)()
  writer = summaries.MetricsWriter(cfg.run.workdir, is_chief(strategy))
  writer.write(state.step, dict(result, mode='eval'))
  writer.close()
  return dict(result, step=state.step)
