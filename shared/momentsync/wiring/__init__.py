"""Composition roots: the real adapters (boto3, httpx) wired into the use cases at cold start, and the
connector registry that picks the accounting target for a tenant."""
