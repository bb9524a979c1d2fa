"""Attack on issue 18 (1,000 tenants, clients created once and kept per tenant): a warm processor keeps
an HTTPS client per tenant for Moment and for Fiken, for the life of the execution environment. Each
holds its connections open after the tenant's events are done (the server closes an idle one, the
socket stays until the client is used again or closed). Lambda allows 1,024 file descriptors: an
environment that has served some hundreds of tenants must not run out of them."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

from momentsync.sync.transfer_log import Outcome
from momentsync.wiring.tenant_sessions import TenantSessions


def client_sockets_to(*base_urls: str) -> int:
    """This process's open sockets whose far end is one of these servers (the processor's clients)."""
    ports = {urlsplit(url).port for url in base_urls}
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port in ports and fields[9] in inodes:
                count += 1
    return count


def test_connections_of_tenants_served_earlier_do_not_pile_up(make_pipeline, monkeypatch):
    # The processor keeps the most recent tenants' clients warm: 4 here instead of 64, so that 24 show it.
    monkeypatch.setattr(TenantSessions, "max_warm_tenants", 4)
    pipelines = [make_pipeline() for _ in range(3)]  # warm the stack's own pools
    for p in pipelines:
        p.driver.create_customer(name="Oppvarming AS")
    for p in pipelines:
        p.settle()
    servers = (pipelines[0].fiken.base_url, pipelines[0].moment.base_url)
    before = client_sockets_to(*servers)

    served = [make_pipeline() for _ in range(24)]
    for p in served:
        customer = p.driver.create_customer(name="Kunde AS")
        p.settle()
        assert p.last("customer", customer.id).outcome is Outcome.SYNCED
    time.sleep(11)  # past the emulators' idle keep-alive: they have closed their end by now
    grown = client_sockets_to(*servers) - before
    # A bounded number of tenants' clients stay warm; the rest are closed, not kept for ever.
    assert grown <= 2 * 4, f"{grown} more open sockets to Fiken and Moment after 24 tenants were served"
