"""SIGTERM (preemption) -> end the current step, checkpoint, exit 143.

A preempted TPU VM / GPU node or `kill <pid>` sends SIGTERM and usually
allows some seconds before SIGKILL. The host is blocked inside the compiled
train chunk then, where a Python signal handler cannot run, so the C-level
wakeup fd of the `signal` module is used: a watcher thread reads it and sets
a host tf.Variable that the compiled loop checks before every step
(`train_loop.make_train_loop(stop_flag=...)`). The trainer then saves a
checkpoint and exits with `EXIT_PREEMPTED` (128 + SIGTERM, what a shell
reports for a process ended by SIGTERM): non-zero, so a retry loop or a
scheduler restarts the job, which resumes from that checkpoint.

Before the first training step of this process (restore, input and loop
set-up, tracing) nothing is unsaved, so SIGTERM exits at once with the same
code instead of waiting for the set-up to finish.
"""

import os
import signal
import sys
import threading

from absl import logging
import tensorflow as tf

EXIT_PREEMPTED = 128 + signal.SIGTERM


class PreemptionWatcher:
  """Context manager turning SIGTERM into a stop request (host, main thread).

  Attributes:
    flag: bool tf.Variable (host, not mirrored) set when SIGTERM arrives;
      pass it to the train loop as `stop_flag`.
  """

  def __init__(self, enabled: bool = True):
    """Args:
    enabled: install the handler (False: SIGTERM keeps its default action,
      e.g. for multi-worker jobs whose workers cannot agree on a step).
    """
    self._enabled = enabled
    self._requested = threading.Event()
    self._lock = threading.Lock()
    # Until `training_started`, the newest checkpoint is the whole state.
    self._exit_at_once = True
    with tf.init_scope():
      self.flag = tf.Variable(False, trainable=False, name='stop_requested')
    self._installed = False

  @property
  def requested(self) -> bool:
    """Whether SIGTERM arrived since `__enter__`."""
    return self._requested.is_set()

  def training_started(self):
    """From now on SIGTERM stops the loop and saves (call before step 1)."""
    self._exit_at_once = False

  def _on_signal(self, signum, frame):
    del frame
    self._request(signum)

  def _request(self, signum):
    # Called from the watcher thread (at once) and from the Python handler
    # (when the main thread next runs Python); only the first call acts.
    with self._lock:
      if self._requested.is_set():
        return
      self._requested.set()
    name = signal.Signals(signum).name
    if self._exit_at_once:
      print(
        f'ieg_tf: preempted ({name}) before the first training step; '
        'nothing to save (the newest checkpoint is current); rerun the same '
        'command to resume.',
        file=sys.stderr,
        flush=True,
      )
      os._exit(EXIT_PREEMPTED)  # no Python clean-up needed or wanted here
    logging.warning(
      'Received %s: stopping after the current step to save a checkpoint',
      name,
    )
    self.flag.assign(True)

  def _watch(self, read_fd: int):
    while True:
      try:
        data = os.read(read_fd, 64)
      except OSError:
        return
      if not data:  # the write end was closed by __exit__
        return
      if signal.SIGTERM in data:
        self._request(signal.SIGTERM)

  def __enter__(self):
    if not self._enabled or (
      threading.current_thread() is not threading.main_thread()
    ):
      return self
    self._old_handler = signal.signal(signal.SIGTERM, self._on_signal)
    self._read_fd, self._write_fd = os.pipe()
    os.set_blocking(self._write_fd, False)
    self._old_wakeup = signal.set_wakeup_fd(
      self._write_fd, warn_on_full_buffer=False
    )
    self._thread = threading.Thread(
      target=self._watch, args=(self._read_fd,), daemon=True
    )
    self._thread.start()
    self._installed = True
    return self

  def __exit__(self, *exc):
    if not self._installed:
      return False
    signal.set_wakeup_fd(self._old_wakeup)
    signal.signal(signal.SIGTERM, self._old_handler)
    os.close(self._write_fd)
    self._thread.join(timeout=5)
    os.close(self._read_fd)
    self._installed = False
    return False
