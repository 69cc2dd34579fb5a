"""ieg_tf.data."""
