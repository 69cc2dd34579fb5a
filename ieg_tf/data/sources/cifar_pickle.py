"""A restricted unpickler for the CIFAR "python version" files.

A pickle can name any importable callable and make the loader call it, so an
ordinary `pickle.load` of a downloaded file can run arbitrary code. The CIFAR
batches hold only a dict of bytes, lists, ints and uint8 numpy arrays; the
only globals such a file needs are the three numpy functions that rebuild an
array. `find_class` returns exactly those and refuses every other name.
"""

import io
import pickle

import numpy as np

from ieg_tf.errors import UserError


def _reconstruct():
  try:  # numpy >= 2 moved the module; old pickles still name the old one.
    from numpy._core import multiarray
  except ImportError:  # numpy 1.x
    from numpy.core import multiarray
  return multiarray._reconstruct


_ALLOWED = {
  ('numpy.core.multiarray', '_reconstruct'): _reconstruct(),
  ('numpy._core.multiarray', '_reconstruct'): _reconstruct(),
  ('numpy', 'ndarray'): np.ndarray,
  ('numpy', 'dtype'): np.dtype,
}
# The names any numpy-array pickle needs; torch_pickle builds on them.
ALLOWED_GLOBALS = dict(_ALLOWED)


class _RestrictedUnpickler(pickle.Unpickler):
  """Resolves only the names in `_ALLOWED`; anything else is an error."""

  def find_class(self, module, name):
    try:
      return _ALLOWED[(module, name)]
    except KeyError:
      raise pickle.UnpicklingError(
        f'refusing to load global {module}.{name}'
      ) from None


def load_pickle(data: bytes, path: str):
  """Unpickles a CIFAR batch file without running foreign code (host).

  Args:
    data: the file contents (a Python 2 or 3 pickle).
    path: file name for error messages.

  Returns:
    The unpickled object (the caller checks it is the expected dict). Python 2
    strings come back as bytes, the documented way to read these files.

  Raises:
    UserError: the pickle names a forbidden global or is malformed.
  """
  try:
    return _RestrictedUnpickler(io.BytesIO(data), encoding='bytes').load()
  except Exception as e:  # Malformed pickles raise many kinds of errors.
    raise UserError(
      f'{path}: not a CIFAR python batch that is safe to read ({e}); use the '
      'official CIFAR files (python or binary version)'
    ) from None
