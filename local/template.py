"""Reads template.yaml for the local stack: resources, function environments and HTTP routes.

The local stack must not keep a second copy of the infrastructure, so queues, tables and function
environments are taken from the template itself. Only the intrinsics the template uses are resolved
(Ref, GetAtt, Sub, Select, Split, Join, If/Not/Equals); anything else fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


class _Intrinsic(dict):
    """A YAML short-form tag (!Ref x) turned into its long form ({"Ref": x})."""


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return _Intrinsic({name: value})


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass with CFN tags


@dataclass
class LocalNames:
    """Physical names the local stack gives to resources (what CloudFormation would generate)."""

    stack_name: str = "momentsync-local"
    region: str = "eu-north-1"
    account_id: str = "123456789012"
    parameters: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)


# ``!Ref AWS::NoValue``: CloudFormation drops the property (here: the environment variable) it stands for.
NO_VALUE = object()


class Resolver:
    def __init__(self, template: dict[str, Any], names: LocalNames) -> None:
        self.template = template
        self.names = names
        defaults = {key: str(spec.get("Default", "")) for key, spec in template.get("Parameters", {}).items()}
        self.parameters = {**defaults, **names.parameters}
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Select": lambda v: self.resolve(v[1])[int(self.resolve(v[0]))],
            "Fn::Split": lambda v: self.resolve(v[1]).split(v[0]),
            "Fn::Join": lambda v: v[0].join(str(self.resolve(x)) for x in v[1]),
            "Fn::If": self._if,
            "Fn::Not": lambda v: not self.resolve(v[0]),
            "Fn::Equals": lambda v: self.resolve(v[0]) == self.resolve(v[1]),
            "Fn::And": lambda v: all(self.resolve(x) for x in v),
            "Fn::Or": lambda v: any(self.resolve(x) for x in v),
            "Fn::Condition": lambda v: self.resolve(self.template.get("Conditions", {})[v]),
        }

    def pseudo(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        return {
            "AWS::StackName": self.names.stack_name,
            "AWS::Region": self.names.region,
            "AWS::AccountId": self.names.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key in self._functions:
                return self._functions[key](arg)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.names.physical:
            return self.names.physical[name]
        raise KeyError(f"local stack cannot resolve Ref {name} (resource not created locally)")

    def _get_att(self, arg: list[str]) -> str:
        key = (arg[0], arg[1])
        if key not in self.names.attributes:
            raise KeyError(f"local stack cannot resolve GetAtt {arg[0]}.{arg[1]}")
        return self.names.attributes[key]

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        resolved_vars = {k: str(self.resolve(v)) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved_vars:
                return resolved_vars[name]
            if "." in name:
                return self._get_att(name.split(".", 1))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _if(self, arg: list[Any]) -> Any:
        condition = self.template.get("Conditions", {})[arg[0]]
        return self.resolve(arg[1] if self.resolve(condition) else arg[2])


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, Any]
    http_routes: list[tuple[str, str]]
    sqs_sources: list[dict[str, Any]]


def functions(template: dict[str, Any]) -> list[FunctionSpec]:
    """Each AWS::Serverless::Function with its merged (Globals + own) environment, unresolved."""
    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    specs = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        routes, sources = [], []
        for event in props.get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes.append((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
            elif event["Type"] == "SQS":
                sources.append(event["Properties"])
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                code_dir=ROOT / props["CodeUri"],
                handler=props["Handler"],
                environment=env,
                http_routes=routes,
                sqs_sources=sources,
            )
        )
    return specs
