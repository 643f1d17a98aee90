"""Training: distillation losses (``distillab.train.losses``), config, collation and trainer modes."""
