"""scripts/study_cells.py: wall clock, diagnostics window, rows, CSV."""

import csv
import importlib.util
import json
import os
import tempfile
import unittest

_SCRIPT = os.path.join(
  os.path.dirname(__file__), '..', '..', 'scripts', 'study_cells.py'
)


def _load():
  spec = importlib.util.spec_from_file_location('study_cells', _SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _write_metrics(workdir, rows):
  with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
    for row in rows:
      f.write(json.dumps(row) + '\n')


class StudyCellsTest(unittest.TestCase):
  def setUp(self):
    super().setUp()
    self.cells = _load()
    self.workdir = self.enterContext(tempfile.TemporaryDirectory())

  def test_wall_clock_sums_invocations(self):
    self.assertEqual(self.cells.wall_clock_seconds(self.workdir), 0.0)
    self.cells.add_wall_clock(self.workdir, 30.0)
    self.cells.add_wall_clock(self.workdir, 12.5)
    self.assertAlmostEqual(self.cells.wall_clock_seconds(self.workdir), 42.5)

  def test_diagnostics_average_the_last_fifth_weighted_by_replacements(self):
    rows = [
      # Before the window (step <= 80 of 100): must not count.
      {
        'step': 80,
        'relabel/replaced_fraction': 0.9,
        'relabel/replacement_accuracy': 0.0,
        'evidence/noise_rate': 0.9,
      },
      {
        'step': 90,
        'relabel/replaced_fraction': 0.3,
        'relabel/replacement_accuracy': 0.8,
        'relabel/replaced_label_accuracy': 0.1,
        'evidence/noise_rate': 0.2,
      },
      {
        'step': 100,
        'relabel/replaced_fraction': 0.1,
        'relabel/replacement_accuracy': 0.4,
        'relabel/replaced_label_accuracy': 0.5,
        'evidence/noise_rate': 0.4,
      },
    ]
    out = self.cells.diagnostics(rows, train_steps=100)
    self.assertAlmostEqual(out['replaced'], 0.2)
    self.assertAlmostEqual(out['est_noise'], 0.3)
    # (0.3 * 0.8 + 0.1 * 0.4) / 0.4 and (0.3 * 0.1 + 0.1 * 0.5) / 0.4.
    self.assertAlmostEqual(out['replacement_acc'], 0.7)
    self.assertAlmostEqual(out['replaced_label_acc'], 0.2)
    self.assertNotIn('gate_open', out)

  def test_weighted_columns_are_absent_when_nothing_was_replaced(self):
    rows = [
      {
        'step': 10,
        'relabel/replaced_fraction': 0.0,
        'relabel/replacement_accuracy': 0.0,
      }
    ]
    out = self.cells.diagnostics(rows, train_steps=10)
    self.assertEqual(out, {'replaced': 0.0})

  def test_cell_row_reads_the_workdir_and_the_csv_round_trips(self):
    _write_metrics(
      self.workdir,
      [
        {'step': 10, 'loss/total': 1.0, 'relabel/replaced_fraction': 0.25},
        {'step': 10, 'eval/top1': 0.5},
      ],
    )
    self.cells.add_wall_clock(self.workdir, 90.0)
    self.assertIsNone(
      self.cells.cell_row(self.workdir, 'none_0', 'ieg', 0, 10, [])
    )
    row = self.cells.cell_row(
      self.workdir,
      'none_0',
      'ieg',
      0,
      10,
      [{'step': 5, 'eval/top1': 0.2}, {'step': 10, 'eval/top1': 0.5}],
    )
    self.assertEqual(row['top1'], 0.5)
    self.assertEqual(row['step'], 10)
    self.assertAlmostEqual(row['minutes'], 1.5)
    self.assertAlmostEqual(row['replaced'], 0.25)
    path = os.path.join(self.workdir, 'cells.csv')
    self.cells.write_cells(path, [row])
    with open(path) as f:
      read = list(csv.DictReader(f))
    self.assertEqual(len(read), 1)
    self.assertEqual(read[0]['method'], 'ieg')
    self.assertEqual(read[0]['replaced'], '0.25')
    self.assertEqual(read[0]['est_noise'], '')
    table = self.cells.cells_markdown([row])
    self.assertIn('| none_0 | ieg | 0 | 10 | 0.5000 | 1.5 | 0.2500 |', table)


if __name__ == '__main__':
  unittest.main()
