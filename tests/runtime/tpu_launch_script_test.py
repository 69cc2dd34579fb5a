"""scripts/launch_tpu_vm.sh: valid shell, and a dry run prints a real command."""

import os
import shutil
import subprocess

import tensorflow as tf

from tests.e2e import cli_runner
from tests.runtime.tpu_launch_harness import (
  commands,
  run_script,
  unknown_flags,
)

_SCRIPT = os.path.join(cli_runner.REPO_ROOT, 'scripts', 'launch_tpu_vm.sh')


class LaunchTpuVmTest(tf.test.TestCase):
  def test_shell_syntax_and_lint(self):
    self.assertEqual(subprocess.run(['bash', '-n', _SCRIPT]).returncode, 0)
    if shutil.which('shellcheck'):
      lint = subprocess.run(
        ['shellcheck', _SCRIPT], capture_output=True, text=True
      )
      self.assertEqual(lint.returncode, 0, lint.stdout)

  def test_dry_run_prints_install_and_train(self):
    proc = run_script(
      _SCRIPT,
      '--dry-run',
      '--train_steps=7',
      WORKDIR='gs://bucket/runs/a',
      DATA_DIR='gs://bucket/data',
    )
    self.assertEqual(proc.returncode, 0, proc.stderr)
    self.assertNotIn('does not exist', proc.stderr)  # the default recipe
    self.assertIn('export TPU_NAME=local', proc.stdout)
    install, train = commands(proc.stdout)
    self.assertEqual(install[1:5], ['-m', 'pip', 'install', '-e'])
    self.assertEqual(install[5], '.[tpu]')
    self.assertEqual(train[1:3], ['-m', 'ieg_tf.main'])
    self.assertContainsSubset(
      [
        '--flagfile=flags/webvision_mini.cfg',
        '--strategy=tpu',
        '--tpu=local',
        '--workdir=gs://bucket/runs/a',
        '--data_dir=gs://bucket/data',
      ],
      train,
    )
    self.assertEqual(train[-1], '--train_steps=7')  # user flags win
    self.assertEmpty(unknown_flags(train))

  def test_options(self):
    proc = run_script(
      _SCRIPT,
      '--dry-run',
      '--no-install',
      WORKDIR='gs://b/r',
      DATA_DIR='/data',
      TPU='my-pod',
      FLAGFILE='flags/demo.cfg',
    )
    self.assertEqual(proc.returncode, 0, proc.stderr)
    (train,) = commands(proc.stdout)
    self.assertIn('--tpu=my-pod', train)
    self.assertIn('--flagfile=flags/demo.cfg', train)

  def test_mistakes_exit_2_with_one_line(self):
    for env, args, message in (
      ({'DATA_DIR': 'gs://b/d'}, (), 'set WORKDIR'),
      ({'WORKDIR': 'gs://b/r'}, (), 'set DATA_DIR'),
      ({'WORKDIR': 'w', 'DATA_DIR': 'd'}, ('oops',), 'unexpected argument'),
      (
        {'WORKDIR': 'w', 'DATA_DIR': 'd', 'FLAGFILE': 'nope.cfg'},
        (),
        'does not exist',
      ),
    ):
      proc = run_script(_SCRIPT, *args, **env)
      self.assertEqual(proc.returncode, 2, (env, args, proc.stdout))
      self.assertIn(message, proc.stderr)
      self.assertLen(proc.stderr.strip().splitlines(), 1, proc.stderr)
      self.assertNotIn('ieg_tf.main', proc.stdout)


if __name__ == '__main__':
  tf.test.main()
