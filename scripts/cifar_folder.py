"""The CIFAR-10 JPEG image folder the study scripts train on.

`../shared/data/cifar10_jpg.tar` holds train/<class>/*.jpg and
test/<class>/*.jpg; it is never committed. The studies take either that tar
(extracted once into their scratch folder) or an already extracted folder,
and may link a class-balanced subset of it.
"""

import os
import tarfile


def extracted_folder(data: str, scratch: str, caller: str) -> str:
  """A folder with train/<class>/ and test/<class>/ (extracts a tar once).

  Args:
    data: an extracted folder, or the tar.
    scratch: where a tar is extracted (<scratch>/cifar10_jpg, reused).
    caller: script name for the one-line error.

  Returns:
    The folder holding train/ and test/.

  Raises:
    SystemExit: `data` is missing or has no train/ and test/.
  """
  if os.path.isdir(data):
    return data
  if not os.path.isfile(data):
    raise SystemExit(f'{caller}: {data} is neither a folder nor a tar')
  root = os.path.join(scratch, 'cifar10_jpg')
  done = os.path.join(root, '.extracted')
  if not os.path.exists(done):
    os.makedirs(root, exist_ok=True)
    print(f'extracting {data} -> {root}', flush=True)
    with tarfile.open(data) as tar:
      tar.extractall(root, filter='data')
    open(done, 'w').close()
  for dirpath, dirnames, _ in os.walk(root):
    if 'train' in dirnames and 'test' in dirnames:
      return dirpath
  raise SystemExit(f'{caller}: no train/ and test/ under {root}')


def subset_folder(folder: str, scratch: str, per_class: dict) -> str:
  """Symlinks the first N images of every class into a new folder tree.

  Args:
    folder: holds train/<class>/ and test/<class>/.
    scratch: parent of the new tree.
    per_class: {'train': N, 'test': M} images per class.

  Returns:
    <scratch>/c2d_subset_<N>_<M> (built once, then reused).
  """
  name = f'c2d_subset_{per_class["train"]}_{per_class["test"]}'
  root = os.path.join(scratch, name)
  done = os.path.join(root, '.linked')
  if os.path.exists(done):
    return root
  for split, count in per_class.items():
    for cls in sorted(os.listdir(os.path.join(folder, split))):
      src = os.path.join(folder, split, cls)
      dst = os.path.join(root, split, cls)
      os.makedirs(dst, exist_ok=True)
      for f in sorted(os.listdir(src))[:count]:
        link = os.path.join(dst, f)
        if not os.path.lexists(link):
          os.symlink(os.path.join(src, f), link)
  open(done, 'w').close()
  return root
