"""RandAugment (Cubuk et al. 2020) with per-IMAGE op choice and magnitude.

As the reference's `aug_type=randaug` (the IEG authors' code):
N = 2 layers, each an op drawn uniformly (with replacement) from the 14 ops
below, with a random magnitude M ~ randint(1, 10), i.e. 1..9, applied with
probability 0.5.

Deviation: the reference drew the ops and magnitudes once per BATCH (only
the coin flips and signs were per image); here every image draws its own ops
and magnitudes from its own seed, which gives more variety per batch and lets
the op run per element inside tf.data.

Images are uint8 or float in [0, 1] and come back in their dtype: a float
image is rounded to levels once on entry and divided by 255 on exit
(`image_dtype.on_levels`), so both dtypes see the same ops and magnitudes.
"""

import tensorflow as tf

from ieg_tf.augment import image_dtype
from ieg_tf.augment import op_table
from ieg_tf.augment import seeds

RANDAUG_OPS = (
  'Identity',
  'AutoContrast',
  'Equalize',
  'Rotate',
  'Solarize',
  'Color',
  'Contrast',
  'Brightness',
  'Sharpness',
  'ShearX',
  'TranslateX',
  'TranslateY',
  'Posterize',
  'ShearY',
)


@image_dtype.on_levels
def randaugment(
  image, seed, *, num_layers=2, magnitude=None, prob=0.5, names=RANDAUG_OPS
) -> tf.Tensor:
  """Applies `num_layers` random ops, each with probability `prob`.

  Args:
    image: uint8 or float [H, W, C], C = 1 or 3.
    seed: int32/int64 [2].
    num_layers: N, ops applied one after the other.
    magnitude: fixed level in [0, 10], or None for the random-magnitude mode
      (a fresh level ~ randint(1, 10) per layer and image).
    prob: probability that a layer is applied.
    names: op names from `op_table.OPS` to choose from.

  Returns:
    Same shape and dtype as `image`. Runs per image (eager, tf.function or
    tf.data).
  """
  for layer_seed in seeds.split(seed, num_layers):
    op_seed, level_seed, coin_seed, inner_seed = seeds.split(layer_seed, 4)
    index = seeds.randint(op_seed, 0, len(names))
    if magnitude is None:
      level = tf.cast(seeds.randint(level_seed, 1, 10), tf.float32)
    else:
      level = tf.cast(magnitude, tf.float32)
    image = op_table.apply_op(
      names,
      index,
      image,
      level,
      inner_seed,
      enabled=seeds.coin(coin_seed, prob),
    )
  return image
