"""ieg_tf.runtime."""
