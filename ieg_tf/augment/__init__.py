"""ieg_tf.augment: image augmentation in pure TF ops, for tf.data on any host.

Every random function takes a stateless seed int32/int64 [2], so a pipeline
that feeds one seed per element gets per-image variety, and a fixed seed gives
a reproducible, checkpointable result. No py_function, no PIL, no
tensorflow-addons: geometric ops use `tf.raw_ops.ImageProjectiveTransformV3`.

Images are uint8 (levels 0..255) or float in [0, 1] (float16, bfloat16,
float32, float64; `tf.image.convert_image_dtype`'s convention); every
primitive op returns its input's dtype, and magnitudes, thresholds and fill
values are in levels on both (see `image_dtype`). The input pipeline feeds
uint8.

Modules (data flow order):
  image_dtype  the uint8 / float convention, applied once per op family.
  seeds        split seeds, scalar draws, per-element seeds.
  sizes        scale the 32x32 reference constants to other image sizes.
  crop_flip    pad-and-random-crop, random horizontal flip.
  ops          pixel ops (autocontrast, equalize, solarize, blends, ...).
  geometry     rotate, shear, translate (projective transform, gray fill).
  cutout       gray square at a random center.
  op_table     level (0..10) -> op parameter, dispatch by index.
  randaugment  RandAugment with per-image ops and magnitudes.
  autoaugment  the CIFAR-10 AutoAugment policy, per-image sub-policy.
  color        SimCLR colour distortion and Gaussian blur.
  simclr       random resized crop and one SimCLR view.
  views        what the input pipeline calls: weak / strong / SimCLR / eval.
"""
