"""Method name -> per-replica step. The runtime knows steps only through here."""

import dataclasses

from ieg_tf import config as config_lib
from ieg_tf.errors import UserError
from ieg_tf.meta.ieg_step import IegStep
from ieg_tf.meta.l2r_step import L2rStep
from ieg_tf.meta.mwnet_step import MwnetStep
from ieg_tf.meta.step_api import StepContext
from ieg_tf.meta.supervised_step import SupervisedStep

_M = config_lib.Method


def pipeline_has_extra_strong_views() -> bool:
  """Whether the train pipeline can produce more than one strong view.

  IEG with --num_views=K > 2 needs 'image_strong_2' .. 'image_strong_{K-1}'
  in the train batch (`ieg_step.view_keys`); the pipeline signals that it
  can make them with a `num_strong_views` field of `pipeline.TrainInput`.
  """
  # Imported here: only --num_views > 2 needs to ask the pipeline.
  from ieg_tf.data import pipeline

  fields = {f.name for f in dataclasses.fields(pipeline.TrainInput)}
  return 'num_strong_views' in fields


def build_step(method: config_lib.MethodConfig, ctx: StepContext):
  """Returns the step object for `method.method`.

  Call it inside `strategy.scope()`: `mwnet` creates its MLP's variables.

  Raises:
    UserError: the method is not available in this build, or asks for
      inputs the pipeline cannot make.
  """
  name = config_lib.Method(method.method)
  if name in (_M.SUPERVISED, _M.PROBE_ONLY):
    return SupervisedStep(ctx, loss='ce')
  if name == _M.GCE:
    return SupervisedStep(ctx, loss='gce', gce_q=method.gce_q)
  if name == _M.IEG:
    if method.num_views > 2 and not pipeline_has_extra_strong_views():
      raise UserError(
        f'--num_views={method.num_views} needs {method.num_views - 1} strong '
        'views per image, but the input pipeline makes one (image_strong); '
        'use --num_views=2 or 1.'
      )
    return IegStep(ctx, method)
  if name == _M.L2R:
    return L2rStep(ctx, method)
  if name == _M.MWNET:
    return MwnetStep(ctx, method)
  raise UserError(
    f'--method={name.value} is not available yet in this version; use '
    'ieg, l2r, mwnet, supervised, gce or probe_only.'
  )
