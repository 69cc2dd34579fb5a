"""ieg_tf.eval."""
