"""scripts/launch_multi_gpu.sh: mirrored on one host, TF_CONFIG for several."""

import os
import re
import shutil
import subprocess

import tensorflow as tf

from ieg_tf.runtime import strategy as strategy_lib
from tests.e2e import cli_runner
from tests.runtime.tpu_launch_harness import (
  commands,
  run_script,
  unknown_flags,
)

_SCRIPT = os.path.join(cli_runner.REPO_ROOT, 'scripts', 'launch_multi_gpu.sh')


class LaunchMultiGpuTest(tf.test.TestCase):
  def test_shell_syntax_and_lint(self):
    self.assertEqual(subprocess.run(['bash', '-n', _SCRIPT]).returncode, 0)
    if shutil.which('shellcheck'):
      lint = subprocess.run(
        ['shellcheck', _SCRIPT], capture_output=True, text=True
      )
      self.assertEqual(lint.returncode, 0, lint.stdout)

  def test_one_host_is_mirrored(self):
    proc = run_script(_SCRIPT, '--dry-run', '--batch_size=256', WORKDIR='/r')
    self.assertEqual(proc.returncode, 0, proc.stderr)
    self.assertNotIn('does not exist', proc.stderr)  # the default recipe
    self.assertNotIn('TF_CONFIG', proc.stdout)
    (train,) = commands(proc.stdout)
    self.assertEqual(train[1:3], ['-m', 'ieg_tf.main'])
    self.assertIn('--strategy=mirrored', train)
    self.assertIn('--workdir=/r', train)
    self.assertEqual(train[-1], '--batch_size=256')
    self.assertEmpty(unknown_flags(train))

  def test_several_hosts_get_a_tf_config_ieg_tf_accepts(self):
    workers = ['10.0.0.1:2222', 'gpu-b:2222', 'gpu-c:2223']
    for index in range(3):
      proc = run_script(
        _SCRIPT,
        '--dry-run',
        f'--workers={",".join(workers)}',
        f'--index={index}',
        WORKDIR='gs://b/r',
        DATA_DIR='gs://b/d',
      )
      self.assertEqual(proc.returncode, 0, proc.stderr)
      raw = re.search(r"export TF_CONFIG='(.*)'", proc.stdout).group(1)
      jobs, task_type, got = strategy_lib.parse_tf_config(raw)
      self.assertEqual(jobs, {'worker': workers})
      self.assertEqual((task_type, got), ('worker', index))
      (train,) = commands(proc.stdout)
      self.assertIn('--strategy=multi_worker', train)
      self.assertIn('--data_dir=gs://b/d', train)
      self.assertEmpty(unknown_flags(train))

  def test_mistakes_exit_2_with_one_line(self):
    for args, message in (
      (('--workers=a:1,b:2',), 'needs --index'),
      (('--workers=a:1,b:2', '--index=2'), 'lists 2 hosts'),
      (('--workers=a,b:2', '--index=0'), "'a' is not host:port"),
      (('--index=0',), '--index needs --workers'),
      (('stray',), 'unexpected argument'),
    ):
      proc = run_script(_SCRIPT, '--dry-run', *args, WORKDIR='w')
      self.assertEqual(proc.returncode, 2, (args, proc.stdout))
      self.assertIn(message, proc.stderr)
      self.assertLen(proc.stderr.strip().splitlines(), 1, proc.stderr)
    proc = run_script(_SCRIPT, '--dry-run')
    self.assertEqual(proc.returncode, 2)
    self.assertIn('set WORKDIR', proc.stderr)


if __name__ == '__main__':
  tf.test.main()
