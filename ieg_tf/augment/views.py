"""The views the input pipeline asks for: weak, strong, SimCLR pair, eval.

Everything here runs per image inside `tf.data.Dataset.map` (no
py_function), takes uint8 [H, W, C] images (C = 1 or 3, static) and, when
random, a stateless seed int32/int64 [2]: one seed per element gives
per-image variety, a fixed seed a reproducible result.

Sizes: the reference constants are for 32x32 images (weak pad 2, strong pad 4,
cutout 16); other sizes scale them by size/32 (`sizes.scaled_px`, at least 1
px), from the image height.
"""

import tensorflow as tf

from ieg_tf import errors
from ieg_tf.augment import autoaugment
from ieg_tf.augment import crop_flip
from ieg_tf.augment import cutout
from ieg_tf.augment import geometry
from ieg_tf.augment import randaugment
from ieg_tf.augment import seeds
from ieg_tf.augment import simclr
from ieg_tf.augment import sizes

AUG_TYPES = ('randaug', 'autoaug', 'weak')
# SimCLR blurs ImageNet-size views but not CIFAR ones; `blur=None` switches
# it on from this output side up.
AUTO_BLUR_MIN_SIZE = 64


def to_float(image) -> tf.Tensor:
  """uint8 [..., H, W, C] (one image or a batch) -> float32 in [-1, 1].

  (x / 255 - 0.5) * 2, the reference's normalization.
  """
  return (tf.cast(image, tf.float32) / 255.0 - 0.5) * 2.0


def weak_view(image, seed, *, pad=None, flip=True) -> tf.Tensor:
  """IEG weak augmentation: black pad, random crop back, random flip.

  Args:
    image: uint8 [H, W, C].
    seed: int32/int64 [2].
    pad: zero (black) pixels per side; None = 2 for 32 px (IEG 4.1), scaled
      round(2 H / 32) otherwise, at least 1.
    flip: random horizontal flip; False for digits and other data where a
      mirror image changes the class.

  Returns:
    uint8 [H, W, C].
  """
  crop_seed, flip_seed = seeds.split(seed, 2)
  if pad is None:
    pad = sizes.scaled_px(2, sizes.image_hw(image)[0])
  out = crop_flip.pad_and_crop(image, crop_seed, pad, fill=0)
  if flip:
    out = crop_flip.random_flip(out, flip_seed)
  return out


def _check_aug_type(aug_type) -> str:
  name = str(getattr(aug_type, 'value', aug_type))
  if name not in AUG_TYPES:
    raise errors.UserError(
      f'Unknown aug_type {name!r}: use one of {", ".join(AUG_TYPES)}.'
    )
  return name


def strong_view(weak_image, seed, *, aug_type, flip=True) -> tf.Tensor:
  """IEG strong augmentation, derived from the WEAK view (IEG 4.2).

  `aug_type` op(s), then gray pad-and-crop (4 px at 32 px), random flip and
  a gray cutout (16 px at 32 px, i.e. round(H / 2)). Gray = 128, the
  reference's 0 in [-1, 1] space.

  Args:
    weak_image: uint8 [H, W, C], the output of `weak_view`.
    seed: int32/int64 [2].
    aug_type: 'randaug' | 'autoaug' | 'weak' (no extra op) or an
      `config.AugType`.
    flip: random horizontal flip.

  Returns:
    uint8 [H, W, C].

  Raises:
    UserError: unknown `aug_type`.
  """
  name = _check_aug_type(aug_type)
  op_seed, crop_seed, flip_seed, cut_seed = seeds.split(seed, 4)
  if name == 'randaug':
    out = randaugment.randaugment(weak_image, op_seed)
  elif name == 'autoaug':
    out = autoaugment.autoaugment(weak_image, op_seed)
  else:
    out = weak_image
  height = sizes.image_hw(weak_image)[0]
  out = crop_flip.pad_and_crop(
    out, crop_seed, sizes.scaled_px(4, height), fill=geometry.FILL
  )
  if flip:
    out = crop_flip.random_flip(out, flip_seed)
  return cutout.cutout(
    out, cut_seed, sizes.scaled_px(16, height), fill=geometry.FILL
  )


def _fold_in(seed, data: int) -> tf.Tensor:
  """A seed [2] derived from `seed` and a python int, of `seed`'s dtype."""
  folded = tf.random.experimental.stateless_fold_in(
    tf.cast(seed, tf.int64), data
  )
  return tf.cast(folded, seed.dtype)


def train_views(
  image, seed, *, aug_type, flip=True, pad=None, num_strong=1
) -> dict:
  """The weak view and `num_strong` strong views of one training image.

  Every strong view is an independent strong augmentation of the SAME weak
  view (IEG's K > 2 pseudo-label views). The first strong view uses the same
  seed whatever `num_strong` is, so K = 2 batches do not change when more
  views are asked for; view k >= 2 folds k into that seed.

  Args:
    image: uint8 [H, W, C].
    seed: int32/int64 [2].
    aug_type: see `strong_view`.
    flip: random horizontal flips in every view.
    pad: weak-view padding, see `weak_view`.
    num_strong: strong views (>= 1).

  Returns:
    {'image_weak', 'image_strong', and for num_strong > 1 'image_strong_2'
    .. 'image_strong_{num_strong}'}: float32 [H, W, C] in [-1, 1].

  Raises:
    ValueError: num_strong < 1.
  """
  if num_strong < 1:
    raise ValueError(f'num_strong must be >= 1, got {num_strong}')
  weak_seed, strong_seed = seeds.split(seed, 2)
  weak = weak_view(image, weak_seed, pad=pad, flip=flip)
  out = {'image_weak': to_float(weak)}
  for k in range(1, num_strong + 1):
    key = 'image_strong' if k == 1 else f'image_strong_{k}'
    view_seed = strong_seed if k == 1 else _fold_in(strong_seed, k)
    out[key] = to_float(
      strong_view(weak, view_seed, aug_type=aug_type, flip=flip)
    )
  return out


def _size_pair(image, out_size):
  if out_size is None:
    h, w = image.shape[0], image.shape[1]
    if h is None or w is None:
      raise ValueError('Images of dynamic size need an explicit out_size.')
    return (h, w)
  if isinstance(out_size, int):
    return (out_size, out_size)
  return tuple(int(s) for s in out_size)


def simclr_views(
  image,
  seed,
  *,
  strength=0.5,
  blur=None,
  crop_scale=(0.08, 1.0),
  out_size=None,
) -> dict:
  """Two independent SimCLR views of one image (unlabelled pre-training).

  Args:
    image: uint8 [H, W, C], C = 1 or 3.
    seed: int32/int64 [2].
    strength: colour distortion strength (CIFAR recipe 0.5, ImageNet 1.0).
    blur: random Gaussian blur; None = on when the output side is at least
      `AUTO_BLUR_MIN_SIZE` (SimCLR: on for ImageNet, off for CIFAR).
    crop_scale: area range of the random resized crop: (0.2, 1) for CIFAR as
      C2D, (0.08, 1) for ImageNet-size images.
    out_size: int or (height, width) of the views; None = the input size
      (then the input needs a static size).

  Returns:
    {'view1', 'view2'}: float32 [out_h, out_w, C] in [-1, 1].
  """
  size = _size_pair(image, out_size)
  if blur is None:
    blur = min(size) >= AUTO_BLUR_MIN_SIZE
  views = {}
  for key, view_seed in zip(('view1', 'view2'), seeds.split(seed, 2)):
    x = simclr.simclr_view(
      image,
      view_seed,
      out_size=size,
      strength=strength,
      blur=blur,
      crop_scale=crop_scale,
    )
    views[key] = (x - 0.5) * 2.0
  return views


def eval_view(image, *, out_size=None, crop_fraction=0.875) -> tf.Tensor:
  """Deterministic evaluation view.

  Args:
    image: uint8 [H, W, C].
    out_size: None keeps the image as is; an int or (height, width) takes a
      centered crop with that aspect ratio, `crop_fraction` of the largest
      such crop, and resizes it (bilinear) to `out_size` (e.g. 224/256 of
      the short side for ImageNet-style evaluation).
    crop_fraction: fraction of the largest centered crop kept.

  Returns:
    float32 [out_h, out_w, C] in [-1, 1].
  """
  if out_size is None:
    return to_float(image)
  out_h, out_w = _size_pair(image, out_size)
  shape = tf.cast(tf.shape(image)[:2], tf.float32)
  scale = crop_fraction * tf.minimum(shape[0] / out_h, shape[1] / out_w)
  crop_h = tf.maximum(1, tf.cast(tf.round(out_h * scale), tf.int32))
  crop_w = tf.maximum(1, tf.cast(tf.round(out_w * scale), tf.int32))
  top = (tf.shape(image)[0] - crop_h) // 2
  left = (tf.shape(image)[1] - crop_w) // 2
  crop = tf.slice(image, [top, left, 0], [crop_h, crop_w, -1])
  out = tf.image.resize(tf.cast(crop, tf.float32), (out_h, out_w))
  out = tf.clip_by_value(out, 0.0, 255.0)
  out.set_shape([out_h, out_w, image.shape[-1]])
  return to_float(out)
