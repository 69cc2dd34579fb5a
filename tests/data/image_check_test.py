"""Tests of ieg_tf.data.image_check against its Python oracle and decoders."""

import io

from absl.testing import parameterized
import numpy as np
from PIL import Image
import tensorflow as tf

from ieg_tf.data import image_check


def _pil(fmt: str, size=(9, 7)) -> bytes:
  image = Image.fromarray(
    np.random.default_rng(0).integers(0, 255, size + (3,), dtype=np.uint8)
  )
  buffer = io.BytesIO()
  image.save(buffer, fmt)
  return buffer.getvalue()


def _samples() -> dict[str, tuple[bytes, bool]]:
  jpeg = tf.io.encode_jpeg(np.zeros((8, 10, 3), np.uint8)).numpy()
  png = tf.io.encode_png(np.ones((6, 5, 3), np.uint8)).numpy()
  gif, bmp, webp = _pil('GIF'), _pil('BMP'), _pil('WEBP')
  return {
    'jpeg': (jpeg, True),
    'jpeg_trailing_padding': (jpeg + b'\x00' * 10, True),
    'jpeg_truncated_half': (jpeg[: len(jpeg) // 2], False),
    'jpeg_truncated_end': (jpeg[:-2], False),
    'png': (png, True),
    'png_truncated': (png[:-12], False),
    'gif': (gif, True),
    'gif_truncated': (
      gif[: len(gif) // 2],
      gif[: len(gif) // 2].find(b';') >= 0,
    ),
    'bmp': (bmp, True),
    'bmp_truncated': (bmp[:-10], False),
    'webp': (webp, True),
    'webp_truncated': (webp[:-10], False),
    'html_error_page': (b'<html><body>404 Not Found</body></html>', False),
    'empty': (b'', False),
    'tiny_jpeg_header': (b'\xff\xd8\xff\xd9', False),
    'zeros': (b'\x00' * 100, False),
  }


class ImageCheckTest(tf.test.TestCase, parameterized.TestCase):
  def test_known_answers(self):
    for name, (data, expected) in _samples().items():
      if name == 'gif_truncated':
        continue  # Its answer depends on where the cut falls; oracle below.
      with self.subTest(name):
        self.assertEqual(image_check.looks_like_image_py(data), expected)

  def test_graph_matches_oracle(self):
    rng = np.random.default_rng(1)
    cases = [d for d, _ in _samples().values()]
    # Random cuts and random byte strings with real signatures.
    for data, _ in list(_samples().values())[:12]:
      for _ in range(5):
        cases.append(data[: int(rng.integers(0, len(data) + 1))])
    for prefix in (
      b'\xff\xd8\xff',
      b'\x89PNG\r\n\x1a\n',
      b'GIF89a',
      b'BM',
      b'RIFF',
    ):
      for n in (0, 5, 20, 100):
        cases.append(prefix + rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    fn = tf.function(image_check.looks_like_image)
    for data in cases:
      self.assertEqual(
        bool(fn(tf.constant(data))),
        image_check.looks_like_image_py(data),
        data[:12],
      )

  def test_inside_tf_data(self):
    samples = _samples()
    data = [d for d, _ in samples.values()]
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(data)).map(
      image_check.looks_like_image
    )
    got = list(ds.as_numpy_iterator())
    self.assertEqual(got, [image_check.looks_like_image_py(d) for d in data])

  def test_passing_files_decode(self):
    # Every sample the check accepts decodes; the rejected truncated JPEG
    # really fails to decode (what the check protects the pipeline from).
    for name, (data, _) in _samples().items():
      if image_check.looks_like_image_py(data):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        self.assertEqual(image.shape[-1], 3, name)
    with self.assertRaises(tf.errors.InvalidArgumentError):
      tf.io.decode_image(_samples()['jpeg_truncated_half'][0], channels=3)


if __name__ == '__main__':
  tf.test.main()
