"""Counter-based hashing: random numbers that are a pure function of an id.

Every random choice the data layer makes (which labels are corrupted, which
examples form the probe, which examples are held out as test) is drawn from
`hash(seed, stream, id)` instead of a stateful generator. The draw for one
example therefore does not depend on the order, size or sharding of the array
it sits in, and every host and every restart sees the same value.

The mixer is splitmix64 (Steele, Lea and Flood, 2014), applied three times:
once to separate streams, once to the id and once to the combination.
Everything runs on the host in vectorized numpy.
"""

import enum

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


class Stream(enum.IntEnum):
  """The independent random streams the data layer draws from.

  Kept in one place so two users can never share a stream by accident.
  """

  NOISE_SELECT = 1  # Is this example corrupted?
  NOISE_LABEL = 2  # Which label does a corrupted example get?
  PROBE = 3  # Order in which examples are taken into the probe.
  DIGITS_TEST = 4  # Train/test split of the `digits` source.
  FOLDER_TEST = 5  # Test hold-out of a `folder` source without test/.
  RECORD_ORDER = 6  # Order of examples in converted TFRecord shards.


def _mix(x: np.ndarray) -> np.ndarray:
  """splitmix64 finalizer: uint64 [N] -> uint64 [N], a bijection."""
  x = x ^ (x >> np.uint64(30))
  x = x * _MUL1
  x = x ^ (x >> np.uint64(27))
  x = x * _MUL2
  return x ^ (x >> np.uint64(31))


def hash64(seed: int, ids: np.ndarray, stream: int) -> np.ndarray:
  """Hashes `(seed, stream, id)` to 64 well-mixed bits.

  Args:
    seed: any Python int (taken modulo 2**64).
    ids: int64 [N] example ids (any integer dtype or array-like).
    stream: which independent stream to draw from (see `Stream`).

  Returns:
    uint64 [N], element i a function of (seed, stream, ids[i]) only.
  """
  ids = np.asarray(ids)
  if ids.dtype.kind not in 'iu':
    raise TypeError(f'ids must be integers, got dtype {ids.dtype}')
  # uint64 products wrap modulo 2**64 by design; silence numpy's warning.
  with np.errstate(over='ignore'):
    key = _mix(
      np.array([seed & _MASK64], np.uint64)
      + _GOLDEN * np.array([(stream + 1) & _MASK64], np.uint64)
    )
    x = _mix(ids.astype(np.int64).view(np.uint64) * _GOLDEN + key)
    return _mix(x ^ key)


def uniform(seed: int, ids: np.ndarray, stream: int) -> np.ndarray:
  """Uniform draws in [0, 1), one per id.

  Args:
    seed: any Python int.
    ids: int64 [N] example ids.
    stream: which independent stream to draw from (see `Stream`).

  Returns:
    float64 [N] in [0, 1): the top 53 bits of `hash64`, so every value is an
    exact multiple of 2**-53.
  """
  bits = hash64(seed, ids, stream) >> np.uint64(11)
  return bits.astype(np.float64) * (2.0**-53)


def randint(seed: int, ids: np.ndarray, stream: int, high: int) -> np.ndarray:
  """Uniform integers in [0, high), one per id.

  The bias of `floor(u * high)` is below high / 2**53, far under anything a
  test or a training run could see.

  Args:
    seed: any Python int.
    ids: int64 [N] example ids.
    stream: which independent stream to draw from (see `Stream`).
    high: exclusive upper bound, >= 1.

  Returns:
    int64 [N] in [0, high).
  """
  if high < 1:
    raise ValueError(f'high must be >= 1, got {high}')
  values = np.floor(uniform(seed, ids, stream) * high).astype(np.int64)
  # Guards the (impossible in exact arithmetic) rounding up to `high`.
  return np.minimum(values, high - 1)
