"""What went wrong, for an operator: any exception a command lets through becomes one line, a hint and
an exit code (never a traceback, never a raw pydantic dump, never an HTML error page)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from momentsync.cli.context import EXIT_FAILED, EXIT_USAGE

_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Failure:
    message: str
    hint: str | None = None
    exit_code: int = EXIT_FAILED


def first_line(text: str, limit: int = 300) -> str:
    """The gist of a message that may be an HTML page or a multi-line dump."""
    text = _TAGS.sub(" ", text)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def one_line(exc: Exception) -> str:
    """A pydantic ValidationError (or any error) as one readable line: ``field: problem; ...``."""
    errors_of = getattr(exc, "errors", None)
    if callable(errors_of):
        try:
            return "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'value'}: {problem['msg']}"
                for problem in errors_of()
            )
        except (TypeError, KeyError):
            pass
    return first_line(str(exc))


def explain_failure(exc: BaseException) -> Failure:
    """Known kinds first (AWS credentials and reachability, AWS refusals, invalid data), then any other
    error by its type and first line."""
    # Imported here: only a failing command pays for botocore and pydantic.
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        TokenRetrievalError,
    )
    from pydantic import ValidationError

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return Failure(
            "no AWS credentials found",
            "set AWS_PROFILE (or run `aws sso login`) for a deployed stack, or use --local for `make run`",
        )
    if isinstance(exc, TokenRetrievalError):
        return Failure("the AWS SSO session has expired", "run `aws sso login` and try again")
    if isinstance(exc, NoRegionError):
        return Failure("no AWS region given", "add --region REGION, or use --config-env NAME")
    if isinstance(exc, EndpointConnectionError):
        return Failure(
            f"cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}",
            "for --local: is `make run` still running? otherwise check the network and the region",
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "error"))
        operation = getattr(exc, "operation_name", "the call")
        message = first_line(str(error.get("Message", ""))) or "no reason given"
        if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
            return Failure("the AWS credentials have expired", "refresh them (`aws sso login`) and try again")
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            return Failure(
                f"AWS refused {operation}: {message}",
                "the role you use needs the operator permissions on this stack (docs/operations.md)",
            )
        return Failure(f"AWS answered {code} to {operation}: {message}")
    if isinstance(exc, ValidationError):
        return Failure(f"invalid {exc.title}: {one_line(exc)}", exit_code=EXIT_USAGE)
    if isinstance(exc, FileNotFoundError):
        return Failure(f"file not found: {exc.filename}", "run from the momentsync repository")
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted")
    return Failure(
        f"{type(exc).__name__}: {first_line(str(exc)) or 'no message'}",
        "this is a bug if it repeats; MOMENTSYNC_DEBUG=1 shows the traceback",
    )
