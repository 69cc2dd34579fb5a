"""The run directory: created once, never wiped (resume relies on it)."""

import os

import tensorflow as tf

from ieg_tf.errors import UserError


def prepare(workdir: str) -> str:
  """Creates `workdir` (local or gs://) if needed and returns it.

  Raises:
    UserError: it cannot be created or is a file.
  """
  if not workdir:
    raise UserError('--workdir must not be empty.')
  try:
    if tf.io.gfile.exists(workdir) and not tf.io.gfile.isdir(workdir):
      raise UserError(f'--workdir={workdir} is a file, not a directory.')
    tf.io.gfile.makedirs(workdir)
  except tf.errors.OpError as e:
    raise UserError(f'cannot create --workdir={workdir}: {e.message}') from None
  return workdir


def write_text(workdir: str, name: str, text: str):
  """Writes <workdir>/<name> atomically enough for a single writer."""
  path = os.path.join(workdir, name)
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    f.write(text)
  tf.io.gfile.rename(tmp, path, overwrite=True)
