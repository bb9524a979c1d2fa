"""botocore settings for the clients on the processor's hot path (every event makes 3-12 AWS calls)."""

from __future__ import annotations

import boto3
import botocore
from botocore.config import Config


def hot_path_config() -> Config:
    """Less client-side CPU per call, nothing less checked (measured in docs/benchmarks.md).

    - ``parameter_validation=False``: botocore's own check of every request against the service model
      (about 0.1 ms a call here) repeats what the service checks anyway; our adapters build each
      request from typed models, and a malformed one still fails, as a ``ClientError`` from AWS
      (ValidationException) instead of a ``ParamValidationError``, which the processor treats alike
      (unclassified: retried briefly, then dead-lettered with its reason).
    - ``user_agent``: a fixed string instead of the one botocore rebuilds twice per call from some 30
      parts. It still names the SDK and its version, for CloudTrail's userAgent and AWS support.
    """
    return Config(
        parameter_validation=False,
        user_agent=f"momentsync-processor Boto3/{boto3.__version__} Botocore/{botocore.__version__}",
    )


def deadline_write_config() -> Config:
    """The transfer log's writes near Lambda's deadline: they must end within the margin the processor
    leaves them (``DEADLINE_MARGIN_SECONDS``, 3 s), or the entries they hold die with the process.

    botocore's default for DynamoDB, ten attempts with pauses doubling from 50 ms and 60 s timeouts,
    kept a throttled write going some 25 s. Three attempts (pauses 50 and 100 ms) and sub-second
    timeouts end one call within about 2.6 s; an entry still not written is reported, never raised
    (the log is an audit copy: every event's "event processed" line holds its content). Only those
    writes: the batch's ordinary end and every read keep the patient defaults.
    """
    return hot_path_config().merge(
        Config(retries={"mode": "legacy", "total_max_attempts": 3}, connect_timeout=0.5, read_timeout=0.8)
    )
