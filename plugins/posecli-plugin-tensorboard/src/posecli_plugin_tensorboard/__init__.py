"""TensorBoard for posecli training runs: ``[[train.callbacks]] name = "tensorboard"``."""

__version__ = "0.1.0"
