"""Operator actions on a running stack: dead letters, replay, status, audit, tenant admin, resync.

Plain functions and small classes over boto3 adapters; the CLI (``momentsync.cli``) is one caller.
"""
