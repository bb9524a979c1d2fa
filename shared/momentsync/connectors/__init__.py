"""Accounting connectors: one sub-package per target system."""
