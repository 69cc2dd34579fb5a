"""Reading PyTorch `.pt` files and pickled `.npy` files without torch, safely.

The CIFAR-N label files (CIFAR-10_human.pt, CIFAR-10_human.npy, ...) hold a
dict of label arrays. `torch.load` and `np.load(allow_pickle=True)` run
arbitrary pickle code; here every pickle goes through an unpickler that
resolves only the names needed to rebuild numpy arrays, numpy scalars,
OrderedDicts, protocol-2 bytes (`_codecs.encode(<str>, 'latin1')` only) and
PyTorch tensors, and refuses everything else.

Formats (PyTorch's serialization, as documented in torch/serialization.py):
  zip (torch >= 1.6 default): a zip archive with `<name>/data.pkl` (the
    pickle) and `<name>/data/<key>` (raw little-endian bytes of each tensor
    storage, named by the pickle's persistent ids
    ('storage', <torch.XStorage>, key, location, numel)).
  legacy: consecutive pickles: magic number, protocol version, system info,
    the object (persistent ids ('storage', <type>, key, location, numel,
    view)), the list of storage keys, then per key an int64 element count
    and the raw bytes.
  .npy with an object array: the NPY header (a Python literal, read with
    ast.literal_eval), then a pickle of the array.
Tensors come back as numpy arrays (dense, any strides, no autograd state).
"""

import ast
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

from ieg_tf.data.sources import cifar_pickle
from ieg_tf.errors import UserError

_STORAGE_DTYPES = {
  'DoubleStorage': np.float64,
  'FloatStorage': np.float32,
  'HalfStorage': np.float16,
  'LongStorage': np.int64,
  'IntStorage': np.int32,
  'ShortStorage': np.int16,
  'CharStorage': np.int8,
  'ByteStorage': np.uint8,
  'BoolStorage': np.bool_,
}


class _Storage:
  def __init__(self, key: str, dtype):
    self.key, self.dtype = key, np.dtype(dtype)


class _Tensor:
  """A tensor whose storage bytes are read after the pickle (legacy)."""

  def __init__(self, storage, offset, size, stride, *unused):
    del unused  # requires_grad, backward hooks, metadata.
    self.storage, self.offset = storage, int(offset)
    self.size, self.stride = tuple(size), tuple(stride)

  def to_numpy(self, raw: bytes) -> np.ndarray:
    flat = np.frombuffer(raw, self.storage.dtype)
    need = self.offset + sum(
      (n - 1) * s for n, s in zip(self.size, self.stride)
    )
    if self.size and min(self.size) > 0 and need >= len(flat):
      raise ValueError(f'tensor of size {self.size} overruns its storage')
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
      flat[self.offset :],
      shape=self.size,
      strides=[s * item for s in self.stride],
    )
    return np.array(view)


def _scalar():
  try:
    from numpy._core import multiarray
  except ImportError:  # numpy 1.x
    from numpy.core import multiarray
  return multiarray.scalar


def _latin1_encode(text, encoding='utf-8', errors='strict'):
  """Protocol-2 pickles (torch's default) store bytes as
  _codecs.encode(<str>, 'latin1'); only that use is allowed."""
  if encoding not in ('latin1', 'latin-1') or not isinstance(text, str):
    raise pickle.UnpicklingError(f'refusing _codecs.encode(..., {encoding!r})')
  return text.encode('latin1', errors)


_ALLOWED = {
  **cifar_pickle.ALLOWED_GLOBALS,
  ('_codecs', 'encode'): _latin1_encode,
  ('numpy.core.multiarray', 'scalar'): _scalar(),
  ('numpy._core.multiarray', 'scalar'): _scalar(),
  ('collections', 'OrderedDict'): collections.OrderedDict,
  ('torch._utils', '_rebuild_tensor_v2'): _Tensor,
  ('torch._utils', '_rebuild_tensor'): _Tensor,
}


class _Unpickler(pickle.Unpickler):
  def find_class(self, module, name):
    if module in ('torch', 'torch.storage') and name in _STORAGE_DTYPES:
      return name  # Only a dtype marker; never called.
    try:
      return _ALLOWED[(module, name)]
    except KeyError:
      raise pickle.UnpicklingError(
        f'refusing to load global {module}.{name}'
      ) from None

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and pid and pid[0] == 'storage'):
      raise pickle.UnpicklingError(f'unknown persistent id {pid!r}')
    kind = pid[1]
    if kind not in _STORAGE_DTYPES:
      raise pickle.UnpicklingError(f'unsupported storage type {kind!r}')
    return _Storage(str(pid[2]), _STORAGE_DTYPES[kind])


def _resolve(obj, read):
  """Replaces every _Tensor in dicts/lists/tuples by a numpy array."""
  if isinstance(obj, _Tensor):
    return obj.to_numpy(read(obj.storage))
  if isinstance(obj, dict):
    return type(obj)((k, _resolve(v, read)) for k, v in obj.items())
  if isinstance(obj, (list, tuple)):
    return type(obj)(_resolve(v, read) for v in obj)
  return obj


def _load_zip(data: bytes):
  with zipfile.ZipFile(io.BytesIO(data)) as archive:
    names = archive.namelist()
    pickles = [n for n in names if n.endswith('/data.pkl') or n == 'data.pkl']
    if len(pickles) != 1:
      raise ValueError('the archive has no single data.pkl')
    prefix = pickles[0][: -len('data.pkl')]
    obj = _Unpickler(io.BytesIO(archive.read(pickles[0]))).load()
    return _resolve(obj, lambda s: archive.read(f'{prefix}data/{s.key}'))


def _load_legacy(data: bytes):
  stream = io.BytesIO(data)
  for _ in range(3):  # Magic number, protocol version, system info.
    _Unpickler(stream).load()
  unpickler = _Unpickler(stream)
  obj = unpickler.load()
  keys = _Unpickler(stream).load()
  storages = {}
  dtypes = {}

  def collect(o):
    if isinstance(o, _Tensor):
      dtypes[o.storage.key] = o.storage.dtype
    elif isinstance(o, dict):
      for v in o.values():
        collect(v)
    elif isinstance(o, (list, tuple)):
      for v in o:
        collect(v)

  collect(obj)
  for key in keys:
    (count,) = struct.unpack('<q', stream.read(8))
    size = count * dtypes.get(str(key), np.dtype(np.uint8)).itemsize
    storages[str(key)] = stream.read(size)
  return _resolve(obj, lambda s: storages[s.key])


def load_torch(data: bytes, path: str):
  """The object of a `torch.save` file, tensors as numpy arrays (host).

  Raises:
    UserError: not a .pt file, or it names anything beyond arrays/tensors.
  """
  try:
    if data[:4] == b'PK\x03\x04':
      return _load_zip(data)
    return _load_legacy(data)
  except Exception as e:  # Malformed files raise many kinds of errors.
    raise UserError(
      f'{path}: not a PyTorch file of label arrays that is safe to read '
      f'({e}); convert it to .npy or .csv as docs/datasets.md shows'
    ) from None


def load_npy_object(data: bytes, path: str):
  """The single object of a pickled .npy (e.g. a dict), safely (host).

  Numeric .npy files are read with `np.load(allow_pickle=False)` instead.

  Raises:
    UserError: not an NPY file, or the pickle names a forbidden global.
  """
  try:
    if data[:6] != b'\x93NUMPY':
      raise ValueError('no NPY magic')
    major = data[6]
    width = 2 if major == 1 else 4
    length = int.from_bytes(data[8 : 8 + width], 'little')
    start = 8 + width
    header = ast.literal_eval(data[start : start + length].decode('latin1'))
    if np.dtype(header['descr']) != np.dtype(object):
      raise ValueError(f'dtype {header["descr"]} is not object')
    array = _Unpickler(io.BytesIO(data[start + length :])).load()
    array = np.asarray(array, dtype=object)
    return array.item() if array.shape == () else array
  except Exception as e:  # Malformed files raise many kinds of errors.
    raise UserError(
      f'{path}: not a pickled .npy that is safe to read ({e})'
    ) from None
