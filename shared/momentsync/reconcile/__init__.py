"""Reconciliation: the books converge on Moment even when webhooks or our own sync state are lost."""
