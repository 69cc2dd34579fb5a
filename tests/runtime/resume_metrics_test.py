"""metrics.jsonl on resume: roll back redone steps, keep other stages."""

import json
import os

import tensorflow as tf

from ieg_tf.runtime import summaries


def _write(workdir, rows, torn=''):
  with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
    for r in rows:
      f.write(json.dumps(r) + '\n')
    f.write(torn)


class RollbackTest(tf.test.TestCase):
  def test_lines_after_the_restored_step_move_aside(self):
    workdir = self.create_tempdir().full_path
    rows = [
      {'step': 50, 'pretrain/loss': 1.0},  # another stage: kept
      {'step': 10, 'loss/total': 2.0},
      {'step': 20, 'loss/total': 1.5},
      {'step': 20, 'eval/top1': 0.3},
      {'step': 30, 'loss/total': 1.2},  # after the checkpoint at 20
      {'step': 40, 'mode': 'eval', 'eval/top1': 0.4},  # --mode=eval: kept
    ]
    _write(workdir, rows, torn='{"step": 40, "loss/to')  # killed mid-write
    moved = summaries.rollback_after(workdir, 20)
    self.assertEqual(moved, 2)
    self.assertEqual(summaries.read_metrics(workdir), rows[:4] + [rows[5]])
    with open(os.path.join(workdir, summaries.ROLLED_BACK)) as f:
      aside = f.read().splitlines()
    self.assertEqual(json.loads(aside[0]), rows[4])
    self.assertEqual(aside[1], '{"step": 40, "loss/to')
    self.assertEqual(summaries.last_eval(workdir), rows[3])

  def test_nothing_to_roll_back_leaves_the_file_alone(self):
    workdir = self.create_tempdir().full_path
    self.assertEqual(summaries.rollback_after(workdir, 0), 0)
    _write(workdir, [{'step': 5, 'loss/total': 1.0}])
    before = os.stat(os.path.join(workdir, 'metrics.jsonl')).st_mtime_ns
    self.assertEqual(summaries.rollback_after(workdir, 5), 0)
    after = os.stat(os.path.join(workdir, 'metrics.jsonl')).st_mtime_ns
    self.assertEqual(before, after)
    self.assertFalse(
      os.path.exists(os.path.join(workdir, summaries.ROLLED_BACK))
    )


class MetricWindowTest(tf.test.TestCase):
  def test_weighted_mean_over_chunks_survives_a_checkpoint(self):
    window = summaries.MetricWindow(['loss', 'acc'])
    window.add({'loss': 2.0, 'acc': 0.5}, 3)
    path = tf.train.Checkpoint(w=window).write(
      os.path.join(self.create_tempdir().full_path, 'w')
    )
    restored = summaries.MetricWindow(['loss', 'acc'])
    tf.train.Checkpoint(w=restored).read(path).assert_consumed()
    restored.add({'loss': 1.0, 'acc': 1.0}, 1)
    restored.add({'loss': 9.0, 'acc': 0.0}, 0)  # a chunk of skipped steps
    got = restored.flush()
    self.assertAllClose(got, {'loss': 7.0 / 4, 'acc': 2.5 / 4})
    self.assertEqual(restored.flush(), {})

  def test_ratio_pools_the_interval_not_the_chunks(self):
    # Chunk 1: 2 steps replacing 50% of the examples, 10% of them right;
    # chunk 2: 2 steps replacing nothing. The interval's replacements were
    # right 10% of the time; a mean of the chunks' ratios would say 5%.
    ratios = {'right': ('right_share', 'replaced')}
    window = summaries.MetricWindow(['replaced', 'right_share'], ratios=ratios)
    window.add({'replaced': 0.5, 'right_share': 0.05}, 2)
    window.add({'replaced': 0.0, 'right_share': 0.0}, 2)
    got = window.flush()
    self.assertAllClose(got, {'replaced': 0.25, 'right': 0.1})
    window.add({'replaced': 0.0, 'right_share': 0.0}, 3)
    self.assertEqual(window.flush(), {'replaced': 0.0, 'right': 0.0})

  def test_pooled_ratios_skip_missing_shares(self):
    ratios = {'r': ('num', 'den')}
    self.assertEqual(
      summaries.pooled_ratios({'den': 0.5}, ratios), {'den': 0.5}
    )
    self.assertEqual(
      summaries.pooled_ratios({'num': 0.2, 'den': 0.5}, ratios),
      {'den': 0.5, 'r': 0.4},
    )


if __name__ == '__main__':
  tf.test.main()
