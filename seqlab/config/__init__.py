"""Structured-config schemas (dataclasses). Importing this package never imports torch."""
