"""HX-MLOps Model Sharing and Dataset Sharing APIs."""

__version__ = "0.1.0"
