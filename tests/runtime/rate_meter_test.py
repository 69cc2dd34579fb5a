"""RateMeter with a fake clock: every chunk counts, pauses do not."""

import unittest

from ieg_tf.runtime import rate_meter


class FakeClock:
  def __init__(self):
    self.now = 100.0

  def __call__(self):
    return self.now


class RateMeterTest(unittest.TestCase):
  def test_counts_every_chunk_and_skips_pauses(self):
    clock = FakeClock()
    meter = rate_meter.RateMeter(0, clock)
    step = 0
    # A log interval of 4 chunks of 10 steps, 1 s each, with a 5 s eval
    # between chunks 2 and 3: 40 steps in 4 s of training.
    for chunk in range(4):
      clock.now += 1.0
      step += 10
      if chunk == 1:
        meter.pause()
        clock.now += 5.0
        meter.resume()
    self.assertAlmostEqual(meter.rate(step), 10.0)
    # The next interval starts where this one ended.
    clock.now += 2.0
    self.assertAlmostEqual(meter.rate(step + 10), 5.0)

  def test_resume_without_pause_is_a_no_op(self):
    clock = FakeClock()
    meter = rate_meter.RateMeter(7, clock)
    meter.resume()
    clock.now += 4.0
    self.assertAlmostEqual(meter.rate(15), 2.0)


if __name__ == '__main__':
  unittest.main()
