"""End to end: `python -m ieg_tf.main` on miniature real-noise layouts.

Fake WebVision-mini and Clothing1M trees in the owners' formats (a few tiny
JPEGs), the same Clothing1M converted by scripts/prepare_clothing1m.py (run in
this process), and
the bad-data policy: a truncated image is skipped and counted, too many of
them in the test split stop the run with one line, a label out of range stops
the run with the file and line.
"""

import os
import runpy
import sys
from unittest import mock

import tensorflow as tf

from ieg_tf.data import record_format
from ieg_tf.runtime import summaries
from tests.data import fake_layouts
from tests.e2e import cli_runner

_FAST = (
  '--method=supervised',
  '--noise_type=none',
  '--network_name=tiny',
  '--image_size=16',
  '--probe_per_class=1',
  '--batch_size=16',
  '--eval_batch_size=64',
  '--train_steps=2',
  '--steps_per_loop=2',
  '--log_every_steps=2',
  '--eval_every_steps=2',
)


class DatasetsE2ETest(tf.test.TestCase):
  def _train(self, *flags):
    workdir = self.create_tempdir().full_path
    proc = cli_runner.run_main(f'--workdir={workdir}', *_FAST, *flags)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    self.assertIn('final: step=2', proc.stdout)
    evals = [r for r in summaries.read_metrics(workdir) if 'eval/top1' in r]
    self.assertEqual([r['step'] for r in evals], [2])
    return proc, evals[0]

  def test_webvision_mini_with_imagenet(self):
    root = self.create_tempdir().full_path
    wv, inet = os.path.join(root, 'wv'), os.path.join(root, 'inet')
    fake_layouts.webvision(
      wv, train_per_class=1, val_per_class=2, imagenet=inet
    )
    _, row = self._train(
      '--dataset=webvision_mini', f'--data_dir={wv}', f'--imagenet_dir={inet}'
    )
    self.assertEqual(row['eval/num_examples'], 100)  # WebVision val.
    # The second evaluation: the ImageNet val images of the 50 classes.
    self.assertGreater(row['eval/imagenet_num_examples'], 0)
    for key in ('eval/imagenet_top1', 'eval/imagenet_top5'):
      self.assertBetween(row[key], 0.0, 1.0)

  def test_clothing1m_raw_then_converted(self):
    root = self.create_tempdir().full_path
    raw = os.path.join(root, 'clothing')
    files = fake_layouts.clothing1m(raw)
    # A truncated train image: skipped and counted, not fatal at limit 1.
    with open(os.path.join(raw, files['noisy'][4][0]), 'r+b') as f:
      f.truncate(50)
    proc, row = self._train(
      '--dataset=clothing1m', f'--data_dir={raw}', '--max_bad_examples=1'
    )
    self.assertEqual(row['eval/num_examples'], 14)
    converted = os.path.join(root, 'records')
    # The script's own code path, in this process (saves a TF start-up).
    script = os.path.join(
      cli_runner.REPO_ROOT, 'scripts', 'prepare_clothing1m.py'
    )
    argv = [f'--data_dir={raw}', f'--output_dir={converted}']
    with mock.patch.object(sys, 'argv', [script, *argv]):
      with self.assertRaises(SystemExit) as done:
        runpy.run_path(script, run_name='__main__')
    self.assertEqual(done.exception.code, 0)
    info = record_format.read_info(converted)
    self.assertEqual(info['splits']['train']['count'], 42)
    self.assertLen(info['splits']['train']['bad'], 1)
    # The converter left the truncated image out; training counts it again.
    proc = cli_runner.run_main(
      '--dataset=clothing1m',
      f'--data_dir={converted}',
      *_FAST,
      f'--workdir={self.create_tempdir().full_path}',
    )
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    self.assertIn('final: step=2', proc.stdout)

  def test_bad_test_images_past_the_limit_stop_with_one_line(self):
    # The test split is read by evaluation and precise BN, outside the train
    # loop's own check: still one line and exit 2, not a traceback.
    root = self.create_tempdir().full_path
    files = fake_layouts.clothing1m(root)
    for path in files['clean_test'][:2]:
      with open(os.path.join(root, path), 'r+b') as f:
        f.truncate(50)
    proc = cli_runner.run_main(
      '--dataset=clothing1m',
      f'--data_dir={root}',
      *_FAST,
      '--max_bad_examples=1',
      f'--workdir={self.create_tempdir().full_path}',
    )
    self.assertEqual(proc.returncode, 2, proc.stderr[-3000:])
    self.assertNotIn('Traceback', proc.stderr)
    last = proc.stderr.strip().splitlines()[-1]
    self.assertRegex(last, r'^ieg_tf: error: clothing1m: 2 bad examples .*=1; ')

  def test_label_out_of_range_stops_with_file_and_line(self):
    root = self.create_tempdir().full_path
    fake_layouts.clothing1m(root)
    kv = os.path.join(root, 'annotations', 'clean_label_kv.txt')
    with open(kv) as f:
      lines = f.read().splitlines()
    lines[2] = lines[2].split()[0] + ' 14'
    with open(kv, 'w') as f:
      f.write('\n'.join(lines) + '\n')
    proc = cli_runner.run_main(
      '--dataset=clothing1m',
      f'--data_dir={root}',
      *_FAST,
      f'--workdir={self.create_tempdir().full_path}',
    )
    self.assertEqual(proc.returncode, 2, proc.stderr[-3000:])
    last = proc.stderr.strip().splitlines()[-1]
    self.assertEqual(
      last, f'ieg_tf: error: {kv}: line 3: label 14 is outside [0, 14)'
    )


if __name__ == '__main__':
  tf.test.main()
