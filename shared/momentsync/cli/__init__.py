"""The operator CLI (`momentsync`). Runs on an operator's machine, not in Lambda (needs typer, rich)."""
