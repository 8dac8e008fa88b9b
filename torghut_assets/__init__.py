"""Torghut evidence and governance pipeline (Dagster code location)."""

__version__ = "0.1.0"
