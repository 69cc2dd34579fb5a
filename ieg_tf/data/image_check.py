"""Cheap structural checks of encoded image bytes, without decoding.

`tf.io.decode_image` inside tf.data cannot be caught per element: one
truncated file stops the whole input pipeline. These checks look at the
format signature at the start and the format trailer near the end of the
bytes, which catches the usual damage of web-crawled data (truncated
downloads, HTML error pages saved as .jpg, empty files) before the decoder
sees it. Corruption in the middle of an otherwise complete JPEG usually
decodes (libjpeg only warns), so it is not looked for.

Rules (n = byte length; the "tail" is the last 64 bytes):
  JPEG: starts FF D8 FF, and FF D9 (end of image) occurs in the tail.
  PNG:  starts 89 'PNG' 0D 0A 1A 0A, and 'IEND' occurs in the tail.
  GIF:  starts 'GIF87a' or 'GIF89a', and 3B (trailer) occurs in the tail.
  BMP:  starts 'BM', and the size in bytes 2..5 (little endian) is <= n.
  WebP: starts 'RIFF', bytes 8..11 are 'WEBP', and the RIFF size in bytes
        4..7 (little endian) plus 8 is <= n.
  Anything else, or n < 16, is not an image.

`looks_like_image` runs in a tf.data map (host); `looks_like_image_py` is the
same rule in Python (host) for the converter and as the test oracle.
"""

import tensorflow as tf

TAIL = 64
MIN_BYTES = 16

_JPEG = b'\xff\xd8\xff'
_PNG = b'\x89PNG\r\n\x1a\n'
_GIFS = (b'GIF87a', b'GIF89a')


def _contains(haystack: tf.Tensor, needle: bytes) -> tf.Tensor:
  """Whether uint8 [k] `haystack` holds `needle` as consecutive bytes."""
  k = tf.shape(haystack)[0]
  m = len(needle)
  if m == 1:
    return tf.reduce_any(tf.equal(haystack, needle[0]))
  width = tf.maximum(k - m + 1, 0)
  found = tf.ones([width], tf.bool)
  for i, byte in enumerate(needle):
    found &= tf.equal(haystack[i : i + width], byte)
  return tf.reduce_any(found)


def _le32(data: tf.Tensor, offset: int) -> tf.Tensor:
  """Little-endian uint32 at `offset` of a string of >= offset + 4 bytes."""
  raw = tf.io.decode_raw(tf.strings.substr(data, offset, 4), tf.uint8)
  raw = tf.cast(raw, tf.int64)
  return raw[0] + raw[1] * 256 + raw[2] * 65536 + raw[3] * 16777216


def looks_like_image(data: tf.Tensor) -> tf.Tensor:
  """Structural check of one encoded image (tf.data, host side).

  Args:
    data: tf.string [] the file bytes.

  Returns:
    tf.bool []: the bytes follow one of the rules in the module docstring.
  """
  data = tf.convert_to_tensor(data, tf.string)
  n = tf.strings.length(data)
  # Pad so fixed-offset reads below never run past a short string.
  padded = data + tf.constant(b'\x00' * MIN_BYTES)
  head = tf.strings.substr(padded, 0, 12)
  tail = tf.io.decode_raw(
    tf.strings.substr(data, tf.maximum(n - TAIL, 0), TAIL), tf.uint8
  )

  def starts(prefix: bytes):
    return tf.equal(tf.strings.substr(head, 0, len(prefix)), prefix)

  size = tf.cast(n, tf.int64)
  jpeg = starts(_JPEG) & _contains(tail, b'\xff\xd9')
  png = starts(_PNG) & _contains(tail, b'IEND')
  gif = (starts(_GIFS[0]) | starts(_GIFS[1])) & _contains(tail, b';')
  bmp = starts(b'BM') & (_le32(padded, 2) <= size)
  webp = (
    starts(b'RIFF')
    & tf.equal(tf.strings.substr(head, 8, 4), b'WEBP')
    & (_le32(padded, 4) + 8 <= size)
  )
  return (n >= MIN_BYTES) & (jpeg | png | gif | bmp | webp)


def looks_like_image_py(data: bytes) -> bool:
  """The rule of `looks_like_image` in plain Python (host)."""
  n = len(data)
  if n < MIN_BYTES:
    return False
  tail = data[-TAIL:]
  if data.startswith(_JPEG):
    return b'\xff\xd9' in tail
  if data.startswith(_PNG):
    return b'IEND' in tail
  if data.startswith(_GIFS):
    return b';' in tail
  if data.startswith(b'BM'):
    return int.from_bytes(data[2:6], 'little') <= n
  if data.startswith(b'RIFF') and data[8:12] == b'WEBP':
    return int.from_bytes(data[4:8], 'little') + 8 <= n
  return False
