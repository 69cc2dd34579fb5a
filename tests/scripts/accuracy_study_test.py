"""scripts/accuracy_study.py: flags per cell, result parsing, one tiny run."""

import dataclasses
import importlib.util
import json
import os

from absl import flags
import numpy as np
import tensorflow as tf

from ieg_tf import config as config_lib
from ieg_tf import options

FLAGS = flags.FLAGS

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


def _run_study(study, *flags):
  """Runs the study's main from the repository root (cells import ieg_tf)."""
  cwd = os.getcwd()
  os.chdir(_ROOT)
  try:
    study.main(list(flags))
  finally:
    os.chdir(cwd)


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
      pretrain_batch_size=16,
      pretrain_learning_rate=1.0,
      linear_probe_examples=30,
      precise_bn_batches=50,
      out='/study',
    )

    def cfg(cell, setting='uniform_0.8'):
      """The Config `python -m ieg_tf.main` builds from the cell's flags."""
      FLAGS.unparse_flags()
      FLAGS(['ieg_tf', *study.method_flags(cell, setting, args)])
      return options.config_from_flags()

    def changed(a, b):
      """Names of the fields where two configs differ."""
      out = set()
      for section in dataclasses.fields(a):
        x, y = getattr(a, section.name), getattr(b, section.name)
        for f in dataclasses.fields(x):
          if getattr(x, f.name) != getattr(y, f.name):
            out.add(f.name)
      return out

    try:
      ieg, sup = cfg('ieg'), cfg('supervised')
      self.assertEqual(ieg.method.method, config_lib.Method.IEG)
      self.assertEqual(sup.method.method, config_lib.Method.SUPERVISED)
      self.assertEqual(changed(sup, ieg), {'method'})
      # Clean labels win over the setting's noise.
      self.assertEqual(changed(sup, cfg('clean')), {'noise_type'})
      self.assertEqual(cfg('clean').data.noise_type, config_lib.NoiseType.NONE)
      # The `_c2d` cells differ from their base cell only by the encoder.
      for cell, base in (('ieg_c2d', 'ieg'), ('supervised_c2d', 'supervised')):
        c2d = cfg(cell)
        self.assertEqual(changed(cfg(base), c2d), {'init_checkpoint'})
        self.assertEqual(c2d.run.init_checkpoint, '/study/pretrain')
      vote = cfg('ieg_c2d_vote')
      self.assertEqual(
        changed(cfg('ieg_c2d'), vote),
        {'label_vote_neighbors', 'weight_source'},
      )
      self.assertEqual(vote.ieg.label_vote_neighbors, 500)
      for cell, base in (('l2r_confidence', 'l2r'), ('ieg_confidence', 'ieg')):
        self.assertEqual(changed(cfg(base), cfg(cell)), {'weight_source'})
      self.assertEqual(changed(sup, cfg('gce')), {'method'})
      self.assertEqual(
        cfg('probe_only').method.method, config_lib.Method.PROBE_ONLY
      )
      asym = cfg('gce', 'asymmetric_0.4')
      self.assertEqual(asym.data.noise_type, config_lib.NoiseType.ASYMMETRIC)
      self.assertEqual(asym.data.noise_ratio, 0.4)
      # Every cell is a random init unless it names the encoder.
      for cell in study.METHODS:
        self.assertEqual(cfg(cell).pretrain.pretrain_epochs, 0.0, cell)
    finally:
      FLAGS.unparse_flags()
      FLAGS.mark_as_parsed()
    pretrain = study.pretrain_flags('asymmetric_0.4', args)
    for flag in (
      '--mode=pretrain',
      '--pretrain_steps=7',
      '--pretrain_batch_size=16',
      '--noise_type=asymmetric',
      '--linear_probe_examples=30',
    ):
      self.assertIn(flag, pretrain)

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
    short = study.markdown(table, ['uniform_0.8'], ['ieg'], train_steps=20)
    self.assertIn('| ieg | 0.7500 (step 10) |', short)

  def test_one_real_cell_on_a_tiny_folder(self):
    study = _load_script()
    root = self.create_tempdir().full_path
    data = os.path.join(root, 'data')
    _tiny_folder(data)
    out = os.path.join(root, 'out')
    _run_study(
      study,
      f'--data={data}',
      f'--out={out}',
      '--settings=uniform_0.8',
      '--methods=supervised,supervised_c2d',
      '--batch_size=8',
      '--train_steps=4',
      '--eval_every_steps=2',
      '--probe_per_class=2',
      '--pretrain_steps=3',
      '--pretrain_batch_size=8',
      '--linear_probe_examples=24',
    )
    with open(os.path.join(out, 'study.csv')) as f:
      lines = f.read().splitlines()
    self.assertEqual(lines[0], 'setting,method,step,eval/top1,eval/top1_raw')
    self.assertLen(lines, 5)  # two cells, eval at steps 2 and 4
    # A later invocation for one cell (finished: nothing runs) still writes
    # every finished cell of the out dir.
    os.remove(os.path.join(out, 'study.csv'))
    study.main(
      [
        f'--data={data}',
        f'--out={out}',
        '--settings=uniform_0.8',
        '--methods=supervised',
        '--train_steps=4',
      ]
    )
    with open(os.path.join(out, 'study.csv')) as f:
      self.assertLen(f.read().splitlines(), 5)
    self.assertTrue(os.path.exists(os.path.join(out, 'study.png')))
    summary = study.pretrain_summary(os.path.join(out, 'pretrain'))
    self.assertEqual(summary['step'], 3)
    self.assertBetween(summary['pretrain/linear_probe_top1'], 0.0, 1.0)
    with open(
      os.path.join(out, 'uniform_0.8', 'supervised_c2d', 'flags.cfg')
    ) as f:
      self.assertIn(
        '--init_checkpoint=' + os.path.join(out, 'pretrain'), f.read()
      )

  def test_digits_cells_need_no_folder(self):
    study = _load_script()
    out = self.create_tempdir().full_path
    self.assertEqual(study.data_flags('digits', out), ['--dataset=digits'])
    with self.assertRaises(SystemExit):
      study.data_flags(os.path.join(out, 'missing.tar'), out)
    _run_study(
      study,
      '--data=digits',
      f'--out={out}',
      '--settings=uniform_0.8',
      '--methods=supervised',
      '--batch_size=16',
      '--train_steps=4',
      '--eval_every_steps=4',
      '--probe_per_class=2',
      '--precise_bn_batches=2',
    )
    with open(os.path.join(out, 'uniform_0.8', 'supervised', 'flags.cfg')) as f:
      self.assertIn('--dataset=digits', f.read())
    with open(os.path.join(out, 'study.csv')) as f:
      self.assertLen(f.read().splitlines(), 2)

  def test_noise_free_cells_run_once(self):
    study = _load_script()
    root = self.create_tempdir().full_path
    data = os.path.join(root, 'data')
    _tiny_folder(data)
    out = os.path.join(root, 'out')
    _run_study(
      study,
      f'--data={data}',
      f'--out={out}',
      '--settings=uniform_0.8,uniform_0.4',
      '--methods=clean,supervised',
      '--batch_size=8',
      '--train_steps=2',
      '--eval_every_steps=2',
      '--probe_per_class=2',
      '--precise_bn_batches=2',
    )
    self.assertTrue(os.path.isdir(os.path.join(out, 'uniform_0.8', 'clean')))
    self.assertFalse(os.path.exists(os.path.join(out, 'uniform_0.4', 'clean')))
    self.assertTrue(
      os.path.isdir(os.path.join(out, 'uniform_0.4', 'supervised'))
    )
    with open(os.path.join(out, 'study.csv')) as f:
      rows = [line.split(',') for line in f.read().splitlines()[1:]]
    clean = {r[0]: r[3] for r in rows if r[1] == 'clean'}
    self.assertEqual(set(clean), {'uniform_0.8', 'uniform_0.4'})
    self.assertEqual(clean['uniform_0.8'], clean['uniform_0.4'])
    with open(os.path.join(out, 'uniform_0.8', 'clean', 'flags.cfg')) as f:
      self.assertIn('--precise_bn_batches=2', f.read())

  def test_results_keep_the_cells_of_earlier_settings(self):
    study = _load_script()
    out = self.create_tempdir().full_path
    # Finished cells of two settings, and a stage dir with no eval line.
    for setting, top1 in (('uniform_0.8', 0.5), ('asymmetric_0.4', 0.6)):
      workdir = os.path.join(out, setting, 'supervised')
      os.makedirs(workdir)
      with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
        f.write(json.dumps({'step': 4, 'eval/top1': top1}) + '\n')
    os.makedirs(os.path.join(out, 'pretrain'))
    # Only the second setting asked for: the first stays in the results.
    _run_study(
      study,
      '--data=digits',
      f'--out={out}',
      '--settings=asymmetric_0.4',
      '--methods=supervised',
      '--train_steps=4',
    )
    with open(os.path.join(out, 'cells.csv')) as f:
      rows = [line.split(',')[:5] for line in f.read().splitlines()[1:]]
    self.assertEqual(
      rows,
      [
        ['asymmetric_0.4', 'supervised', '1', '4', '0.6'],
        ['uniform_0.8', 'supervised', '1', '4', '0.5'],
      ],
    )

  def test_pretrain_summary_merges_the_stage_rows(self):
    study = _load_script()
    workdir = self.create_tempdir().full_path
    self.assertEqual(study.pretrain_summary(workdir), {})
    with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
      for row in (
        {'step': 5, 'pretrain/loss': 3.0},
        {'step': 10, 'pretrain/loss': 2.0},
        {'step': 10, 'pretrain/linear_probe_top1': 0.4},
        {'step': 12, 'eval/top1': 0.3},
      ):
        f.write(json.dumps(row) + '\n')
    self.assertEqual(
      study.pretrain_summary(workdir),
      {'step': 10, 'pretrain/loss': 2.0, 'pretrain/linear_probe_top1': 0.4},
    )


if __name__ == '__main__':
  tf.test.main()
