"""Moment: its webhooks, its REST API client and the models of its JSON (every Moment field name)."""
