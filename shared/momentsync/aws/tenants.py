"""The tenant registry in DynamoDB."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr

from momentsync.clock import utcnow
from momentsync.tenants import Tenant, TenantConflict, TenantNotFound


def _to_item(tenant: Tenant) -> dict[str, Any]:
    item = tenant.model_dump(mode="json")
    # DynamoDB rejects empty strings in keys only; drop Nones to keep items small.
    return {key: value for key, value in item.items() if value is not None}


class DynamoTenantRepository:
    """Tenants on DynamoDB; ``save`` is a compare-and-set on ``version``."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, tenant_id: str) -> Tenant | None:
        item = self._table.get_item(Key={"tenant_id": tenant_id}, ConsistentRead=True).get("Item")
        return Tenant.model_validate(item) if item else None

    def require(self, tenant_id: str) -> Tenant:
        tenant = self.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        return tenant

    def create(self, tenant: Tenant) -> None:
        try:
            self._table.put_item(Item=_to_item(tenant), ConditionExpression=Attr("tenant_id").not_exists())
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as exc:
            raise TenantConflict(f"tenant {tenant.tenant_id} already exists") from exc

    def save(self, tenant: Tenant) -> Tenant:
        """Write ``tenant`` if nobody else changed it since it was read; returns the stored copy."""
        expected = tenant.version
        stored = tenant.model_copy(update={"version": expected + 1, "updated_at": utcnow()})
        try:
            self._table.put_item(
                Item=_to_item(stored),
                ConditionExpression=Attr("version").eq(expected),
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as exc:
            raise TenantConflict(f"tenant {tenant.tenant_id} was changed concurrently; re-read it") from exc
        return stored

    def list(self) -> list[Tenant]:
        tenants: list[Tenant] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._table.scan(**kwargs)
            tenants.extend(Tenant.model_validate(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(tenants, key=lambda t: t.tenant_id)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
