"""ieg_tf.optim."""
