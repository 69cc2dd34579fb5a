"""Method name -> per-replica step. The runtime knows steps only through here."""

from ieg_tf import config as config_lib
from ieg_tf.errors import UserError
from ieg_tf.meta.ieg_step import IegStep
from ieg_tf.meta.l2r_step import L2rStep
from ieg_tf.meta.mwnet_step import MwnetStep
from ieg_tf.meta.step_api import StepContext, TrainStep
from ieg_tf.meta.supervised_step import SupervisedStep

_M = config_lib.Method


def build_step(cfg: config_lib.Config, ctx: StepContext) -> TrainStep:
  """Returns the step object for `cfg.method.method`, with its section.

  Call it inside `strategy.scope()`: `mwnet` creates its MLP's variables.

  Raises:
    UserError: the method is not available in this build.
  """
  name = config_lib.Method(cfg.method.method)
  if name in (_M.SUPERVISED, _M.PROBE_ONLY):
    return SupervisedStep(ctx, loss='ce')
  if name == _M.GCE:
    return SupervisedStep(ctx, loss='gce', gce_q=cfg.gce.gce_q)
  if name == _M.IEG:
    return IegStep(ctx, cfg.method, cfg.ieg)
  if name == _M.L2R:
    return L2rStep(ctx, cfg.method)
  if name == _M.MWNET:
    return MwnetStep(ctx, cfg.method, cfg.mwnet)
  raise UserError(
    f'--method={name.value} is not available yet in this version; use '
    'ieg, l2r, mwnet, supervised, gce or probe_only.'
  )
