"""Every check of a Config that needs no data: one `validate(cfg, replicas)`.

Single values are bounded where their flags are defined (`config.setting`);
this module checks what depends on several settings or on the number of
replicas. Checks that need the data (probe sizes, image shapes, label
files) or the workdir (checkpoints) stay where those are read. Each problem
is one `UserError` line a user can act on.
"""

from ieg_tf import config as config_lib
from ieg_tf.errors import UserError

_M = config_lib.Method


def validate(cfg: config_lib.Config, replicas: int) -> None:
  """Raises UserError for the first setting that cannot run.

  Args:
    cfg: the resolved config (`options.config_from_flags`).
    replicas: replicas in sync of the chosen strategy (host, once).
  """
  _check_probe(cfg)
  _check_batches(cfg, replicas)
  _check_weight_source(cfg)
  _check_label_votes(cfg)
  _check_stage(cfg)


def _check_probe(cfg: config_lib.Config) -> None:
  method = cfg.method.method
  has_probe = cfg.data.probe_per_class > 0 or cfg.data.probe_hold_ratio > 0
  if method in config_lib.META_METHODS + (_M.PROBE_ONLY,) and not has_probe:
    raise UserError(
      f'--method={method.value} needs a probe set: set --probe_per_class > 0.'
    )


def _check_batches(cfg: config_lib.Config, replicas: int) -> None:
  run = cfg.run
  batches = [
    ('--batch_size', run.batch_size),
    ('--eval_batch_size', run.eval_batch_size),
  ]
  if _stage_runs(cfg):
    batches.append(
      ('--pretrain_batch_size (or --batch_size)', cfg.pretrain.batch_size)
    )
  for name, batch in batches:
    if batch % replicas:
      raise UserError(
        f'{name}={batch} is not divisible by the {replicas} replicas of '
        f'--strategy={run.strategy.value}; use a multiple of {replicas}.'
      )


def _stage_asked(cfg: config_lib.Config) -> bool:
  p = cfg.pretrain
  return p.pretrain_steps > 0 or p.pretrain_epochs > 0


def _stage_runs(cfg: config_lib.Config) -> bool:
  """Whether this invocation may run contrastive steps (docs/pipeline.md)."""
  mode = cfg.run.mode
  if mode == config_lib.Mode.PRETRAIN:
    return True
  return (
    mode == config_lib.Mode.TRAIN
    and _stage_asked(cfg)
    and not cfg.run.init_checkpoint
  )


def _check_weight_source(cfg: config_lib.Config) -> None:
  source = config_lib.WeightSource(cfg.method.weight_source)
  method = _M(cfg.method.method)
  if source != config_lib.WeightSource.META and method not in (_M.L2R, _M.IEG):
    raise UserError(
      f'--weight_source={source.value} sets the example weights of l2r and '
      f'ieg; --method={method.value} has none (use --weight_source=meta).'
    )


def _check_label_votes(cfg: config_lib.Config) -> None:
  """The neighbor votes' flags, checked where they train (mode=train)."""
  m = cfg.method
  if cfg.run.mode != config_lib.Mode.TRAIN:
    return
  if cfg.ieg.label_vote_neighbors <= 0:
    if m.weight_source == config_lib.WeightSource.VOTE:
      raise UserError(
        '--weight_source=vote reads the neighbor vote; it needs '
        '--label_vote_neighbors=K > 0.'
      )
    return
  if m.method != _M.IEG:
    raise UserError(
      "--label_vote_neighbors feeds IEG's pseudo-labels; it needs "
      f'--method=ieg, not --method={m.method.value}.'
    )
  if not _stage_asked(cfg) and not cfg.run.init_checkpoint:
    raise UserError(
      '--label_vote_neighbors needs a trained encoder: pass '
      '--init_checkpoint=<pretrain workdir> or --pretrain_epochs > 0.'
    )


def _check_stage(cfg: config_lib.Config) -> None:
  if cfg.run.mode == config_lib.Mode.PRETRAIN and not _stage_asked(cfg):
    raise UserError(
      '--mode=pretrain needs --pretrain_epochs > 0 or --pretrain_steps=N > 0.'
    )
