"""scripts/accuracy_study.py: flags per cell, result parsing, one tiny run."""

import importlib.util
import json
import os

import numpy as np
import tensorflow as tf

_ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
_SCRIPT = os.path.join(_ROOT, 'scripts', 'accuracy_study.py')


def _load_script():
  spec = importlib.util.spec_from_file_location('accuracy_study', _SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _tiny_folder(root: str, per_class: int = 12):
  rng = np.random.default_rng(0)
  for split in ('train', 'test'):
    for c, name in enumerate(('cat', 'dog', 'ship')):
      folder = os.path.join(root, split, name)
      os.makedirs(folder)
      for i in range(per_class):
        image = np.full((8, 8, 3), 40 + 80 * c, np.uint8)
        image += rng.integers(0, 20, image.shape, dtype=np.uint8)
        data = tf.io.encode_png(image).numpy()
        with open(os.path.join(folder, f'{i}.png'), 'wb') as f:
          f.write(data)


class AccuracyStudyTest(tf.test.TestCase):
  def test_cells_differ_only_where_the_method_does(self):
    study = _load_script()
    args = study.main.__globals__['argparse'].Namespace(
      network_name='tiny',
      batch_size=8,
      train_steps=10,
      eval_every_steps=5,
      probe_per_class=2,
      learning_rate=0.05,
      seed=1,
      pretrain_steps=7,
    )
    clean = study.method_flags('clean', 'uniform_0.8', args)
    # absl keeps the last value of a repeated flag: clean labels win.
    self.assertEqual(clean[-1], '--noise_type=none')
    self.assertIn(
      '--pretrain_steps=7', study.method_flags('ieg_c2d', 'uniform_0.8', args)
    )
    reference = study.method_flags('ieg_reference', 'uniform_0.8', args)
    self.assertEqual(
      reference[-2:], ['--method=ieg', '--mixup_confidence_threshold=0']
    )
    for cell, method in (('l2r_confidence', 'l2r'), ('ieg_confidence', 'ieg')):
      self.assertEqual(
        study.method_flags(cell, 'uniform_0.8', args)[-2:],
        [f'--method={method}', '--weight_confidence_mix=1'],
      )
    asym = study.method_flags('gce', 'asymmetric_0.4', args)
    self.assertIn('--noise_type=asymmetric', asym)
    self.assertIn('--noise_ratio=0.4', asym)
    self.assertIn('--method=gce', asym)

  def test_reads_eval_lines_and_formats_the_table(self):
    study = _load_script()
    workdir = self.create_tempdir().full_path
    with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
      for row in (
        {'step': 5, 'loss/total': 1.0},
        {'step': 5, 'eval/top1': 0.5, 'eval/top1_raw': 0.4},
        {'step': 10, 'eval/top1': 0.75, 'eval/top1_raw': 0.7},
        {'step': 10, 'eval/top1': 0.1, 'mode': 'eval'},
      ):
        f.write(json.dumps(row) + '\n')
    rows = study.eval_rows(workdir)
    self.assertEqual([r['step'] for r in rows], [5, 10])
    table = {('uniform_0.8', 'ieg'): rows}
    text = study.markdown(table, ['uniform_0.8'], ['ieg', 'gce'])
    self.assertIn('| ieg | 0.7500 |', text)
    self.assertIn('| gce | - |', text)

  def test_one_real_cell_on_a_tiny_folder(self):
    study = _load_script()
    root = self.create_tempdir().full_path
    data = os.path.join(root, 'data')
    _tiny_folder(data)
    out = os.path.join(root, 'out')
    cwd = os.getcwd()
    os.chdir(_ROOT)
    try:
      study.main(
        [
          f'--data={data}',
          f'--out={out}',
          '--settings=uniform_0.8',
          '--methods=supervised',
          '--batch_size=8',
          '--train_steps=4',
          '--eval_every_steps=2',
          '--probe_per_class=2',
        ]
      )
    finally:
      os.chdir(cwd)
    with open(os.path.join(out, 'study.csv')) as f:
      lines = f.read().splitlines()
    self.assertEqual(lines[0], 'setting,method,step,eval/top1,eval/top1_raw')
    self.assertLen(lines, 3)  # eval at steps 2 and 4
    self.assertTrue(os.path.exists(os.path.join(out, 'study.png')))


if __name__ == '__main__':
  tf.test.main()
