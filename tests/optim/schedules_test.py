"""Schedules against a step-by-step Python computation of SGDR."""

import math

from absl.testing import parameterized
import tensorflow as tf

from ieg_tf.optim import schedules


def _sgdr_reference(step, base, first, t_mul, m_mul):
  """Walks the cycles one by one (independent of the closed form)."""
  start, length, peak = 0.0, float(first), base
  while step >= start + length:
    start += length
    length *= t_mul
    peak *= m_mul
  frac = (step - start) / length
  return peak * 0.5 * (1 + math.cos(math.pi * frac))


class SchedulesTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((1.5, 0.9), (1.0, 1.0), (2.0, 0.5))
  def test_cosine_restarts_matches_cycle_walk(self, t_mul, m_mul):
    for step in [0, 1, 5, 9, 10, 11, 24, 25, 26, 63, 100, 487]:
      got = schedules.cosine_restarts(step, 0.1, 10, t_mul, m_mul)
      want = _sgdr_reference(step, 0.1, 10, t_mul, m_mul)
      self.assertAllClose(got, want, atol=1e-6, msg=f'step {step}')

  def test_restart_jumps_back_to_scaled_peak(self):
    before = schedules.cosine_restarts(9, 0.1, 10, 1.5, 0.9)
    at = schedules.cosine_restarts(10, 0.1, 10, 1.5, 0.9)
    self.assertLess(float(before), 0.01)
    self.assertAllClose(at, 0.09, atol=1e-6)

  def test_warmup_ramps_linearly_then_follows_shifted_cosine(self):
    lrs = [
      float(schedules.warmup_cosine_restarts(s, 0.2, 10, warmup_steps=4))
      for s in range(8)
    ]
    self.assertAllClose(lrs[:4], [0.05, 0.1, 0.15, 0.2], atol=1e-6)
    for s in range(4, 8):
      self.assertAllClose(
        lrs[s], _sgdr_reference(s - 4, 0.2, 10, 1.5, 0.9), atol=1e-6
      )

  def test_works_inside_tf_function_with_tensor_step(self):
    fn = tf.function(
      lambda s: schedules.warmup_cosine_restarts(s, 0.1, 7, 1.5, 0.9, 3)
    )
    for s in (0, 3, 11, 30):
      self.assertAllClose(
        fn(tf.constant(s, tf.int64)),
        schedules.warmup_cosine_restarts(s, 0.1, 7, 1.5, 0.9, 3),
      )


if __name__ == '__main__':
  tf.test.main()
