"""Checkpoints in <workdir>/checkpoints with automatic resume.

The checkpoint holds the model, the optimizer (momentum slots and step
counter) and the EMA shadows; the step counter is the optimizer's.
Non-chief workers of a multi-worker job save to a scratch directory (all
workers must take part in a save) which is then deleted.
"""

import os
import shutil
import tempfile

from absl import logging
import tensorflow as tf


class Checkpointer:
  """Saves and restores the training state (host context)."""

  def __init__(
    self,
    workdir: str,
    *,
    is_chief: bool = True,
    max_to_keep: int = 3,
    **trackables,
  ):
    """Args:
    workdir: run directory.
    is_chief: whether this worker owns the real checkpoint directory.
    max_to_keep: checkpoints kept on disk.
    **trackables: objects to save (model=..., optimizer=..., ema=...).
    """
    self.directory = os.path.join(workdir, 'checkpoints')
    self._is_chief = is_chief
    self._checkpoint = tf.train.Checkpoint(**trackables)
    directory = self.directory
    if not is_chief:
      directory = tempfile.mkdtemp(prefix='ieg_tf_worker_ckpt_')
    self._manager = tf.train.CheckpointManager(
      self._checkpoint, directory, max_to_keep=max_to_keep
    )

  @property
  def latest(self) -> str | None:
    return tf.train.latest_checkpoint(self.directory)

  def restore_latest(self) -> str | None:
    """Restores the newest checkpoint of the chief's directory, if any.

    Returns:
      The path restored, or None for a fresh start.
    """
    path = self.latest
    if path is None:
      return None
    self._checkpoint.restore(path).assert_existing_objects_matched()
    logging.info('Restored %s', path)
    return path

  def save(self, step: int) -> str:
    """Saves at `step`; every worker must call it (collective)."""
    path = self._manager.save(checkpoint_number=int(step))
    if not self._is_chief:
      shutil.rmtree(self._manager.directory, ignore_errors=True)
    return path
