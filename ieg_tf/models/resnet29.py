"""`resnet29`: IEG's Keras-example ResNet-v2 bottleneck network (depth 9n+2).

As in the IEG authors' model code. Stem conv3x3(16)-BN-ReLU, then three stages of n = 3
bottleneck units (bottleneck width -> output width: 16 -> 64 stride 1,
64 -> 128 stride 2, 128 -> 256 stride 2). A unit is
  [BN -> conv1x1(width, stride)] -> [BN-ReLU-conv3x3(width)]
  -> [BN-ReLU-conv1x1(out)] + shortcut,
with a 1x1 projection shortcut (no BN) on the first unit of each stage; the
very first unit has no BN before its first conv.

Reproduced quirk: the reference sets `activation = None` for the first unit
and never resets it, so in EVERY unit the first BN is NOT followed by a ReLU
(BN -> conv1x1). We keep that, as IEG trained it.

Head: BN-ReLU, average pool, dense. IEG pools 8x8 (= global at 32x32); we
pool globally so other image sizes also work.

Convs: Glorot-normal, no bias, BN momentum 0.9, eps 1e-5. Weight decay 1e-4 on
conv and dense kernels only, as the explicit loss 1e-4 * sum 0.5 * w^2 (IEG V1,
`l2_regularizer`). IEG V3 used `keras.regularizers.L2(1e-4)` = 1e-4 * sum w^2,
i.e. twice as strong: pass weight_decay=2e-4 to get V3's.
"""

import keras

from ieg_tf.models import batch_norm

DEFAULT_WEIGHT_DECAY = 1e-4
DECAY_KERNELS_ONLY = True  # Conv and dense kernels; not BN, not dense bias.
NUM_UNITS = 3
STEM_WIDTH = 16
BN_MOMENTUM = 0.9


def _conv(filters: int, kernel: int, stride: int, name: str):
  return keras.layers.Conv2D(
    filters,
    kernel,
    strides=stride,
    padding='same',
    use_bias=False,
    kernel_initializer='glorot_normal',
    name=name,
  )


def _bn(name: str):
  return batch_norm.BatchNorm(BN_MOMENTUM, name=name)


def _unit(x, width: int, out: int, stride: int, first: bool, name: str):
  """One bottleneck unit; `first` = the network's very first unit."""
  y = x
  if not first:
    y = _bn(f'{name}_bn1')(y)  # No ReLU here: the reference's quirk.
  y = _conv(width, 1, stride, f'{name}_conv1')(y)
  y = _bn(f'{name}_bn2')(y)
  y = keras.layers.ReLU()(y)
  y = _conv(width, 3, 1, f'{name}_conv2')(y)
  y = _bn(f'{name}_bn3')(y)
  y = keras.layers.ReLU()(y)
  y = _conv(out, 1, 1, f'{name}_conv3')(y)
  return y


def build_encoder(image_shape: tuple[int, int, int]) -> keras.Model:
  """Builds the feature extractor.

  Args:
    image_shape: (H, W, C) of the float32 input images in [-1, 1].

  Returns:
    A built Keras model: float32 [B, H, W, C] -> features float32 [B, 256].
  """
  inputs = keras.Input(image_shape)
  x = _conv(STEM_WIDTH, 3, 1, 'stem_conv')(inputs)
  x = _bn('stem_bn')(x)
  x = keras.layers.ReLU(name='stem_relu')(x)
  width = STEM_WIDTH
  for stage in range(3):
    out = width * 4 if stage == 0 else width * 2
    for unit in range(NUM_UNITS):
      name = f'stage{stage}_unit{unit}'
      stride = 2 if stage > 0 and unit == 0 else 1
      y = _unit(x, width, out, stride, stage == 0 and unit == 0, name)
      if unit == 0:
        x = _conv(out, 1, stride, f'{name}_shortcut')(x)
      x = keras.layers.Add()([x, y])
    width = out
  x = _bn('final_bn')(x)
  x = keras.layers.ReLU()(x)
  features = keras.layers.GlobalAveragePooling2D(name='pool')(x)
  return keras.Model(inputs, features, name='encoder')


def build_classifier(num_classes: int, feature_dim: int) -> keras.layers.Dense:
  """Dense(num_classes), `tf.layers.dense` init: Glorot-uniform, 0 bias."""
  del feature_dim  # The default init needs no fan-in.
  return keras.layers.Dense(num_classes, name='classifier')
