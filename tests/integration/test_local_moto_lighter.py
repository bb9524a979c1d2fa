"""The local stack's moto patches that save CPU (local.aws.lighter_moto) answer as moto did.

A table query reads only its own partition now: the answers must be the same items in the same order,
paged the same way, with an index query (which still reads every item) untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.aws import _start_moto_server


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    server, endpoint = _start_moto_server()
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="eu-north-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto's, not a credential
    )
    client.create_table(
        TableName="log",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-kind",
                "KeySchema": [
                    {"AttributeName": "kind", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    # Three tenants' entries written out of order, interleaved.
    for n in (7, 2, 9, 4, 1, 8, 3, 6, 5, 0):
        for tenant in ("b", "a", "c"):
            client.put_item(
                TableName="log",
                Item={
                    "pk": {"S": tenant},
                    "sk": {"S": f"{n:02d}"},
                    "kind": {"S": "odd" if n % 2 else "even"},
                },
            )
    yield client
    server.stop()


def _keys(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["pk"]["S"], i["sk"]["S"]) for i in page["Items"]]


def test_a_query_returns_its_partition_in_range_key_order(dynamodb: Any) -> None:
    page = dynamodb.query(
        TableName="log", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}}
    )
    assert _keys(page) == [("a", f"{n:02d}") for n in range(10)]
    assert page["Count"] == page["ScannedCount"] == 10


def test_backwards_paged_and_ranged_queries_are_unchanged(dynamodb: Any) -> None:
    query = {
        "TableName": "log",
        "KeyConditionExpression": "pk = :p AND sk >= :s",
        "ExpressionAttributeValues": {":p": {"S": "c"}, ":s": {"S": "03"}},
        "ScanIndexForward": False,
        "Limit": 4,
    }
    first = dynamodb.query(**query)
    second = dynamodb.query(**query, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert _keys(first) + _keys(second) == [("c", f"{n:02d}") for n in (9, 8, 7, 6, 5, 4, 3)]
    assert "LastEvaluatedKey" not in second


def test_a_missing_partition_is_empty(dynamodb: Any) -> None:
    page = dynamodb.query(
        TableName="log", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "zz"}}
    )
    assert page["Items"] == [] and page["Count"] == 0


def test_an_index_query_still_sees_every_partition(dynamodb: Any) -> None:
    page = dynamodb.query(
        TableName="log",
        IndexName="by-kind",
        KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "odd"}},
    )
    assert sorted(_keys(page)) == sorted((t, f"{n:02d}") for t in "abc" for n in (1, 3, 5, 7, 9))
