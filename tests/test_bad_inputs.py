"""Every bad input: non-zero exit, ONE `ieg_tf: error:` line, workdir intact.

A matrix of user mistakes across flags, files, datasets and checkpoints, each
run as `python -m ieg_tf.main` in a child process (two at a time). Each case
must end with exit status 2, exactly one line starting `ieg_tf: error:` that
names the problem, no traceback, and every file that was in its workdir
before (a user file, an older metrics.jsonl and flags.cfg, checkpoints)
still there with the same content (flags.cfg may move to flags.cfg.<n>).
Cases that fail at flag parsing cost ~0.1 s; the others import TensorFlow.
"""

import concurrent.futures
import os

import numpy as np
from PIL import Image
import tensorflow as tf

from ieg_tf import config
from ieg_tf.data.sources import registry
from tests.e2e import cli_runner

EXIT_USER_ERROR = 2
_PREFIX = 'ieg_tf: error:'
_OLD_FLAGS = '--train_steps=7\n--dataset=digits\n'


def _snapshot(workdir):
  """{relative path: bytes} of every file under `workdir`."""
  files = {}
  for root, _, names in os.walk(workdir):
    for name in names:
      path = os.path.join(root, name)
      with open(path, 'rb') as f:
        files[os.path.relpath(path, workdir)] = f.read()
  return files


def _folder_with_empty_class(root):
  for split, per_class in (('train', 3), ('test', 1)):
    for cls in ('cat', 'dog'):
      d = os.path.join(root, split, cls)
      os.makedirs(d)
      n = 0 if (split, cls) == ('train', 'dog') else per_class
      for i in range(n):
        Image.new('RGB', (8, 8), (i * 40, 0, 0)).save(f'{d}/{i}.png')
  return root


class BadInputsTest(tf.test.TestCase):
  def test_every_bad_input_gives_one_clear_line_and_loses_nothing(self):
    root = self.create_tempdir().full_path
    n_train = len(registry.load_source(config.DataConfig()).train)

    def path(name):
      return os.path.join(root, name)

    np.save(path('range.npy'), np.full(n_train, 12, np.int64))
    np.save(path('short.npy'), np.zeros(n_train - 3, np.int64))
    with open(path('nolabel.csv'), 'w') as f:
      f.write('id,class\n0,1\n')
    with open(path('a_file'), 'w') as f:
      f.write('not a directory')
    folder = _folder_with_empty_class(path('folder'))

    cases = {
      # Flag parsing (no TensorFlow import).
      'unknown flag': (['--no_such_flag=1'], 'no_such_flag'),
      'missing flagfile': ([f'--flagfile={root}/none.cfg'], 'none.cfg'),
      'noise ratio flag': (['--noise_ratio=1.5'], 'noise_ratio'),
      'noise ratio shorthand': (['--dataset=cifar10_uniform_1.5'], '1.5'),
      'bad integer': (['--batch_size=many'], 'batch_size'),
      'unknown network': (['--network_name=vgg'], 'network_name'),
      'meta method without probe': (
        ['--method=ieg', '--probe_per_class=0'],
        'probe',
      ),
      # Data.
      'unknown dataset': (['--dataset=imagenet9000'], 'imagenet9000'),
      'folder without data_dir': (['--dataset=folder'], 'data_dir'),
      'missing data_dir': (
        ['--dataset=folder', f'--data_dir={root}/nope'],
        'nope',
      ),
      'folder with an empty class': (
        ['--dataset=folder', f'--data_dir={folder}', '--probe_per_class=1'],
        'dog',
      ),
      'probe larger than a class': (['--probe_per_class=1000'], 'probe'),
      'neighbor vote without an encoder': (
        ['--label_vote_neighbors=5', '--pretrain_epochs=0'],
        '--init_checkpoint',
      ),
      'neighbor vote for another method': (
        ['--method=gce', '--label_vote_neighbors=5'],
        '--method=ieg',
      ),
      'label out of range': (
        [f'--noisy_labels_file={path("range.npy")}'],
        'outside [0, 10)',
      ),
      'labels file too short': (
        [f'--noisy_labels_file={path("short.npy")}'],
        f'has {n_train - 3} labels',
      ),
      'labels csv without label column': (
        [f'--noisy_labels_file={path("nolabel.csv")}'],
        'nolabel.csv',
      ),
      # Run set-up and checkpoints.
      'batch not divisible by replicas': (
        ['--strategy=mirrored', '--batch_size=33'],
        '--batch_size=33',
      ),
      'eval without checkpoint': (['--mode=eval'], 'no checkpoint'),
      'corrupt checkpoint, no fallback': ([], 'can be restored'),
      'workdir under a file': (
        [f'--workdir={path("a_file")}/run'],
        'workdir',
      ),
    }

    def prepare(name):
      workdir = os.path.join(root, 'w', name.replace(' ', '_'))
      os.makedirs(workdir)
      for file_name, text in (
        ('notes.txt', 'user file'),
        ('metrics.jsonl', '{"step": 3, "loss/total": 1.0}\n'),
        ('flags.cfg', _OLD_FLAGS),
      ):
        with open(os.path.join(workdir, file_name), 'w') as f:
          f.write(text)
      if name == 'corrupt checkpoint, no fallback':
        ckpt = os.path.join(workdir, 'checkpoints')
        os.makedirs(ckpt)
        for suffix in ('index', 'data-00000-of-00001'):
          with open(os.path.join(ckpt, f'ckpt-5.{suffix}'), 'wb') as f:
            f.write(b'\0' * 64)  # a save cut off by a crash
      return workdir

    def run(item):
      name, (flags, needle) = item
      workdir = prepare(name)
      before = _snapshot(workdir)
      proc = cli_runner.run_main(
        f'--workdir={workdir}', '--train_steps=1', *flags, timeout=300
      )
      return name, needle, proc, workdir, before

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
      results = list(pool.map(run, cases.items()))
    self.assertGreaterEqual(len(results), 12)
    for name, needle, proc, workdir, before in results:
      with self.subTest(name):
        tail = proc.stderr[-2000:]
        self.assertEqual(proc.returncode, EXIT_USER_ERROR, tail)
        self.assertNotIn('Traceback', proc.stderr, tail)
        lines = [x for x in proc.stderr.splitlines() if x.startswith(_PREFIX)]
        self.assertLen(lines, 1, tail)
        self.assertIn(needle.lower(), lines[0].lower(), tail)
        self.assertNotIn('final:', proc.stdout)
        after = _snapshot(workdir)
        for file_name, content in before.items():
          if file_name == 'flags.cfg':
            kept = [
              k for k, v in after.items() if k.startswith('flags.cfg') and v
            ]
            self.assertIn(content, [after[k] for k in kept], name)
          else:
            self.assertEqual(after.get(file_name), content, file_name)


if __name__ == '__main__':
  tf.test.main()
