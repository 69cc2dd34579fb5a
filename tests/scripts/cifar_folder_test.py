"""scripts/cifar_folder.py: tar extraction once, class-balanced subsets."""

import importlib.util
import os
import tarfile

import tensorflow as tf

_SCRIPT = os.path.join(
  os.path.dirname(__file__), '..', '..', 'scripts', 'cifar_folder.py'
)


def _load():
  spec = importlib.util.spec_from_file_location('cifar_folder', _SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _tree(root, per_class):
  for split in ('train', 'test'):
    for name in ('cat', 'dog'):
      os.makedirs(os.path.join(root, split, name))
      for i in range(per_class):
        with open(os.path.join(root, split, name, f'{i:02d}.jpg'), 'w') as f:
          f.write(f'{split}/{name}/{i}')


class CifarFolderTest(tf.test.TestCase):
  def test_extracts_a_tar_once_and_finds_train_and_test(self):
    cf = _load()
    root = self.create_tempdir().full_path
    _tree(os.path.join(root, 'src', 'cifar10'), 3)
    tar_path = os.path.join(root, 'data.tar')
    with tarfile.open(tar_path, 'w') as tar:
      tar.add(os.path.join(root, 'src', 'cifar10'), arcname='cifar10')
    scratch = os.path.join(root, 'scratch')
    folder = cf.extracted_folder(tar_path, scratch, 'test')
    self.assertEqual(sorted(os.listdir(folder)), ['test', 'train'])
    self.assertLen(os.listdir(os.path.join(folder, 'train', 'cat')), 3)
    # A second call reuses the extraction (the marker file), even if the
    # tar is gone.
    os.remove(tar_path)
    open(tar_path, 'w').close()
    self.assertEqual(cf.extracted_folder(tar_path, scratch, 'test'), folder)
    # A folder is used as is; a missing path is one line.
    self.assertEqual(cf.extracted_folder(folder, scratch, 'test'), folder)
    with self.assertRaisesRegex(SystemExit, 'test: .* neither a folder'):
      cf.extracted_folder(os.path.join(root, 'nope'), scratch, 'test')

  def test_subset_links_the_first_images_of_every_class(self):
    cf = _load()
    root = self.create_tempdir().full_path
    _tree(os.path.join(root, 'full'), 5)
    sub = cf.subset_folder(
      os.path.join(root, 'full'), root, {'train': 2, 'test': 1}
    )
    for name in ('cat', 'dog'):
      self.assertEqual(
        sorted(os.listdir(os.path.join(sub, 'train', name))),
        ['00.jpg', '01.jpg'],
      )
      self.assertEqual(os.listdir(os.path.join(sub, 'test', name)), ['00.jpg'])
    with open(os.path.join(sub, 'train', 'dog', '01.jpg')) as f:
      self.assertEqual(f.read(), 'train/dog/1')


if __name__ == '__main__':
  tf.test.main()
