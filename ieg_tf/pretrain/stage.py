"""The contrastive (C2D) stage: SimCLR on the training images, no labels.

Host (cross-replica) context. `--mode=pretrain` runs only this stage;
`--mode=train` (by default, `--pretrain_epochs` of the train split) runs, or
resumes, or skips when complete, it first, then the chosen method starts
from the pre-trained encoder: the encoder IS `Network.encoder` (shared with
the classifier), the projection head is never part of the classifier and
the classifier keeps its fresh initialization. `--init_checkpoint` instead
loads a saved encoder, and the stage does not run.

State lives in <workdir>/pretrain/checkpoints (encoder, projection head,
LARS with its step counter); a restarted stage resumes from the newest one.
Metrics go to <workdir>/metrics.jsonl and TensorBoard with keys prefixed
'pretrain/' and `step` = contrastive step; the warm-up diagnostics
(`diagnostics.py`) are logged when the stage ends.

Non-finite guard: a chunk of steps whose mean contrastive loss is NaN/inf
stops the stage before anything from it is saved (one UserError line), and
the checkpointer refuses to save non-finite weights; the last good
checkpoint stays, so a rerun with a lower --pretrain_learning_rate resumes
from it.
"""

import dataclasses
import math
import os
import time

from absl import logging
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf.data.prepare import PreparedData
from ieg_tf.errors import UserError
from ieg_tf.models.registry import Network
from ieg_tf.optim import schedules
from ieg_tf.optim.lars import LARSOptimizer
from ieg_tf.pretrain import contrastive_model
from ieg_tf.pretrain import diagnostics
from ieg_tf.pretrain import encoder_init
from ieg_tf.pretrain import input as input_lib
from ieg_tf.pretrain.loop import make_pretrain_loop
from ieg_tf.pretrain.step import ContrastiveStep
from ieg_tf.runtime import checkpoints, summaries
from ieg_tf.runtime.rate_meter import RateMeter
from ieg_tf.runtime.trainer import is_chief

PRETRAIN_DIR = 'pretrain'
LARS_MOMENTUM = 0.9
NONFINITE_HINT = (
  'Lower --pretrain_learning_rate or raise --pretrain_warmup_steps.'
)


def stage_steps(p: config_lib.PretrainConfig, num_images: int) -> int:
  """The stage's contrastive steps: exact, or epochs of the train split.

  Args:
    p: `pretrain_steps` > 0 wins; else `pretrain_epochs` x `num_images`
      images at the global batch `batch_size`, rounded up.
    num_images: images of the train split the stage reads.

  Returns:
    Steps >= 0; 0 = no stage.
  """
  if p.pretrain_steps > 0:
    return p.pretrain_steps
  if p.pretrain_epochs <= 0 or num_images <= 0:
    return 0
  return int(math.ceil(p.pretrain_epochs * num_images / p.batch_size))


def _sized(cfg: config_lib.Config, data: PreparedData) -> config_lib.Config:
  """cfg with `pretrain.pretrain_steps` resolved for this train split."""
  steps = stage_steps(cfg.pretrain, len(data.train))
  return dataclasses.replace(
    cfg, pretrain=dataclasses.replace(cfg.pretrain, pretrain_steps=steps)
  )


def learning_rate_fn(p: config_lib.PretrainConfig):
  """step -> LR: linear warmup to `p.learning_rate`, then ONE cosine to 0.

  The project's warmup + cosine-restarts schedule with t_mul = m_mul = 1 and
  the cycle as long as the steps after warmup, so no restart is reached.
  """
  decay_steps = max(1, p.pretrain_steps - p.warmup_steps)

  def lr_fn(step):
    return schedules.warmup_cosine_restarts(
      step, p.learning_rate, decay_steps, 1.0, 1.0, p.warmup_steps
    )

  return lr_fn


class PretrainState:
  """Projection head, LARS and checkpoints of the stage (host)."""

  def __init__(self, cfg: config_lib.Config, strategy, network: Network):
    """Args:
    cfg: the run's config (`cfg.pretrain`, workdir, checkpoint policy).
    strategy: variables are created in its scope.
    network: the network whose encoder is pre-trained.
    """
    p = cfg.pretrain
    self.lr_fn = learning_rate_fn(p)
    with strategy.scope():
      self.contrastive = contrastive_model.build_contrastive_model(
        network,
        network.model.inputs[0].shape[1:],
        p.proj_head_layers,
        p.proj_dim,
      )
      self.optimizer = LARSOptimizer(
        self.contrastive.model.trainable_variables,
        self.lr_fn,
        momentum=LARS_MOMENTUM,
        weight_decay=p.weight_decay,
        adapt_mask=self.contrastive.adapt_mask,
      )
    model = self.contrastive.model
    self.checkpointer = checkpoints.Checkpointer(
      os.path.join(cfg.run.workdir, PRETRAIN_DIR),
      is_chief=is_chief(strategy),
      max_to_keep=cfg.run.keep_checkpoints,
      guard=[*model.weights, *self.optimizer.slots],
      nonfinite_hint=NONFINITE_HINT,
      encoder=self.contrastive.encoder,
      head=self.contrastive.head,
      optimizer=self.optimizer,
    )

  @property
  def step(self) -> int:
    return int(self.optimizer.iterations.numpy())


def _next_stop(step: int, total: int, run: config_lib.RunConfig) -> int:
  every_ckpt = run.checkpoint_every_steps or run.eval_every_steps
  stops = [total, step + run.steps_per_loop]
  for every in (run.log_every_steps, every_ckpt):
    stops.append((step // every + 1) * every)
  return min(stops)


def _train(cfg, strategy, data, ps: PretrainState, writer) -> dict:
  """Runs the contrastive steps left; returns the last logged metrics."""
  run, p = cfg.run, cfg.pretrain
  # validation.py checked that the replicas divide the batch.
  step, total = ps.step, p.pretrain_steps
  dataset = strategy.distribute_datasets_from_function(
    # Offset by the step so a resumed stage does not replay its first pairs.
    input_lib.pairs_dataset_fn(data.train, p.batch_size, cfg.data.seed + step)
  )
  iterator = iter(dataset)
  step_impl = ContrastiveStep(
    ps.contrastive.model.stateless_call,
    temperature=p.temperature,
    global_batch=p.batch_size,
    jit_compile=run.jit_compile,
  )
  loop = make_pretrain_loop(
    strategy, ps.contrastive.model, ps.optimizer, step_impl
  )
  every_ckpt = run.checkpoint_every_steps or run.eval_every_steps
  row = {}
  meter = RateMeter(step)
  while step < total:
    stop = _next_stop(step, total, run)
    metrics = loop(iterator, tf.constant(stop - step, tf.int32))
    if not math.isfinite(float(metrics['pretrain/loss'])):
      raise _nonfinite_error(step, stop, total, ps.checkpointer)
    step = stop
    if step % run.log_every_steps == 0 or step == total:
      rate = meter.rate(step)
      row = {k: float(v) for k, v in metrics.items()}
      # The LR of the last step taken (the schedule ends at `total`).
      row['pretrain/lr'] = float(ps.lr_fn(step - 1))
      row['pretrain/steps_per_sec'] = rate
      row['pretrain/images_per_sec'] = rate * p.batch_size
      writer.write(step, row)
      logging.info(
        'pretrain step %d/%d  %.1f steps/s  loss %.4f  contrast_acc %.3f',
        step,
        total,
        rate,
        row['pretrain/loss'],
        row['pretrain/contrast_acc'],
      )
    if step % every_ckpt == 0 or step == total:
      meter.pause()  # checkpoint writes are not contrastive training
      ps.checkpointer.save(step)
      meter.resume()
  return row


def _nonfinite_error(start: int, stop: int, total: int, checkpointer):
  last = checkpointer.latest
  kept = f'the last good checkpoint {last} is kept' if last else 'none saved'
  return UserError(
    f'non-finite contrastive loss in steps {start + 1}..{stop} of {total} of '
    f'the contrastive stage; nothing from them is saved and {kept}. '
    + NONFINITE_HINT
  )


def run_stage(
  cfg: config_lib.Config,
  strategy,
  data: PreparedData,
  network: Network,
  *,
  always_diagnose: bool,
) -> dict:
  """Trains, resumes or skips (when complete) the contrastive stage.

  Args:
    cfg: the run's config.
    strategy: distribution strategy.
    data: prepared splits; pre-trains on `data.train` images.
    network: its encoder is trained in place.
    always_diagnose: compute the warm-up diagnostics even when no step was
      left to train (mode=pretrain reports them); otherwise only when this
      call finished the stage.

  Returns:
    Flat dict: the last logged 'pretrain/*' train metrics (when steps ran),
    the diagnostics, 'step' (the stage's step now), 'steps_run' (this
    call's) and 'seconds' (this call's wall clock).
  """
  start = time.time()
  cfg = _sized(cfg, data)
  ps = PretrainState(cfg, strategy, network)
  writer = summaries.MetricsWriter(cfg.run.workdir, is_chief(strategy))
  if ps.checkpointer.restore_latest():
    logging.info('Pretrain stage resumes at step %d', ps.step)
  first = ps.step
  ran = ps.step < cfg.pretrain.pretrain_steps
  result = _train(cfg, strategy, data, ps, writer) if ran else {}
  if ran or always_diagnose:
    diag = diagnostics.encoder_diagnostics(
      strategy,
      network.encoder,
      data,
      max_examples=cfg.pretrain.linear_probe_examples,
      global_batch=cfg.run.eval_batch_size or cfg.run.batch_size,
      seed=cfg.data.seed,
    )
    if diag:
      writer.write(ps.step, diag)
      logging.info('pretrain diagnostics: %s', diag)
    result.update(diag)
  writer.close()
  result['step'] = ps.step
  result['steps_run'] = ps.step - first
  result['seconds'] = time.time() - start
  return result


def run_pretrain(cfg, strategy, data: PreparedData, network: Network) -> dict:
  """--mode=pretrain: only the contrastive stage (resumable).

  Returns:
    Final numbers ('pretrain/loss', 'pretrain/linear_probe_top1',
    'pretrain/gmm_auc', 'step', ...).

  validation.py checked that the stage has steps.
  """
  return run_stage(cfg, strategy, data, network, always_diagnose=True)


def maybe_initialize(cfg, strategy, data: PreparedData, state) -> dict:
  """Initializes the encoder before training (--mode=train; host).

  In this order: a training checkpoint in the workdir wins (training
  resumes from it); else --init_checkpoint loads a saved encoder; else the
  contrastive stage runs, resumes, or is skipped when the workdir holds it
  complete; with no stage steps (--pretrain_epochs=0) the network keeps its
  random init. The classifier keeps its fresh initialization; EMA shadows
  restart from the initialized weights.

  Args:
    cfg: the run's config.
    strategy: distribution strategy.
    data: prepared splits.
    state: `ieg_tf.runtime.trainer.TrainState`.

  Returns:
    What happened, for the run's stage line: 'init' (one of
    'resume', 'checkpoint', 'pretrain', 'random') and, for 'pretrain', the
    `run_stage` dict; 'source' names the checkpoint for 'resume' and
    'checkpoint'.

  Raises:
    UserError: a missing or incompatible --init_checkpoint, or one given
      together with --pretrain_steps (two encoders asked for).
  """
  if state.checkpointer.latest:
    logging.info('Training checkpoint found; encoder initialization skipped')
    return {'init': 'resume', 'source': state.checkpointer.latest}
  if cfg.run.init_checkpoint:
    if cfg.pretrain.pretrain_steps > 0:
      raise UserError(
        f'--init_checkpoint={cfg.run.init_checkpoint} and --pretrain_steps='
        f'{cfg.pretrain.pretrain_steps} both give the encoder; pass one.'
      )
    prefix = encoder_init.load_encoder(cfg.run.init_checkpoint, state.network)
    logging.info('Encoder initialized from %s', prefix)
    summary = {'init': 'checkpoint', 'source': prefix}
  elif stage_steps(cfg.pretrain, len(data.train)) > 0:
    summary = dict(
      run_stage(cfg, strategy, data, state.network, always_diagnose=False),
      init='pretrain',
    )
  else:
    return {'init': 'random'}
  if state.ema is not None:
    # The shadows were copied from the random init; restart them here.
    for shadow, var in zip(
      state.ema.shadows, state.network.model.trainable_variables
    ):
      shadow.assign(tf.convert_to_tensor(var.value))
  return summary
