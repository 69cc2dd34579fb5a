"""runtime/stage_lines.py: one line per stage, what it did and its numbers."""

import unittest

from ieg_tf.runtime import stage_lines


class PretrainLineTest(unittest.TestCase):
  def test_a_stage_that_ran(self):
    line = stage_lines.pretrain_line(
      {
        'init': 'pretrain',
        'step': 270,
        'steps_run': 270,
        'seconds': 41.6,
        'pretrain/loss': 4.123456,
        'pretrain/linear_probe_top1': 0.9,
        'pretrain/linear_probe_labels': 'clean',
      },
      train_images=1347,
      batch_size=500,
    )
    # 270 x 500 / 1347 = 100.22 epochs.
    self.assertEqual(
      line,
      'stage pretrain: 270 steps (100.2 epochs of 1347 images) in 42 s: '
      'pretrain/loss=4.1235 pretrain/linear_probe_top1=0.9000',
    )

  def test_resumed_complete_and_skipped_stages(self):
    resumed = stage_lines.pretrain_line(
      {'init': 'pretrain', 'step': 10, 'steps_run': 4, 'seconds': 3.0}, 80, 8
    )
    self.assertEqual(
      resumed,
      'stage pretrain: 10 steps (1.0 epochs of 80 images), resumed at step 6 '
      'in 3 s',
    )
    complete = stage_lines.pretrain_line(
      {'init': 'pretrain', 'step': 10, 'steps_run': 0, 'seconds': 0.1}, 80, 8
    )
    self.assertEqual(
      complete,
      'stage pretrain: complete in the workdir, 10 steps (1.0 epochs of 80 '
      'images); skipped',
    )
    self.assertEqual(
      stage_lines.pretrain_line({'init': 'random'}, 80, 8),
      'stage pretrain: off (--pretrain_epochs=0); random init',
    )
    self.assertEqual(
      stage_lines.pretrain_line(
        {'init': 'checkpoint', 'source': '/p/ckpt-3'}, 1, 1
      ),
      'stage pretrain: skipped, encoder from --init_checkpoint /p/ckpt-3',
    )
    self.assertIn(
      'training resumes from /w/ckpt-9',
      stage_lines.pretrain_line(
        {'init': 'resume', 'source': '/w/ckpt-9'}, 1, 1
      ),
    )


class TrainLineTest(unittest.TestCase):
  def test_eval_and_the_methods_last_diagnostics(self):
    line = stage_lines.train_line(
      'ieg',
      {'step': 1000, 'eval/top1': 0.95, 'eval/top5': 1.0},
      80.4,
      {'loss/total': 2.0, 'relabel/replaced_fraction': 0.5, 'step': 1000},
    )
    self.assertEqual(
      line,
      'stage train: ieg to step 1000 in 80 s: eval/top1=0.9500 '
      'relabel/replaced_fraction=0.5000',
    )
    self.assertEqual(
      stage_lines.train_line('supervised', {'step': 4}, 1.0, None),
      'stage train: supervised to step 4 in 1 s',
    )


if __name__ == '__main__':
  unittest.main()
