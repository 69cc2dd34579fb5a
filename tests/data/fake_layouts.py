"""Miniature copies of the real-noise datasets' official layouts, for tests.

Each writer makes a few tiny JPEGs and the list files in the owners' exact
formats (see the source modules' docstrings), and returns what it wrote so
tests can check the parsing against it. Image pixel values encode the class
(value = 20 + 4 * label), so a few training steps can learn something and a
decoded image can be traced back to its file.
"""

import io
import os
import pickle
import zipfile

import numpy as np
import tensorflow as tf


def pixel(label: int) -> int:
  return (20 + 4 * label) % 256


def write_jpeg(path: str, label: int, size=(12, 16)) -> bytes:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image = np.full(size + (3,), pixel(label), np.uint8)
  data = tf.io.encode_jpeg(image, quality=95).numpy()
  with open(path, 'wb') as f:
    f.write(data)
  return data


def _write_text(path: str, lines) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    f.write(''.join(f'{line}\n' for line in lines))


def wnid(c: int) -> str:
  return f'n{10000000 + c:08d}'


def webvision(root, train_per_class=3, val_per_class=3, imagenet=None):
  """WebVision 1.0 layout (50 used classes) and optionally ImageNet.

  Args:
    root: the WebVision root to write.
    train_per_class: Google images per class (classes 0..49).
    val_per_class: val images per class.
    imagenet: folder for an ILSVRC2012 class-folder layout, or None.

  Returns:
    {'train': [(rel path, label)], 'val': [(file, label)]} as listed
    (including lines of classes >= 50, which the source drops).
  """
  train, val = [], []
  for c in list(range(50)) + [50, 999]:
    for i in range(train_per_class if c < 50 else 1):
      rel = f'google/q{c + 1:04d}/{i:08d}.jpg'
      if c < 50:
        write_jpeg(os.path.join(root, rel), c)
      train.append((rel, c))
    for i in range(val_per_class if c < 50 else 1):
      name = f'val{c:04d}{i:02d}.jpg'
      if c < 50:
        write_jpeg(os.path.join(root, 'val_images_256', name), c)
      val.append((name, c))
  _write_text(
    os.path.join(root, 'info', 'train_filelist_google.txt'),
    [f'{p} {c}' for p, c in train],
  )
  _write_text(
    os.path.join(root, 'info', 'val_filelist.txt'),
    [f'{p} {c}' for p, c in val],
  )
  _write_text(
    os.path.join(root, 'info', 'synsets.txt'),
    [f'{wnid(c)} class{c}, thing' for c in range(1000)],
  )
  if imagenet:
    for c in range(52):  # Two extra classes beyond the 50 used.
      for part, count in (('val', 1), ('train', 2)):
        for i in range(count):
          path = os.path.join(imagenet, part, wnid(c), f'img{i}.JPEG')
          write_jpeg(path, c)
  return {'train': train, 'val': val}


def clothing1m(root, per_class=3):
  """Clothing1M layout with 14 classes.

  Returns:
    {'noisy': [(key, label)], 'clean': [(key, label)], 'clean_train': keys,
     'clean_val': keys, 'clean_test': keys}.
  """
  noisy, clean = [], []
  lists = {'train': [], 'val': [], 'test': []}
  n = 0
  for c in range(14):
    for i in range(per_class):
      key = f'images/{n % 3}/{n % 7:02d}/{n}.jpg'
      write_jpeg(os.path.join(root, key), c)
      noisy.append((key, (c + (i == 0)) % 14))  # One wrong label per class.
      n += 1
    for part in ('train', 'train', 'val', 'test'):
      key = f'images/{n % 3}/{n % 7:02d}/{n}.jpg'
      write_jpeg(os.path.join(root, key), c)
      clean.append((key, c))
      lists[part].append(key)
      n += 1
  # The first clean train key of class 0 also has a noisy label (overlap).
  noisy.append((lists['train'][0], 5))
  ann = os.path.join(root, 'annotations')
  _write_text(
    os.path.join(ann, 'noisy_label_kv.txt'), [f'{k} {v}' for k, v in noisy]
  )
  _write_text(
    os.path.join(ann, 'clean_label_kv.txt'), [f'{k} {v}' for k, v in clean]
  )
  for part, keys in lists.items():
    _write_text(os.path.join(ann, f'clean_{part}_key_list.txt'), keys)
  return {
    'noisy': noisy,
    'clean': clean,
    'clean_train': lists['train'],
    'clean_val': lists['val'],
    'clean_test': lists['test'],
  }


FOOD_CLASSES = tuple(f'dish_{c:03d}' for c in range(101))


def food101n(root, per_class=2, verified_per_class=1):
  """Food-101N_release/ and food-101/ with 101 classes.

  Returns:
    {'imagelist': keys, 'verified': [(key, flag)], 'test': keys}.
  """
  release = os.path.join(root, 'Food-101N_release')
  food = os.path.join(root, 'food-101')
  keys, verified, test = [], [], []
  for c, name in enumerate(FOOD_CLASSES):
    for i in range(per_class):
      key = f'{name}/{c:03d}{i:03d}abc.jpg'
      write_jpeg(os.path.join(release, 'images', key), c)
      keys.append(key)
      if i < verified_per_class:
        verified.append((key, 1))
      elif i == verified_per_class:
        verified.append((key, 0))
    test_key = f'{name}/{900000 + c}'
    write_jpeg(os.path.join(food, 'images', test_key + '.jpg'), c)
    test.append(test_key)
  # A verified row whose file is not in imagelist.tsv (as in the release).
  verified.append((f'{FOOD_CLASSES[3]}/ghost.jpg', 1))
  _write_text(
    os.path.join(release, 'meta', 'classes.txt'), ('class_name',) + FOOD_CLASSES
  )
  _write_text(
    os.path.join(release, 'meta', 'imagelist.tsv'), ['class_name/key'] + keys
  )
  _write_text(
    os.path.join(release, 'meta', 'verified_train.tsv'),
    ['class_name/key\tverification_label'] + [f'{k}\t{v}' for k, v in verified],
  )
  _write_text(os.path.join(food, 'meta', 'classes.txt'), FOOD_CLASSES)
  _write_text(os.path.join(food, 'meta', 'test.txt'), test)
  return {'imagelist': keys, 'verified': verified, 'test': test}


def cifar10_binary(root, per_batch=20, test=20, seed=0):
  """cifar-10-batches-bin/ with small batches; returns (labels, images)."""
  rng = np.random.default_rng(seed)
  folder = os.path.join(root, 'cifar-10-batches-bin')
  os.makedirs(folder, exist_ok=True)
  out = {}
  names = [f'data_batch_{i}.bin' for i in range(1, 6)] + ['test_batch.bin']
  for name in names:
    n = test if name.startswith('test') else per_batch
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    planes = images.transpose(0, 3, 1, 2).reshape(n, -1)
    rows = np.concatenate([labels[:, None].astype(np.uint8), planes], 1)
    with open(os.path.join(folder, name), 'wb') as f:
      f.write(rows.tobytes())
    out[name] = (labels, images)
  train_labels = np.concatenate([out[n][0] for n in names[:5]])
  train_images = np.concatenate([out[n][1] for n in names[:5]])
  return train_labels, train_images


def cifar10n_table(clean: np.ndarray, seed=0) -> dict:
  """A CIFAR-10N-like label dict: worst ~40% wrong, aggre ~10% wrong."""
  rng = np.random.default_rng(seed)

  def noisy(rate):
    flip = rng.random(len(clean)) < rate
    return np.where(
      flip, (clean + 1 + rng.integers(0, 9, len(clean))) % 10, clean
    )

  return {
    'clean_label': clean.astype(np.int64),
    'worse_label': noisy(0.4).astype(np.int64),
    'aggre_label': noisy(0.1).astype(np.int64),
    'random_label1': noisy(0.2).astype(np.int64),
    'random_label2': noisy(0.2).astype(np.int64),
    'random_label3': noisy(0.2).astype(np.int64),
  }


def npy_object(table: dict) -> bytes:
  """`np.save` of a dict (the authors' CIFAR-10_human.npy format)."""
  buffer = io.BytesIO()
  np.save(buffer, np.array(table, dtype=object), allow_pickle=True)
  return buffer.getvalue()


def torch_zip(table: dict, tensors: bool = False) -> bytes:
  """A `torch.save` zip file of `table` (numpy arrays, or int64 tensors).

  Tensors are written the way torch does: the pickle calls
  torch._utils._rebuild_tensor_v2 on a persistent storage id, and the
  storage bytes are archive/data/<key>.
  """
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, 'w') as archive:
    if not tensors:
      data = pickle.dumps(table, protocol=2)
    else:
      data = _tensor_dict_pickle(table)
      for i, value in enumerate(table.values()):
        archive.writestr(
          f'archive/data/{i}', np.asarray(value, '<i8').tobytes()
        )
    archive.writestr('archive/data.pkl', data)
    archive.writestr('archive/version', '3\n')
  return buffer.getvalue()


def _tensor_dict_pickle(table: dict) -> bytes:
  """Protocol-2 pickle opcodes of {name: int64 tensor} as torch writes it."""
  out = [b'\x80\x02}q\x00(']  # PROTO 2, EMPTY_DICT, BINPUT, MARK
  for i, (name, value) in enumerate(table.items()):
    n = len(value)
    key = name.encode()
    out.append(b'X' + len(key).to_bytes(4, 'little') + key)  # BINUNICODE
    out.append(b'ctorch._utils\n_rebuild_tensor_v2\n')  # GLOBAL
    out.append(b'(')  # MARK (args tuple)
    # Persistent id tuple ('storage', torch.LongStorage, key, 'cpu', n).
    out.append(b'(X\x07\x00\x00\x00storage')
    out.append(b'ctorch\nLongStorage\n')
    skey = str(i).encode()
    out.append(b'X' + len(skey).to_bytes(4, 'little') + skey)
    out.append(b'X\x03\x00\x00\x00cpu')
    out.append(b'J' + n.to_bytes(4, 'little'))  # BININT
    out.append(b'tQ')  # TUPLE, BINPERSID
    out.append(b'K\x00')  # offset 0
    out.append(b'J' + n.to_bytes(4, 'little') + b'\x85')  # (n,)
    out.append(b'K\x01\x85')  # stride (1,)
    out.append(b'\x89')  # requires_grad False
    out.append(b'ccollections\nOrderedDict\n)R')  # OrderedDict()
    out.append(b'tR')  # TUPLE, REDUCE
  out.append(b'u.')  # SETITEMS, STOP
  return b''.join(out)


def torch_legacy(table: dict) -> bytes:
  """A legacy (non-zip) `torch.save` file of a dict of numpy arrays."""
  parts = [
    pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2),
    pickle.dumps(1001, protocol=2),
    pickle.dumps({'protocol_version': 1001, 'little_endian': True}, protocol=2),
    pickle.dumps(table, protocol=2),
    pickle.dumps([], protocol=2),
  ]
  return b''.join(parts)
