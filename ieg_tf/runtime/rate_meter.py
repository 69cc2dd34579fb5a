"""Training speed over a log interval, with eval and checkpoint time left out.

Host-side only (plain Python). Why a class: the rate must count every
training chunk of the interval, not just the last one, while the pauses
between chunks (evaluation, checkpoint writes) are subtracted.
"""

import time
from collections.abc import Callable


class RateMeter:
  """Steps per second of training since the last `rate` call.

  Usage in the loop: `rate(step)` at each log point; wrap eval / save in
  `pause()` ... `resume()`.
  """

  def __init__(self, step: int, clock: Callable[[], float] = time.time):
    """Args:
    step: the step training starts from.
    clock: seconds now (injectable for tests).
    """
    self._clock = clock
    self._start = clock()
    self._step = step
    self._paused_at = None

  def pause(self):
    """Stops the clock (before eval / checkpoint)."""
    self._paused_at = self._clock()

  def resume(self):
    """Restarts it; the paused time does not count."""
    if self._paused_at is not None:
      self._start += self._clock() - self._paused_at
      self._paused_at = None

  def rate(self, step: int) -> float:
    """Steps/s since the previous call (or the start), then restarts."""
    now = self._clock()
    rate = (step - self._step) / max(now - self._start, 1e-9)
    self._start, self._step = now, step
    return rate
