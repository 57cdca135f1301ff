"""HX-MLOps stages: anonymize, encrypt, decrypt, validate, train, test, datagen."""

__version__ = "0.1.0"
