"""`wangge train-classifier` (the command name of the issue); the code is in train_classifier.py."""

from .train_classifier import Command  # noqa: F401
