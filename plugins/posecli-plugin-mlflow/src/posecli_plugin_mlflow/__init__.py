"""MLflow for posecli training runs: ``[[train.callbacks]] name = "mlflow"``."""

__version__ = "0.1.0"
