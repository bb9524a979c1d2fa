"""Webhook ingestion: authenticate, validate, enqueue. Nothing here talks to Moment or the target."""
