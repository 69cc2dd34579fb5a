"""ieg_tf.meta."""
