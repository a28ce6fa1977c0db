"""Training and evaluation engine: trainer, checkpoints, EMA, schedules, evaluation loop."""
