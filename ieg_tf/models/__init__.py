"""ieg_tf.models."""
