"""Wiring details the parameter counts cannot see (the IEG authors' models)."""

import keras
import tensorflow as tf

from ieg_tf.models import registry


def _encoder(name, shape=(8, 8, 3)):
  return registry.build_network(name, 10, shape).encoder


def _of_type(model, cls):
  return [layer for layer in model.layers if isinstance(layer, cls)]


class NetworkStructureTest(tf.test.TestCase):
  def test_resnet29_quirk_first_bn_without_relu(self):
    encoder = _encoder('resnet29')
    layer = encoder.get_layer
    # The very first unit has no BN before its first conv.
    names = [x.name for x in encoder.layers]
    self.assertNotIn('stage0_unit0_bn1', names)
    self.assertIs(layer('stage0_unit0_conv1').input, layer('stem_relu').output)
    for stage in range(3):
      for unit in range(3):
        u = f'stage{stage}_unit{unit}'
        if (stage, unit) != (0, 0):
          # BN -> conv1x1 directly: no ReLU in between (the quirk).
          self.assertIs(layer(f'{u}_conv1').input, layer(f'{u}_bn1').output)
        # The other two BNs are followed by a ReLU.
        self.assertIsNot(layer(f'{u}_conv2').input, layer(f'{u}_bn2').output)
        self.assertIsNot(layer(f'{u}_conv3').input, layer(f'{u}_bn3').output)
    self.assertLen(_of_type(encoder, keras.layers.Add), 9)
    strided = [c.name for c in _of_type(encoder, keras.layers.Conv2D)]
    strided = [n for n in strided if layer(n).strides == (2, 2)]
    self.assertCountEqual(
      strided,
      [
        'stage1_unit0_conv1',
        'stage1_unit0_shortcut',
        'stage2_unit0_conv1',
        'stage2_unit0_shortcut',
      ],
    )

  def test_wrn_has_no_projection_and_extra_residuals(self):
    encoder = _encoder('wrn28-10')
    convs = _of_type(encoder, keras.layers.Conv2D)
    self.assertLen(convs, 1 + 3 * 4 * 2)
    for conv in convs:
      self.assertEqual(conv.kernel_size, (3, 3), conv.name)
      self.assertFalse(conv.use_bias)
    # 12 block residuals + 3 stage-level + 1 network-level.
    self.assertLen(_of_type(encoder, keras.layers.Add), 16)
    # Stage 1's first block: the shortcut takes the BN-ReLU output, so the
    # block's first conv and that shortcut read the same tensor.
    conv1 = encoder.get_layer('stage0_block0_conv1')
    self.assertIsNot(conv1.input, encoder.get_layer('stem_conv').output)

  def test_preact_shortcut_reads_the_preactivation(self):
    encoder = _encoder('preact_resnet18')
    layer = encoder.get_layer
    shortcuts = [
      c.name
      for c in _of_type(encoder, keras.layers.Conv2D)
      if 'shortcut' in c.name
    ]
    self.assertCountEqual(
      shortcuts,
      [f'stage{s}_block0_shortcut' for s in (1, 2, 3)],
    )
    for s in (1, 2, 3):
      block = f'stage{s}_block0'
      self.assertIs(
        layer(f'{block}_shortcut').input, layer(f'{block}_conv1').input
      )
      self.assertEqual(layer(f'{block}_shortcut').strides, (2, 2))
    self.assertLen(_of_type(encoder, keras.layers.Add), 8)

  def test_resnet50_stem_and_strides(self):
    encoder = _encoder('resnet50', (64, 64, 3))
    layer = encoder.get_layer
    self.assertEqual(layer('stem_conv').kernel_size, (7, 7))
    self.assertEqual(layer('stem_conv').output.shape[1:3], (32, 32))
    self.assertEqual(layer('stem_pool').output.shape[1:3], (16, 16))
    for s in (1, 2, 3):
      block = f'stage{s}_block0'
      # TF official v2: the stride sits on the 3x3 conv, not the first 1x1.
      self.assertEqual(layer(f'{block}_conv1').strides, (1, 1))
      self.assertEqual(layer(f'{block}_conv2').strides, (2, 2))
    self.assertLen(_of_type(encoder, keras.layers.Add), 16)
    self.assertEqual(encoder.output.shape[-1], 2048)


if __name__ == '__main__':
  tf.test.main()
