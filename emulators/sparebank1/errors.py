"""Error answers in the platform's shapes (docs/reference/sparebank1.md §3.4), raised as ``BizError`` by the
domain layer.

- 400 validation: the echoed entity plus ``_validationResults`` ({property: [{Message, EntityType, Level,
  PropertyName, ...}]}), a top-level ``Message`` and ``Messages[]`` (the front end's error parser reads all
  three; which of them the platform fills is not documented, so the emulator fills all of them).
- 500 foreign key: "Posting the number where the id belongs gives a foreign-key error, usually as a 500
  rather than a validation message"; the text is SQL Server's constraint message and names the column [INF].
- 401 "Authorization has been denied for this request." (documented text), 403 for a company the app is not
  activated for (the activation-gate text), 404 unknown route or record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# ValidationLevel "Error" [INF: the numeric value is not public].
LEVEL_ERROR = 3
UNAUTHORIZED_MESSAGE = "Authorization has been denied for this request."


@dataclass
class BizError(Exception):
    status: int
    body: Any
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.body}"


@dataclass(frozen=True)
class Problem:
    entity_type: str
    property_name: str
    message: str

    def as_result(self) -> dict[str, Any]:
        return {
            "Message": self.message,
            "EntityType": self.entity_type,
            "PropertyName": self.property_name,
            "Level": LEVEL_ERROR,
            "EntityValidationRule": None,
            "ComplexValidationRule": None,
        }


def validation_error(problems: list[Problem], echoed: Any = None) -> BizError:
    results: dict[str, list[dict[str, Any]]] = {}
    for problem in problems:
        results.setdefault(problem.property_name, []).append(problem.as_result())
    body: dict[str, Any] = dict(echoed) if isinstance(echoed, dict) else {}
    body["_validationResults"] = results
    body["Message"] = problems[0].message if len(problems) == 1 else "Validation failed"
    body["Messages"] = [problem.as_result() for problem in problems]
    return BizError(400, body)


def invalid(entity_type: str, property_name: str, message: str, echoed: Any = None) -> BizError:
    return validation_error([Problem(entity_type, property_name, message)], echoed)


def foreign_key_error(entity_type: str, field: str, target: str, value: Any) -> BizError:
    text = (
        "The INSERT statement conflicted with the FOREIGN KEY constraint "
        f'"FK_{entity_type}_{target}_{field}". '
        f'The conflict occurred in database "company", table "dbo.{target}", column \'ID\'. ({field}={value})'
    )
    return BizError(
        500,
        {
            "Message": "An error occurred while saving the entity changes. "
            "See the inner exception for details.",
            "ExceptionMessage": text,
            "Messages": [{"Message": text, "EntityType": entity_type, "PropertyName": field}],
        },
    )


def message_error(status: int, message: str) -> BizError:
    return BizError(status, {"Message": message, "Messages": [{"Message": message}]})


def unauthorized() -> BizError:
    return BizError(401, {"Message": UNAUTHORIZED_MESSAGE}, {"WWW-Authenticate": "Bearer"})


def not_activated(app_name: str) -> BizError:
    # The activation-gate text quoted in docs/reference/sparebank1.md §2.3 (from Unimicro.MCP's AUTH notes).
    return message_error(
        403,
        f"Du har ikke tilgang til {app_name} — produktet du prøver å aktivere er ikke tilgjengelig for "
        "ditt/dine selskap.",
    )


def not_found(what: str) -> BizError:
    return message_error(404, f"{what} not found")
