"""scripts/merge_study_seeds.py: cells and curves of several seeds, means."""

import contextlib
import csv
import importlib.util
import io
import json
import os
import tempfile
import unittest

_SCRIPT = os.path.join(
  os.path.dirname(__file__), '..', '..', 'scripts', 'merge_study_seeds.py'
)


def _load():
  spec = importlib.util.spec_from_file_location('merge_study_seeds', _SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _study(out, seed, cells):
  """A fake study output: cells {(setting, method): [(step, top1)]}."""
  rows = []
  for (setting, method), curve in cells.items():
    workdir = os.path.join(out, setting, method)
    os.makedirs(workdir)
    with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
      for step, top1 in curve:
        f.write(json.dumps({'step': step, 'loss/total': 1.0}) + '\n')
        f.write(json.dumps({'step': step, 'eval/top1': top1}) + '\n')
      # A standalone --mode=eval line is not part of the curve.
      f.write(json.dumps({'step': 0, 'eval/top1': 0.0, 'mode': 'eval'}) + '\n')
    rows.append(
      {
        'setting': setting,
        'method': method,
        'seed': seed,
        'step': curve[-1][0],
        'top1': curve[-1][1],
        'minutes': 1.5 + seed,
      }
    )
  with open(os.path.join(out, 'cells.csv'), 'w', newline='') as f:
    writer = csv.DictWriter(
      f, fieldnames=['setting', 'method', 'seed', 'step', 'top1', 'minutes']
    )
    writer.writeheader()
    writer.writerows(rows)


class MergeStudySeedsTest(unittest.TestCase):
  def setUp(self):
    super().setUp()
    self.m = _load()
    self.tmp = self.enterContext(tempfile.TemporaryDirectory())
    self.s0 = os.path.join(self.tmp, 's0')
    self.s1 = os.path.join(self.tmp, 's1')
    _study(
      self.s0,
      0,
      {
        ('u', 'ieg'): [(250, 0.2), (500, 0.4)],
        ('u', 'supervised'): [(250, 0.3), (500, 0.5)],
      },
    )
    # Seed 1's ieg stopped at step 250: its mean covers step 250 only.
    _study(
      self.s1,
      1,
      {
        ('u', 'ieg'): [(250, 0.4)],
        ('u', 'supervised'): [(250, 0.1), (500, 0.7)],
      },
    )

  def _main(self, *args):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
      code = self.m.main(list(args))
    return code, stdout.getvalue(), stderr.getvalue()

  def test_means_over_the_steps_every_seed_has(self):
    cells, curves = self.m.merge([self.s0, self.s1])
    self.assertEqual(len(cells), 4)
    self.assertEqual(curves[('u', 'ieg', 0)], [(250, 0.2), (500, 0.4)])
    means = self.m.mean_curves(curves)
    self.assertEqual(len(means[('u', 'ieg')]), 1)
    step, mean, seeds = means[('u', 'ieg')][0]
    self.assertEqual((step, seeds), (250, 2))
    self.assertAlmostEqual(mean, 0.3)
    self.assertAlmostEqual(means[('u', 'supervised')][1][1], 0.6)

  def test_writes_cells_curves_and_prints_the_tables(self):
    prefix = os.path.join(self.tmp, 'results', 'study')
    code, out, _ = self._main(f'--prefix={prefix}', self.s0, self.s1)
    self.assertEqual(code, 0)
    with open(prefix + '_cells.csv') as f:
      cells = list(csv.DictReader(f))
    self.assertEqual([c['seed'] for c in cells], ['0', '0', '1', '1'])
    with open(prefix + '_curves.csv') as f:
      curves = list(csv.DictReader(f))
    self.assertEqual(len(curves), 7)
    if importlib.util.find_spec('matplotlib') is not None:
      self.assertGreater(os.path.getsize(prefix + '_curves.png'), 0)
    self.assertNotIn('0.0', [c['top1'] for c in curves])
    # Final top-1 per seed, minutes, and the mean of the finals.
    self.assertIn(
      '| u | supervised | 0.5000 / 0.7000 | 1.5 / 2.5 | 0.6000 |', out
    )
    self.assertIn('| u | ieg | 0.4000 / 0.4000 | 1.5 / 2.5 | 0.4000 |', out)
    # The mean curve: ieg has no step-500 mean (seed 1 never got there).
    self.assertIn('| u | ieg | 0.3000 | - |', out)
    self.assertIn('| u | supervised | 0.2000 | 0.6000 |', out)

  def test_the_same_cell_twice_is_one_line_and_exit_2(self):
    code, _, err = self._main(f'--prefix={self.tmp}/x', self.s0, self.s0)
    self.assertEqual(code, 2)
    self.assertIn('u/ieg/0 is in both', err)
    self.assertEqual(len(err.strip().splitlines()), 1)

  def test_a_dir_without_cells_is_one_line_and_exit_2(self):
    code, _, err = self._main(f'--prefix={self.tmp}/x', self.tmp)
    self.assertEqual(code, 2)
    self.assertIn('not an accuracy-study output', err)


if __name__ == '__main__':
  unittest.main()
