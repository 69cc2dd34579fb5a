"""The run directory: created once, never wiped (resume relies on it).

Nothing a previous run (or the user) left in it is deleted or overwritten:
`write_text` keeps a differing older version as `<name>.1`, `<name>.2`, ...
"""

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


def _free_backup_name(path: str) -> str:
  n = 1
  while tf.io.gfile.exists(f'{path}.{n}'):
    n += 1
  return f'{path}.{n}'


def write_text(workdir: str, name: str, text: str):
  """Writes <workdir>/<name> atomically enough for a single writer.

  An existing file with other content is first renamed to the next free
  `<name>.<n>` (e.g. the flags.cfg of the previous invocation), so a rerun
  with other flags, or a mistyped one that then fails, loses nothing.
  """
  path = os.path.join(workdir, name)
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      if f.read() == text:
        return
    tf.io.gfile.rename(path, _free_backup_name(path))
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    f.write(text)
  tf.io.gfile.rename(tmp, path, overwrite=True)
