"""`resnet50`: IEG's WebVision ResNet-50 v2 (TF official, pre-activation).

As in the IEG authors' model code. ImageNet stem: conv7x7/2(64) (no BN, no ReLU: the
first block pre-activates it) and max-pool 3x3/2 'same'. Four stages of
[3, 4, 6, 3] bottleneck blocks, filters 64 / 128 / 256 / 512 (x4 out),
strides 1 / 2 / 2 / 2. A block is
  a = ReLU(BN(x)); conv1x1(f) -> BN-ReLU -> conv3x3(f, stride) -> BN-ReLU
  -> conv1x1(4f)  + shortcut,
where the first block of each stage projects `a` with a 1x1 conv (stride)
and the others add x. Head: final BN-ReLU, spatial mean, dense.
~23.5M parameters plus the head (2048 * C + C).

Strided convs use TF official's "fixed padding" (pad (k - 1) // 2 before,
the rest after, then 'valid'), which depends only on the kernel size, so any
image side >= 1 works. Convs: variance scaling (scale 1, fan-in, truncated
normal), no bias; dense: Glorot-uniform, 0 bias. BN momentum 0.997 (Keras
`momentum` is the moving-average decay, the same meaning as TF1's BN decay),
eps 1e-5. Weight decay 4e-4 on ALL trainable variables.
"""

import keras

from ieg_tf.models import batch_norm

DEFAULT_WEIGHT_DECAY = 4e-4
DECAY_KERNELS_ONLY = False  # Decay every trainable variable.
STEM_WIDTH = 64
BLOCKS = (3, 4, 6, 3)
STRIDES = (1, 2, 2, 2)
EXPANSION = 4
BN_MOMENTUM = 0.997


def _conv(x, filters: int, kernel: int, stride: int, name: str):
  """Conv with TF official's fixed padding when strided."""
  padding = 'same'
  if stride > 1:
    pad_total = kernel - 1
    before = pad_total // 2
    after = pad_total - before
    if pad_total:
      x = keras.layers.ZeroPadding2D(((before, after), (before, after)))(x)
    padding = 'valid'
  return keras.layers.Conv2D(
    filters,
    kernel,
    strides=stride,
    padding=padding,
    use_bias=False,
    kernel_initializer=keras.initializers.VarianceScaling(
      1.0, 'fan_in', 'truncated_normal'
    ),
    name=name,
  )(x)


def _bn_relu(x, name: str):
  x = batch_norm.BatchNorm(BN_MOMENTUM, name=name)(x)
  return keras.layers.ReLU()(x)


def _block(x, filters: int, stride: int, project: bool, name: str):
  a = _bn_relu(x, f'{name}_bn1')
  shortcut = x
  if project:
    shortcut = _conv(a, EXPANSION * filters, 1, stride, f'{name}_shortcut')
  y = _conv(a, filters, 1, 1, f'{name}_conv1')
  y = _bn_relu(y, f'{name}_bn2')
  y = _conv(y, filters, 3, stride, f'{name}_conv2')
  y = _bn_relu(y, f'{name}_bn3')
  y = _conv(y, EXPANSION * filters, 1, 1, f'{name}_conv3')
  return keras.layers.Add()([shortcut, y])


def build_encoder(image_shape: tuple[int, int, int]) -> keras.Model:
  """Builds the feature extractor.

  Args:
    image_shape: (H, W, C) of the float32 input images in [-1, 1].

  Returns:
    A built Keras model: float32 [B, H, W, C] -> features float32 [B, 2048].
  """
  inputs = keras.Input(image_shape)
  x = _conv(inputs, STEM_WIDTH, 7, 2, 'stem_conv')
  x = keras.layers.MaxPooling2D(3, 2, padding='same', name='stem_pool')(x)
  for stage, (blocks, stride) in enumerate(zip(BLOCKS, STRIDES)):
    filters = STEM_WIDTH * 2**stage
    for i in range(blocks):
      name = f'stage{stage}_block{i}'
      x = _block(x, filters, stride if i == 0 else 1, i == 0, name)
  x = _bn_relu(x, 'final_bn')
  features = keras.layers.GlobalAveragePooling2D(name='pool')(x)
  return keras.Model(inputs, features, name='encoder')


def build_classifier(num_classes: int, feature_dim: int) -> keras.layers.Dense:
  """Dense(num_classes), `tf.layers.dense` init: Glorot-uniform, 0 bias."""
  del feature_dim  # The default init needs no fan-in.
  return keras.layers.Dense(num_classes, name='classifier')
