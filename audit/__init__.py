"""``make audit``: known vulnerabilities in the Lambda layer's locked dependencies (docs/security.md)."""
