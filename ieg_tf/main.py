"""ieg_tf main job: flags -> Config -> strategy -> data -> model -> stages.

`python -m ieg_tf.main` with no flags trains the embedded demo (scikit-learn
digits, 80% uniform label noise) on the CPU and prints the final accuracy.
Mistakes a user can fix end with one `ieg_tf: error: ...` line and exit 2.
"""

import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402

from ieg_tf import config as config_lib  # noqa: E402
from ieg_tf import options  # noqa: E402
from ieg_tf import validation  # noqa: E402
from ieg_tf.errors import UserError  # noqa: E402

EXIT_USER_ERROR = 2

# `--help` lists the user's flags (generated in options.py), not only absl's.
flags.adopt_module_key_flags(options)


def _main(cfg: config_lib.Config) -> dict:
  # Heavy imports after flag parsing so `--help` and flag errors are fast.
  import tensorflow as tf

  from ieg_tf.data.prepare import prepare_data
  from ieg_tf.runtime import strategy as strategy_lib
  from ieg_tf.runtime import workdir

  run = cfg.run
  workdir.prepare(run.workdir)
  if run.deterministic:
    tf.config.experimental.enable_op_determinism()
  strategy = strategy_lib.make_strategy(run)
  # Before flags.cfg: a config that cannot run leaves the workdir as it was.
  validation.validate(cfg, strategy.num_replicas_in_sync)
  # Only the chief writes: workers sharing a workdir would race on the file.
  if run.mode == config_lib.Mode.TRAIN and strategy.extended.should_checkpoint:
    workdir.write_text(run.workdir, 'flags.cfg', options.flags_file_text())
  data = prepare_data(cfg.data)
  # Every stage reads images (train, eval, precise BN, pre-training, report,
  # export): a pipeline failing past --max_bad_examples is one error line.
  with data.bad_examples.stop_over_limit():
    return _run_stages(cfg, strategy, data)


def _run_stages(cfg: config_lib.Config, strategy, data) -> dict:
  """Builds the network and method step, then runs the --mode's stages."""
  import keras

  from ieg_tf.meta import methods
  from ieg_tf.meta.step_api import StepContext
  from ieg_tf.models.registry import build_network
  from ieg_tf.runtime import trainer

  run = cfg.run
  replicas = strategy.num_replicas_in_sync
  method = cfg.method.method
  train_split = data.training_split(method)
  if not len(train_split):
    raise UserError(
      f'the training set of --dataset={cfg.data.dataset} is empty.'
    )
  # Seeded weight init: the same command starts from the same weights (what
  # --deterministic resume and every comparison between runs rely on).
  keras.utils.set_random_seed(cfg.data.seed)
  with strategy.scope():
    network = build_network(
      cfg.model.network_name,
      data.num_classes,
      data.image_shape,
      weight_decay=cfg.model.weight_decay,
    )
  if run.mode == config_lib.Mode.PRETRAIN:
    from ieg_tf.pretrain import stage as pretrain_stage

    return pretrain_stage.run_pretrain(cfg, strategy, data, network)
  ctx = StepContext(
    forward=network.model.stateless_call,
    global_batch=run.batch_size,
    num_replicas=replicas,
    num_classes=data.num_classes,
    weight_decay=network.weight_decay,
    decay_mask=network.decay_mask,
    clean_labels_known=(
      train_split.clean_labels is not None
      and method != config_lib.Method.PROBE_ONLY
    ),
  )
  with strategy.scope():
    # In the scope: a step may own variables (the Meta-Weight-Net).
    step_impl = methods.build_step(cfg, ctx)
  state = trainer.TrainState(
    cfg, strategy, network, len(train_split), step_impl
  )
  if run.mode == config_lib.Mode.EVAL:
    return trainer.evaluate_only(cfg, strategy, data, state)
  if run.mode == config_lib.Mode.REPORT:
    from ieg_tf.eval import label_report

    return label_report.run_report(cfg, strategy, data, state)
  if run.mode == config_lib.Mode.EXPORT:
    from ieg_tf.runtime import export

    return export.run_export(cfg, strategy, data, state)
  from ieg_tf.pretrain import stage as pretrain_stage
  from ieg_tf.runtime import stage_lines

  # The contrastive stage (--pretrain_epochs) or --init_checkpoint, unless a
  # training checkpoint already exists (then training resumes from it).
  init = pretrain_stage.maybe_initialize(cfg, strategy, data, state)
  print(
    stage_lines.pretrain_line(init, len(data.train), cfg.pretrain.batch_size),
    flush=True,
  )
  # Method-specific host work (IEG's neighbor-vote prior), once.
  train_split = step_impl.prepare(cfg, strategy, data, state, train_split)
  start = time.time()
  result = trainer.train(cfg, strategy, data, train_split, state, step_impl)
  print(
    stage_lines.train_line(
      method.value, result, time.time() - start, _last_train_row(run.workdir)
    ),
    flush=True,
  )
  return result


def _last_train_row(workdir: str):
  """The last training line of <workdir>/metrics.jsonl, or None."""
  from ieg_tf.runtime import summaries

  rows = [
    r
    for r in summaries.read_metrics(workdir)
    if any(k.startswith('loss/') for k in r)
  ]
  return rows[-1] if rows else None


def main(argv):
  if len(argv) > 1:
    _fail(f'unexpected arguments {argv[1:]}; flags look like --name=value.')
  try:
    cfg = options.config_from_flags()
    result = _main(cfg)
  except UserError as e:
    _fail(str(e))
  if 'eval/top1' in result:
    print(
      f'final: step={result.get("step", "-")} '
      f'method={cfg.method.method.value} dataset={cfg.data.dataset} '
      f'eval/top1={result["eval/top1"]:.4f} '
      f'eval/top1_raw={result["eval/top1_raw"]:.4f} '
      f'eval/top5={result["eval/top5"]:.4f}',
      flush=True,
    )
  else:
    summary = ' '.join(
      f'{k}={v:.4f}' if isinstance(v, float) else f'{k}={v}'
      for k, v in sorted(result.items())
    )
    print(f'{cfg.run.mode.value}: {summary}', flush=True)


def _fail(message: str):
  logging.flush()
  print(f'ieg_tf: error: {message}', file=sys.stderr, flush=True)
  sys.exit(EXIT_USER_ERROR)


def _parse_flags(argv):
  """absl's parser, but a bad flag is one `ieg_tf: error:` line (exit 2)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    message = str(e).replace('ERROR:: ', '')
    _fail(f'{message}; see --help for the flags.')


def run():
  """Console-script entry point."""
  app.run(main, flags_parser=_parse_flags)


if __name__ == '__main__':
  run()
