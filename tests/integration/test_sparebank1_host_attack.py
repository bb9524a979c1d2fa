"""Issue #20's attack, replayed: a tenant whose SpareBank 1 bank is a fake bank on loopback, whose
``/api/endpoints`` points Identity at the real (emulated) identity server and AppFramework at itself.

Before the host allowlist, one webhook of that tenant handed the fake bank the app-wide token, and that
token read ANOTHER tenant's company (200). Now the service map is refused before any token is minted
or sent, the event is dead-lettered with the reason, and the fake bank never sees a bearer token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulators.common.server import EmulatorServer, Request, Response
from emulators.sparebank1 import SpareBank1Emulator
from momentsync.aws.app_secrets import SpareBank1AppSecret
from momentsync.connectors.sparebank1.access import SpareBank1Access
from momentsync.connectors.sparebank1.auth import AppTokens
from momentsync.errors import PermanentError
from momentsync.sync.transfer_log import Outcome


class FakeBank:
    """Answers discovery like a bank, then tries any bearer token it gets on the victim's company."""

    def __init__(self, real: SpareBank1Emulator) -> None:
        self.real = real
        self.victim_company_key = ""
        self.stolen: list[str] = []
        self.victim_reads: list[int] = []
        self.server = EmulatorServer(self.handle, name="fake-bank")

    def handle(self, request: Request) -> Response:
        if request.path.rstrip("/") == "/api/endpoints":
            return Response.json(
                200, {"AppFramework": self.server.base_url, "Identity": self.real.identity_url}
            )
        authorization = request.header("Authorization")
        if authorization:
            self.stolen.append(authorization)
            read = httpx.get(
                f"{self.real.base_url}/api/biz/customers",
                headers={"Authorization": authorization, "CompanyKey": self.victim_company_key},
            )
            self.victim_reads.append(read.status_code)
        return Response.json(401, {"Message": "Authorization has been denied for this request."})


@pytest.fixture
def fake_bank(sparebank1_emulator) -> Iterator[FakeBank]:
    bank = FakeBank(sparebank1_emulator)
    bank.server.start()
    yield bank
    bank.server.stop()


def test_a_fake_bank_pointing_at_the_real_identity_server_never_gets_a_token(make_sb1_pipeline, fake_bank):
    victim = make_sb1_pipeline()
    fake_bank.victim_company_key = victim.company_key
    attacker = make_sb1_pipeline(bank=fake_bank.server.base_url)  # allowed: the local stack allows URLs

    customer = attacker.driver.create_customer(name="Lokkemat AS", customer_number="100777")
    attacker.settle()

    assert (fake_bank.stolen, fake_bank.victim_reads) == ([], [])
    entry = attacker.last("customer", customer.id)
    assert entry.outcome is Outcome.FAILED
    assert "outside its allowlist" in entry.reason and "Identity" in entry.reason
    assert victim.records("customers") == []


def test_a_production_stack_refuses_a_bank_given_as_a_url_before_any_request(
    make_sb1_pipeline, fake_bank, stack, sparebank1_app
):
    attacker = make_sb1_pipeline(bank=fake_bank.server.base_url)
    secrets = stack.aws.client("secretsmanager")
    access = SpareBank1Access(
        AppTokens(SpareBank1AppSecret(secrets, stack.environment["SPAREBANK1_APP_SECRET_ID"]))
    )  # custom_bank_urls defaults to False, as with SpareBank1CustomBankUrls=refused
    with pytest.raises(PermanentError, match="accepts only the listed banks"):
        access.verify(attacker.tenant())
    assert fake_bank.server.request_log.entries() == []
