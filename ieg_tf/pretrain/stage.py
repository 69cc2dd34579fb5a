"""Contrastive pre-training stage (placeholder until the C2D stage lands)."""

from ieg_tf.errors import UserError


def run_pretrain(cfg, strategy, data, network) -> dict:
  raise UserError('--mode=pretrain is not available yet in this version.')


def maybe_initialize(cfg, strategy, data, state) -> None:
  if cfg.pretrain.pretrain_steps or cfg.run.init_checkpoint:
    raise UserError(
      '--pretrain_steps and --init_checkpoint are not available yet in this '
      'version.'
    )
