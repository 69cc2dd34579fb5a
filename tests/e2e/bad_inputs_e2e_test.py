"""Bad input exits non-zero with one clear line, no traceback, workdir intact."""

import concurrent.futures
import os

import numpy as np
import tensorflow as tf

from tests.e2e import cli_runner


class BadInputsTest(tf.test.TestCase):
  def test_each_bad_input_gives_one_clear_line(self):
    root = self.create_tempdir().full_path
    labels_file = os.path.join(root, 'labels.npy')
    np.save(labels_file, np.full(1297, 12, np.int64))  # 12 >= 10 classes
    keep = os.path.join(root, 'keep')
    os.makedirs(keep)
    with open(os.path.join(keep, 'notes.txt'), 'w') as f:
      f.write('user file')
    cases = {
      'unknown dataset': (['--dataset=imagenet9000'], 'imagenet9000'),
      'folder without data_dir': (['--dataset=folder'], 'data_dir'),
      'missing data_dir': (
        ['--dataset=folder', f'--data_dir={root}/nope'],
        'nope',
      ),
      'noise ratio flag': (['--noise_ratio=1.5'], 'noise_ratio'),
      'noise ratio shorthand': (['--dataset=cifar10_uniform_1.5'], '1.5'),
      'probe too large': (['--probe_per_class=1000'], 'probe'),
      'labels out of range': (
        [f'--noisy_labels_file={labels_file}'],
        'labels.npy',
      ),
      'batch not divisible': (
        ['--strategy=mirrored', '--batch_size=33'],
        'batch_size',
      ),
      'no tpu': (['--strategy=tpu', '--tpu=local'], 'TPU'),
      'eval without checkpoint': (['--mode=eval'], 'checkpoint'),
      'unknown network': (['--network_name=vgg'], 'network_name'),
    }

    def run(item):
      name, (flags, needle) = item
      return (
        name,
        needle,
        cli_runner.run_main(
          f'--workdir={keep}', '--train_steps=1', *flags, timeout=300
        ),
      )

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
      results = list(pool.map(run, cases.items()))
    for name, needle, proc in results:
      with self.subTest(name):
        self.assertNotEqual(proc.returncode, 0, name)
        self.assertNotIn('Traceback', proc.stderr, name)
        # TF's C++ start-up logs may mention "errors" (oneDNN round-off
        # notice), so only our own error line counts, and exactly once.
        lines = [
          x for x in proc.stderr.splitlines() if x.startswith('ieg_tf: error:')
        ]
        self.assertLen(lines, 1, proc.stderr[-2000:])
        self.assertIn(needle.lower(), lines[0].lower(), proc.stderr[-2000:])
    # Nothing the user had in the workdir was lost.
    with open(os.path.join(keep, 'notes.txt')) as f:
      self.assertEqual(f.read(), 'user file')


if __name__ == '__main__':
  tf.test.main()
