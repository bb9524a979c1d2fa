"""Loads a function's handler the way Lambda does (its code folder plus the layer) and invokes it."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local.template import ROOT, FunctionSpec

LAYER_PATH = str(ROOT / "shared")


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that Powertools and our handlers read."""

    function_name: str
    timeout_seconds: float = 120.0
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-north-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def module_name(spec: FunctionSpec) -> str:
    """A module name unique to the function: every function's handler file is called app.py."""
    return f"_lambda_{spec.logical_id}_{spec.handler.rsplit('.', 1)[0]}"


def load_handler(spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
    """Imports ``<CodeUri>/<module>.py`` the way Lambda does, with the layer on the path."""
    if LAYER_PATH not in sys.path:
        sys.path.insert(0, LAYER_PATH)
    file_stem, function_name = spec.handler.rsplit(".", 1)
    unique = module_name(spec)
    module: ModuleType | None = sys.modules.get(unique)
    if module is None:
        file_spec = importlib.util.spec_from_file_location(unique, spec.code_dir / f"{file_stem}.py")
        assert file_spec and file_spec.loader
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[unique] = module
        file_spec.loader.exec_module(module)
    return getattr(module, function_name)


def invoke(
    handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], name: str, timeout: float
) -> Any:
    return handler(event, LocalLambdaContext(function_name=name, timeout_seconds=timeout))
