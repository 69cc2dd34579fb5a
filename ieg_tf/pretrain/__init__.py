"""ieg_tf.pretrain."""
