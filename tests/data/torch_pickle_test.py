"""Reading .pt / pickled .npy label files without torch, and refusing code."""

import io
import os
import pickle
import zipfile

import numpy as np
import tensorflow as tf

from ieg_tf.data.sources import torch_pickle
from ieg_tf.errors import UserError
from tests.data import fake_layouts


class _Evil:
  def __reduce__(self):
    return (os.system, ('echo pwned',))


def _table():
  rng = np.random.default_rng(0)
  return {
    'clean_label': rng.integers(0, 10, 30),
    'worse_label': rng.integers(0, 10, 30),
  }


class TorchPickleTest(tf.test.TestCase):
  def assertTablesEqual(self, got, want):
    self.assertEqual(sorted(got), sorted(want))
    for key, value in want.items():
      self.assertAllEqual(np.asarray(got[key]), value)

  def test_zip_with_numpy_arrays(self):
    data = fake_layouts.torch_zip(_table())
    self.assertTablesEqual(torch_pickle.load_torch(data, 'x.pt'), _table())

  def test_zip_with_tensors(self):
    data = fake_layouts.torch_zip(_table(), tensors=True)
    got = torch_pickle.load_torch(data, 'x.pt')
    self.assertTablesEqual(got, _table())
    self.assertEqual(got['clean_label'].dtype, np.int64)

  def test_legacy_format(self):
    data = fake_layouts.torch_legacy(_table())
    self.assertTablesEqual(torch_pickle.load_torch(data, 'x.pt'), _table())

  def test_npy_object(self):
    data = fake_layouts.npy_object(_table())
    self.assertTablesEqual(
      torch_pickle.load_npy_object(data, 'x.npy'), _table()
    )

  def test_refuses_code(self):
    evil = pickle.dumps({'clean_label': _Evil()}, protocol=2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
      archive.writestr('archive/data.pkl', evil)
    with self.assertRaisesRegex(
      UserError, r'^x\.pt: .*refusing to load global'
    ):
      torch_pickle.load_torch(buffer.getvalue(), 'x.pt')
    npy = io.BytesIO()
    np.save(npy, np.array({'a': _Evil()}, dtype=object), allow_pickle=True)
    with self.assertRaisesRegex(UserError, 'refusing to load global'):
      torch_pickle.load_npy_object(npy.getvalue(), 'x.npy')
    # _codecs.encode is allowed only as protocol 2 uses it (latin1).
    rot13 = b'\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R.'
    with self.assertRaisesRegex(UserError, 'refusing _codecs.encode'):
      torch_pickle.load_torch(rot13, 'x.pt')

  def test_garbage(self):
    for data in (b'', b'PK\x03\x04broken', b'\x80\x02K\x01.'):
      with self.assertRaises(UserError):
        torch_pickle.load_torch(data, 'x.pt')
    numeric = io.BytesIO()
    np.save(numeric, np.arange(3))
    with self.assertRaisesRegex(UserError, 'is not object'):
      torch_pickle.load_npy_object(numeric.getvalue(), 'x.npy')


if __name__ == '__main__':
  tf.test.main()
