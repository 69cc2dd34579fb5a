"""`wrn28-10`: IEG's Wide-ResNet-28-10 (the AutoAugment-repo variant).

As in the IEG authors' model code. conv3x3(16), then three stages of 4 pre-activation
blocks (widths 160 / 320 / 640, strides 1 / 2 / 2). A block is
  BN-ReLU -> conv3x3(stride) -> BN-ReLU -> conv3x3  + shortcut.
In the first block of stage 1 the shortcut also takes the BN-ReLU output.
Where widths differ, shortcuts are avg-pool(stride) + zero-padding of the
channels ((out - in) / 2 on each side): there is no 1x1 projection. Extra
residuals: each stage's input (pooled, padded) is added at the stage's end,
and the stem conv's output (pooled by 4, padded 16 -> 640) at the network's
end. Head: BN-ReLU, global average pool, dense. ~36.5M parameters.

Init: convs N(0, sqrt(2 / (k * k * out))), no bias; classifier kernel
U(+-1 / sqrt(num_classes)), bias 0; BN momentum 0.9, eps 1e-5. Weight decay
5e-4 on ALL trainable variables (BN and biases included).

Shortcut average pools use 'same' padding where the reference uses 'valid':
identical when the side is divisible by the stride (32x32 CIFAR), and it keeps
the shapes consistent with the strided convs for other sizes.
"""

import math

import keras

from ieg_tf.models import batch_norm

DEFAULT_WEIGHT_DECAY = 5e-4
DECAY_KERNELS_ONLY = False  # Decay every trainable variable.
WIDEN = 160  # IEG's `wrn_size`.
STEM_WIDTH = 16
BLOCKS_PER_STAGE = 4
STRIDES = (1, 2, 2)
BN_MOMENTUM = 0.9


def _conv(filters: int, stride: int, name: str):
  return keras.layers.Conv2D(
    filters,
    3,
    strides=stride,
    padding='same',
    use_bias=False,
    # N(0, sqrt(2 / (k * k * out))): variance 2 / fan_out, not truncated.
    kernel_initializer=keras.initializers.VarianceScaling(
      2.0, 'fan_out', 'untruncated_normal'
    ),
    name=name,
  )


def _bn_relu(x, name: str):
  x = batch_norm.BatchNorm(BN_MOMENTUM, name=name)(x)
  return keras.layers.ReLU()(x)


def _pool_pad(x, stride: int, in_width: int, out_width: int):
  """Shortcut without parameters: avg-pool(stride), zero-pad channels."""
  if in_width == out_width:
    return x
  if stride > 1:
    x = keras.layers.AveragePooling2D(stride, stride, padding='same')(x)
  pad = (out_width - in_width) // 2
  return keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [pad, pad]])


def _block(x, in_width, out_width, stride, activate_before_residual, name):
  if activate_before_residual:
    x = _bn_relu(x, f'{name}_bn1')
    shortcut = x
    y = x
  else:
    shortcut = x
    y = _bn_relu(x, f'{name}_bn1')
  y = _conv(out_width, stride, f'{name}_conv1')(y)
  y = _bn_relu(y, f'{name}_bn2')
  y = _conv(out_width, 1, f'{name}_conv2')(y)
  shortcut = _pool_pad(shortcut, stride, in_width, out_width)
  return keras.layers.Add()([shortcut, y])


def build_encoder(image_shape: tuple[int, int, int]) -> keras.Model:
  """Builds the feature extractor.

  Args:
    image_shape: (H, W, C) of the float32 input images in [-1, 1].

  Returns:
    A built Keras model: float32 [B, H, W, C] -> features float32 [B, 640].
  """
  widths = (STEM_WIDTH, WIDEN, 2 * WIDEN, 4 * WIDEN)
  inputs = keras.Input(image_shape)
  x = _conv(STEM_WIDTH, 1, 'stem_conv')(inputs)
  first_x = x
  stage_input = x
  for stage in range(3):
    in_width, out_width = widths[stage], widths[stage + 1]
    stride = STRIDES[stage]
    name = f'stage{stage}'
    x = _block(x, in_width, out_width, stride, stage == 0, f'{name}_block0')
    for i in range(1, BLOCKS_PER_STAGE):
      x = _block(x, out_width, out_width, 1, False, f'{name}_block{i}')
    shortcut = _pool_pad(stage_input, stride, in_width, out_width)
    x = keras.layers.Add()([x, shortcut])
    stage_input = x
  total_stride = math.prod(STRIDES)
  shortcut = _pool_pad(first_x, total_stride, widths[0], widths[-1])
  x = keras.layers.Add()([x, shortcut])
  x = _bn_relu(x, 'final_bn')
  features = keras.layers.GlobalAveragePooling2D(name='pool')(x)
  return keras.Model(inputs, features, name='encoder')


def build_classifier(num_classes: int, feature_dim: int) -> keras.layers.Dense:
  """Dense(num_classes), kernel U(+-1/sqrt(num_classes)) as the reference."""
  del feature_dim  # The reference scales by the number of OUTPUT units.
  limit = 1.0 / math.sqrt(num_classes)
  return keras.layers.Dense(
    num_classes,
    kernel_initializer=keras.initializers.RandomUniform(-limit, limit),
    name='classifier',
  )
