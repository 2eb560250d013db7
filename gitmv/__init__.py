"""git mv-promote: a Git-native model registry and promotion gate."""

__version__ = "0.1.0"
