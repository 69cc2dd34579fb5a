"""Checkpoints in <workdir>/checkpoints with automatic resume.

The checkpoint holds the model, the optimizer (momentum slots, step counter,
non-finite counters), the EMA shadows and whatever else the trainer tracks;
the step counter is the optimizer's. Non-chief workers of a multi-worker job
save to a scratch directory (all workers must take part in a save) which is
then deleted.

Robustness:
- restore tries the checkpoints newest first and falls back to an older one
  (with a warning) when a file is truncated or corrupt, e.g. after a kill
  during a save; the checkpoint list comes from the manager's state file AND
  the `ckpt-<step>.index` files on disk, so a broken state file loses nothing;
- save refuses (UserError) to write non-finite guarded variables, so a
  checkpoint never holds NaN weights.
"""

import os
import re
import shutil
import tempfile

from absl import logging
import numpy as np
import tensorflow as tf

from ieg_tf.errors import UserError

_CKPT_INDEX = re.compile(r'^ckpt-(\d+)\.index$')
# The remedy for non-finite training weights (the classifier's run).
NONFINITE_HINT = 'Lower --learning_rate or pass --skip_nonfinite.'


def _one_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  return (text[0] if text else type(error).__name__)[:200]


class Checkpointer:
  """Saves and restores the training state (host context)."""

  def __init__(
    self,
    workdir: str,
    *,
    is_chief: bool = True,
    max_to_keep: int = 3,
    guard=(),
    nonfinite_hint: str = NONFINITE_HINT,
    **trackables,
  ):
    """Args:
    workdir: run directory.
    is_chief: whether this worker owns the real checkpoint directory.
    max_to_keep: checkpoints kept on disk.
    guard: variables that must be finite for a save (weights, slots, EMA).
    nonfinite_hint: the remedy sentence of the refused-save error.
    **trackables: objects to save (model=..., optimizer=..., ema=...).
    """
    self.directory = os.path.join(workdir, 'checkpoints')
    self._is_chief = is_chief
    self._guard = list(guard)
    self._nonfinite_hint = nonfinite_hint
    self._trackables = dict(trackables)
    self._checkpoint = tf.train.Checkpoint(**trackables)
    directory = self.directory
    if not is_chief:
      directory = tempfile.mkdtemp(prefix='ieg_tf_worker_ckpt_')
    self._manager = tf.train.CheckpointManager(
      self._checkpoint, directory, max_to_keep=max_to_keep
    )

  def candidates(self) -> list:
    """Checkpoint prefixes on disk, newest (highest step) first."""
    found = {}
    if tf.io.gfile.isdir(self.directory):
      for name in tf.io.gfile.listdir(self.directory):
        m = _CKPT_INDEX.match(name)
        if m:
          found[int(m.group(1))] = os.path.join(self.directory, f'ckpt-{m[1]}')
    return [found[k] for k in sorted(found, reverse=True)]

  @property
  def latest(self) -> str | None:
    """The newest checkpoint prefix on disk (readable or not), or None."""
    paths = self.candidates()
    return paths[0] if paths else None

  def _restore(self, path: str, required):
    if required is None:
      self._checkpoint.restore(path).assert_existing_objects_matched()
      return
    # Everything that matches is restored; only `required` must match.
    self._checkpoint.restore(path).expect_partial()
    must = {k: v for k, v in self._trackables.items() if k in required}
    tf.train.Checkpoint(**must).restore(
      path
    ).assert_existing_objects_matched().expect_partial()

  def restore_latest(self, required=None) -> str | None:
    """Restores the newest readable checkpoint of the chief's directory.

    A checkpoint that fails to restore (truncated or corrupt files) is
    skipped with a warning and the previous one is tried.

    Args:
      required: None: every tracked object must be in the checkpoint (resume
        of training). Else the names (e.g. ('model', 'ema')) that must be;
        the others are restored when present (evaluation of a checkpoint
        written with other method flags).

    Returns:
      The path restored, or None for a fresh start (no checkpoint at all).

    Raises:
      UserError: checkpoints exist but none can be restored.
    """
    paths = self.candidates()
    errors = []
    for path in paths:
      try:
        self._restore(path, required)
      except Exception as e:  # noqa: BLE001 - every failure means "skip it"
        errors.append((path, e))
        logging.warning(
          'checkpoint %s cannot be restored (%s: %s); falling back to the '
          'previous one',
          path,
          type(e).__name__,
          _one_line(e),
        )
        continue
      if errors:
        logging.warning(
          'Restored %s after skipping %d unreadable newer checkpoint(s): %s',
          path,
          len(errors),
          ', '.join(os.path.basename(p) for p, _ in errors),
        )
      else:
        logging.info('Restored %s', path)
      return path
    if not errors:
      return None
    path, error = errors[0]
    if all(isinstance(e, AssertionError) for _, e in errors):
      raise UserError(
        f'the checkpoints in {self.directory} do not match this model '
        f'({_one_line(error)}); a --workdir belongs to one configuration: '
        'rerun with the flags in its flags.cfg or use a new --workdir.'
      )
    raise UserError(
      f'none of the {len(errors)} checkpoint(s) in {self.directory} can be '
      f'restored (newest {os.path.basename(path)}: {type(error).__name__}: '
      f'{_one_line(error)}); move that directory aside to start over.'
    )

  def check_finite(self) -> str | None:
    """Name of the first guarded variable holding NaN/inf, or None (host)."""
    for var in self._guard:
      value = np.asarray(var.numpy())
      if value.dtype.kind == 'f' and not np.isfinite(value).all():
        return getattr(var, 'path', None) or var.name
    return None

  def save(self, step: int) -> str:
    """Saves at `step`; every worker must call it (collective).

    Raises:
      UserError: a guarded variable is not finite (nothing is written; the
        previous checkpoints stay).
    """
    bad = self.check_finite()
    if bad is not None:
      raise UserError(
        f'refusing to checkpoint non-finite weights at step {step} '
        f'(variable {bad}); the last good checkpoint in {self.directory} '
        f'is kept. {self._nonfinite_hint}'
      )
    path = self._manager.save(checkpoint_number=int(step))
    if not self._is_chief:
      shutil.rmtree(self._manager.directory, ignore_errors=True)
    return path
