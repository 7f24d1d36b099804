"""Training: fitting the configured estimator and the training run's steps (train, evaluate, finish)."""
