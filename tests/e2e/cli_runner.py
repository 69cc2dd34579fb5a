"""Runs `python -m ieg_tf.main` in a subprocess for end-to-end tests."""

import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)


def shared_data_dir() -> str:
  """../shared/data beside the repository, or $IEG_TF_SHARED_DATA."""
  return os.environ.get(
    'IEG_TF_SHARED_DATA', os.path.join(REPO_ROOT, '..', 'shared', 'data')
  )


# Tests of one stage start from a random init whatever the default stage
# is; the flags a test passes come after it and win (absl keeps the last
# value of a repeated flag).
NO_PIPELINE = ('--pretrain_epochs=0',)


def run_main(*flags, timeout=600, env=None, pipeline=False):
  """Returns the CompletedProcess of `python -m ieg_tf.main <flags>`.

  Args:
    *flags: the job's flags.
    timeout: seconds before the subprocess is killed.
    env: extra environment variables.
    pipeline: keep the default contrastive stage; False runs the method
      from a random init unless `flags` ask for the stage.
  """
  if not pipeline:
    flags = (*NO_PIPELINE, *flags)
  full_env = dict(os.environ)
  full_env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  full_env['PYTHONPATH'] = (
    REPO_ROOT + os.pathsep + full_env.get('PYTHONPATH', '')
  )
  if env:
    full_env.update(env)
  return subprocess.run(
    [sys.executable, '-m', 'ieg_tf.main', *flags],
    capture_output=True,
    text=True,
    timeout=timeout,
    env=full_env,
    cwd=REPO_ROOT,
  )


def digits_export_accuracy(workdir: str) -> float:
  """Top-1 of <workdir>/saved_model on the digits test split."""
  import numpy as np
  import tensorflow as tf

  from ieg_tf import config
  from ieg_tf.data.prepare import prepare_data

  served = tf.saved_model.load(os.path.join(workdir, 'saved_model'))
  test = prepare_data(config.DataConfig(dataset='digits')).test
  out = served.signatures['serving_default'](images=tf.constant(test.images))
  return float(np.mean(out['class_id'].numpy() == test.labels))
