"""`make bench`: measures the local pipeline, prints a table, writes the same figures to results.json.

Parts (each with a size flag; defaults keep the whole run near five minutes on two cores):
  1  one tenant's backlog vs Fiken's ceiling (4 requests/s), Fiken latency 80 ms, rate rule on; again at
     300 ms, where one-in-flight binds: how much of the time the tenant's only slot is busy
  2  Fiken calls per event by kind, next to the minimum for that kind
  3  processor CPU per event (no remote waits), webhook handler p50/p95, cold import per function
  4  many tenants x events through the whole local pipeline: wall time, events/s, ordering; in this
     process the batch's tenants one after another (before issue 18) and overlapped
     (PROCESSOR_TENANT_CONCURRENCY), then once more with every function in worker processes and moto in
     its own (the rig's events/s and its CPU per event by process: docs/local-workers.md)
  5  cost per million events from the AWS calls and Lambda time counted in part 4, before and after, and
     per Lambda memory size

Everything runs on 127.0.0.1 (moto, the Fiken and Moment emulators) and is seeded.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import parts
from bench.cost import cost_per_million, memory_table
from bench.env import BenchEnv

RESULTS = Path(__file__).resolve().parent / "results.json"


def _portable(path: Path) -> str:
    """A path as results.json records it: relative to the repository, else its name alone (no machine's
    absolute paths in a tracked file)."""
    try:
        return str(path.resolve().relative_to(RESULTS.parent.parent))
    except ValueError:
        return path.name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--parts", default="1,2,3,4,5", help="comma-separated subset of 1-5")
    parser.add_argument("--backlog", type=int, default=60, help="part 1: events queued for one tenant")
    parser.add_argument("--fiken-latency-ms", type=float, default=80, help="part 1: Fiken answer latency")
    parser.add_argument(
        "--slow-latency-ms", type=float, default=300, help="part 1 again: one-in-flight binds (0 = skip)"
    )
    parser.add_argument("--slow-backlog", type=int, default=30, help="part 1 at the slow latency: events")
    parser.add_argument(
        "--tenant-concurrency", type=int, default=10, help="part 4: tenants of a batch at once (deployed: 10)"
    )
    parser.add_argument(
        "--lean-pollers",
        type=int,
        default=4,
        help="part 4 once more, overlapped with this many pollers: fuller batches (0 = skip)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="part 4: skip the run with the batch's tenants one after another (the old processor)",
    )
    parser.add_argument("--webhook-requests", type=int, default=300, help="part 3: timed webhook calls")
    parser.add_argument("--import-runs", type=int, default=5, help="part 3: fresh interpreters per function")
    parser.add_argument("--tenants", type=int, default=100, help="part 4: tenants (the target is 1000)")
    parser.add_argument("--events-per-tenant", type=int, default=20, help="part 4: events per tenant")
    parser.add_argument("--fast-latency-ms", type=float, default=5, help="parts 2 and 4: Fiken latency")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="part 4: pollers (deployed MaximumConcurrency: 50)"
    )
    parser.add_argument(
        "--idle-poll-ms", type=float, default=200, help="pause after an empty receive (Lambda long-polls)"
    )
    parser.add_argument("--senders", type=int, default=4, help="part 4: threads posting webhooks")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="part 4 on worker processes, this many (default: pollers + senders; 0 = skip that run)",
    )
    parser.add_argument(
        "--workers-only",
        action="store_true",
        help="part 4 only on worker processes (the 1,000-tenant run): no in-process part 4 runs",
    )
    parser.add_argument("--memory-mb", type=int, default=512, help="part 5: Lambda memory size priced")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wanted = {int(p) for p in args.parts.split(",") if p.strip()}
    started = time.perf_counter()
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "arguments": {k: _portable(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    workers = args.concurrency + args.senders if args.workers is None else args.workers
    if args.workers_only and not workers:
        raise SystemExit("--workers-only needs --workers above 0")
    in_process_part4 = not args.workers_only and bool(wanted & {4, 5})
    env: BenchEnv | None = None
    if wanted & {1, 2, 3} or in_process_part4:
        env = BenchEnv(seed=args.seed, idle_poll_seconds=args.idle_poll_ms / 1000)
    try:
        if 1 in wanted:
            _step("1 throughput under backlog")
            results["part1_throughput"] = parts.part1_throughput(
                env, backlog=args.backlog, latency=args.fiken_latency_ms / 1000
            )
            if args.slow_latency_ms:
                _step(f"1 throughput under backlog, Fiken latency {args.slow_latency_ms} ms")
                results["part1_throughput_slow"] = parts.part1_throughput(
                    env, backlog=args.slow_backlog, latency=args.slow_latency_ms / 1000
                )
        if 2 in wanted or 3 in wanted:
            _step("2 Fiken calls per event kind")
            results["part2_calls_per_kind"] = parts.part2_calls_per_kind(
                env, latency=args.fast_latency_ms / 1000
            )
        if 3 in wanted:
            _step("3 webhook latency, cold imports")
            results["part3_webhook"] = parts.part3_webhook_latency(env, requests=args.webhook_requests)
            results["part3_cold_import"] = parts.part3_cold_imports(env, runs=args.import_runs)
        runs: list[tuple[str, int]] = []  # (label, tenants of a batch at once)
        if in_process_part4:
            if not args.no_baseline:
                runs.append(("sequential", 1))
            runs.append(("overlapped", args.tenant_concurrency))
            if args.lean_pollers:
                runs.append(("lean", args.tenant_concurrency))
        if wanted & {4, 5} and workers:
            runs.append(("workers", args.tenant_concurrency))
        for label, tenant_concurrency in runs:
            where = f", {workers} worker processes" if label == "workers" else ""
            _step(
                f"4 {args.tenants} tenants x {args.events_per_tenant} events, {label} "
                f"({tenant_concurrency} tenants at once{where})"
            )
            if label == "workers":
                # A rig of its own: moto and the functions in processes of their own, the same seed.
                if env is not None:
                    env.stop()
                    env = None
                env = BenchEnv(
                    seed=args.seed,
                    idle_poll_seconds=args.idle_poll_ms / 1000,
                    workers=workers,
                    tenant_concurrency=tenant_concurrency,
                    stack_name="momentsync-bench-workers",
                )
            else:
                assert env is not None
                env.set_tenant_concurrency(tenant_concurrency)
            part4 = parts.part4_many_tenants(
                env,
                tenants=args.tenants,
                events=args.events_per_tenant,
                latency=args.fast_latency_ms / 1000,
                concurrency=args.lean_pollers if label == "lean" else args.concurrency,
                senders=args.senders,
            )
            suffix = "" if label == "overlapped" else f"_{label}"
            shown = {k: v for k, v in part4.items() if not k.startswith("_")}
            shown["processor_cpu_ms_per_event"] = round(
                sum(i.cpu for i in part4["_invocations"]) / part4["events"] * 1000, 2
            )
            shown["records_per_invocation"] = round(part4["events"] / max(1, len(part4["_invocations"])), 2)
            results[f"part4_many_tenants{suffix}"] = shown
            if 5 in wanted:
                cost = cost_per_million(
                    part4,
                    memory_mb=args.memory_mb,
                    secrets_per_tenant=part4["secrets_per_tenant"],
                    webhook_ms=results.get("part3_webhook", {}).get("wall_p50_ms"),
                    quiet_processor_ms=_quiet_processor_ms(results.get("part2_calls_per_kind"), part4),
                )
                imports = results.get("part3_cold_import", {}).get("functions", {}).get("processor", {})
                cost["memory_sizes"] = memory_table(
                    part4,
                    cost,
                    import_ms=imports.get("process_cpu_median_ms"),
                    import_rss_mb=imports.get("peak_rss_mb_after_import"),
                )
                results[f"part5_cost{suffix}"] = cost
    finally:
        if env is not None:
            env.stop()
    results["bench_runtime_s"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(render(results))
    print(f"\nwritten to {args.out} ({results['bench_runtime_s']} s)")
    return 0


# Part 4's event kinds and the part 2 measurement of the same kind (warm tenant, as in part 4).
_PART2_KIND = {
    "new customer": "new customer, tenant warm",
    "changed customer": "changed customer",
    "unchanged customer": "unchanged customer",
    "new project": "new project (customer linked)",
    "invoice": "invoice with PDF, later",
}


def _quiet_processor_ms(part2: dict[str, Any] | None, part4: dict[str, Any]) -> float | None:
    if not part2:
        return None
    kinds = part2["kinds"]
    mix = part4["event_mix"]
    return sum(kinds[_PART2_KIND[k]]["processor_wall_ms"] * n for k, n in mix.items()) / sum(mix.values())


def _step(name: str) -> None:
    print(f"[bench] part {name} ...", file=sys.stderr, flush=True)


def _cpus() -> int | None:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# ---------------------------------------------------------------------- the table
def render(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []  # (figure, measured, goal / minimum / note)

    def section(title: str) -> None:
        rows.append((f"== {title}", "", ""))

    for key in ("part1_throughput", "part1_throughput_slow"):
        if not (p1 := results.get(key)):
            continue
        section(f"1. Per-tenant throughput, backlog of {p1['backlog_events']} ({p1['event_kind']})")
        rows.append(
            ("Fiken latency", f"{p1['fiken_latency_ms']} ms", "rate rule on: 1 in flight, 4 starts/s")
        )
        rows.append(("Fiken requests / busy window", f"{p1['fiken_requests']} / {p1['busy_window_s']} s", ""))
        rows.append(
            ("achieved req/s (ratio of 4/s)", f"{p1['achieved_rps']} ({p1['ratio_of_4rps']})", "goal >= 0.95")
        )
        rows.append(("429 answers", str(p1["http_429"]), "goal 0"))
        for kind, gap in p1["gap_breakdown"].items():
            rows.append(
                (
                    f"  gaps {kind.replace('_', ' ')}",
                    f"{gap['intervals']} x {gap['mean_ms']} ms",
                    f"started {gap['lost_s']} s later than Fiken's rule allowed",
                )
            )
        rows.append(
            (
                "shortest span of 5 starts",
                f"{p1['min_5_start_span_ms']} ms",
                "Fiken's rule (emulated): >= 980 ms",
            )
        )
        if "why_missed" in p1:
            rows.append(("  why it missed", "", p1["why_missed"]))
        rows.append(
            (
                "in-flight slot busy",
                f"{p1['slot_busy_fraction']}",
                "goal >= 0.95 where one-in-flight binds (latency > 1.02 s window / 4)",
            )
        )
    if p2 := results.get("part2_calls_per_kind"):
        section("2. Fiken calls per event (measured / minimum), CPU, DynamoDB calls, wall; idle tenant")
        for kind, k in p2["kinds"].items():
            note = k.get("above_minimum_because", "")
            dynamodb = sum(n for op, n in k["processor_aws_calls"].items() if op.startswith("dynamodb:"))
            rows.append(
                (
                    f"{kind}",
                    f"{k['fiken_calls']} / {k['minimum']}   cpu {k['processor_cpu_ms']} ms   ddb {dynamodb}",
                    f"{', '.join(k['calls']) or 'no call'}" + (f"  [+: {note}]" if note else ""),
                )
            )
            if "processor_wall_ms_fixed_spacing" in k:
                rows.append(
                    (
                        "  processor wall",
                        f"{k['processor_wall_ms']} ms",
                        f"before (0.255 s between Fiken starts): {k['processor_wall_ms_fixed_spacing']} ms",
                    )
                )
    if p3 := results.get("part3_webhook"):
        section("3. Webhook handler (warm, in-process, moto SQS) and cold import")
        rows.append(
            (
                f"webhook wall p50 / p95 ({p3['requests']} req)",
                f"{p3['wall_p50_ms']} / {p3['wall_p95_ms']} ms",
                "anchor: p50 < 150 ms warm (docs/reference/anchors.md §3.6)",
            )
        )
        rows.append(("webhook CPU p50 / p95", f"{p3['cpu_p50_ms']} / {p3['cpu_p95_ms']} ms", ""))
    if p3c := results.get("part3_cold_import"):
        for name, f in p3c["functions"].items():
            heaviest = ", ".join(f"{k} {v}" for k, v in list(f["heaviest_top_level_imports_ms"].items())[:3])
            rows.append(
                (
                    f"cold `import app`: {name}",
                    f"{f['import_wall_median_ms']} ms (importtime sum {f['importtime_total_ms']})",
                    f"heaviest: {heaviest}",
                )
            )
    for key in ("part4_many_tenants", "part4_many_tenants_workers"):
        if not (p4 := results.get(key)):
            continue
        scale = f"{p4['tenants']} tenants x {p4['events_per_tenant']} events"
        where = (
            f"{p4['worker_processes']} worker processes, moto in its own"
            if p4.get("worker_processes")
            else "one process"
        )
        section(f"4. {scale} (target 1000 x 20), Fiken latency {p4['fiken_latency_ms']} ms, {where}")
        rows.append(
            (
                "wall time / events per s",
                f"{p4['wall_s']} s / {p4['events_per_s']}",
                f"ingest {p4['ingest_s']} s, drain after ingest {p4['drain_after_ingest_s']} s, "
                f"{p4['poller_concurrency']} pollers, {p4['tenant_concurrency']} tenants at once, "
                f"tenant setup {p4['tenant_setup_s']} s",
            )
        )
        if cpu := p4.get("rig_cpu_ms_per_event"):
            rows.append(
                (
                    "rig CPU per event",
                    f"{cpu['total']} ms",
                    ", ".join(f"{k} {v}" for k, v in cpu.items() if k != "total")
                    + f"; idle-machine ceiling {p4['events_per_s_ceiling_idle_machine']} events/s"
                    f" (stack process <= 1 core); load at end {p4['load_average_1m_at_end']}",
                )
            )
            threads = p4["stack_cpu_ms_per_event_by_thread"]
            rows.append(("  stack process by thread", "", ", ".join(f"{k} {v}" for k, v in threads.items())))
        order = p4["ordering"]
        rows.append(
            (
                "ordering violations",
                str(order["violations"]),
                f"goal 0; missing {order['missing']}, repeats {order['repeats']}, "
                f"transfer-log order violations {order['transfer_log_order_violations']}",
            )
        )
        reasons = ", ".join(f"{k} {v}" for k, v in p4["http_429_by_reason"].items() if v)
        rows.append(("outcomes", ", ".join(f"{k} {v}" for k, v in p4["outcomes"].items()), ""))
        rows.append(("Fiken 429 answers", str(p4["http_429"]), f"goal 0; {reasons or 'none'}"))
        rows.append(
            (
                "Fiken requests per event",
                f"{p4['fiken_requests'] / p4['events']:.2f}",
                "mix: " + ", ".join(f"{k} {v}" for k, v in p4["event_mix"].items()),
            )
        )
        rows.append(
            (
                "processor CPU per event",
                f"{p4['processor_cpu_ms_per_event']} ms",
                "worker process CPU (all its threads)"
                if p4.get("worker_processes")
                else "CPU of the invoking and tenant-group threads, no remote work",
            )
        )
    if p5 := results.get("part5_cost") or results.get("part5_cost_workers"):
        section(f"5. Cost per million events (Lambda arm64 {p5['memory_mb']} MB, {p5['prices']['region']})")
        e = p5["per_event"]
        rows.append(
            (
                "per event: SQS / RRU / WRU / secrets",
                f"{e['sqs_billed_requests']} / {e['dynamodb_rru']} / {e['dynamodb_wru']} / "
                f"{e['secrets_manager_calls']}",
                f"log {e['log_bytes']} B, billed ms: processor {e['processor_billed_ms']}, "
                f"webhook {e['webhook_billed_ms']}",
            )
        )
        for item, usd in p5["usd_per_million_events"].items():
            rows.append((f"  {item.replace('_', ' ')}", f"${usd:.2f}", ""))
        rows.append(
            (
                "total per million events",
                f"${p5['usd_per_million_total']:.2f}",
                f"anchor < $25; CPU-only floor ${p5['usd_per_million_total_if_billed_cpu_only']:.2f}",
            )
        )
        if p5.get("usd_per_million_total_processor_quiet") is not None:
            rows.append(
                (
                    "total, processor timed quietly",
                    f"${p5['usd_per_million_total_processor_quiet']:.2f}",
                    f"processor {p5['processor_ms_per_event_quiet']} ms/event (part 2 timings, part 4 mix)",
                )
            )
        rows.append(
            (
                "fixed per tenant-month",
                f"${p5['fixed_usd_per_tenant_month']:.2f}",
                f"= variable cost of {p5['fixed_equals_events']} events; anchor < $0.10",
            )
        )
    after = results.get("part5_cost")
    runs = [
        (label, results[f"part4_many_tenants{suffix}"], results[f"part5_cost{suffix}"])
        for label, suffix in (
            ("before", "_sequential"),
            ("after", ""),
            ("after, fewer pollers", "_lean"),
            ("after, worker processes", "_workers"),
        )
        if f"part4_many_tenants{suffix}" in results and f"part5_cost{suffix}" in results
    ]
    if len(runs) > 1:
        heading = " | ".join(
            f"{label}: {p4['tenant_concurrency']} tenant(s) at once, {p4['poller_concurrency']} pollers"
            for label, p4, _ in runs
        )
        section(f"4+5. Side by side in one run ({heading})")

        def calls(cost: dict[str, Any], service: str) -> str:
            return f"{sum(v for k, v in cost['per_event']['aws_calls'].items() if k.startswith(service)):.2f}"

        def order(p4: dict[str, Any]) -> str:
            return "/".join(str(p4["ordering"][k]) for k in ("violations", "missing", "repeats"))

        figures: list[tuple[str, Any, str]] = [
            (
                "records / tenants per invocation",
                lambda p4, c: f"{p4['records_per_invocation']} / {p4['groups_per_invocation']}",
                "",
            ),
            (
                "processor billed ms per event",
                lambda p4, c: c["per_event"]["processor_billed_ms"],
                "goal 3x less",
            ),
            ("processor CPU ms per event", lambda p4, c: c["per_event"]["processor_cpu_ms"], "goal <= 5 ms"),
            ("DynamoDB calls per event", lambda p4, c: calls(c, "dynamodb:"), ""),
            (
                "DynamoDB RRU / WRU per event",
                lambda p4, c: f"{c['per_event']['dynamodb_rru']} / {c['per_event']['dynamodb_wru']}",
                "",
            ),
            (
                "log bytes per event",
                lambda p4, c: c["per_event"]["log_bytes"],
                "deployed level INFO, both functions",
            ),
            ("USD per million events", lambda p4, c: f"${c['usd_per_million_total']:.2f}", "goal <= $5"),
            ("fixed per tenant-month", lambda p4, c: f"${c['fixed_usd_per_tenant_month']:.2f}", "no higher"),
            ("wall s / events per s", lambda p4, c: f"{p4['wall_s']} / {p4['events_per_s']}", ""),
            ("ordering violations/missing/repeats", lambda p4, c: order(p4), "goal 0"),
            ("Fiken 429 answers", lambda p4, c: p4["http_429"], "goal 0"),
        ]
        for figure, value, note in figures:
            rows.append((figure, "  ->  ".join(str(value(p4, c)) for _, p4, c in runs), note))
    if after and after.get("memory_sizes"):
        section("5b. Processor memory size (after): billed time, cost, cold init, modelled from part 4")
        for m in after["memory_sizes"]:
            rows.append(
                (
                    f"{m['memory_mb']} MB",
                    f"{m['processor_billed_ms_per_event']} ms/event, ${m['total_usd_per_million']:.2f}/M",
                    f"cold init ~{m['cold_init_ms_estimate']} ms"
                    + ("" if m["fits"] else "; below 1.5 x the import's RSS"),
                )
            )
    body = [r for r in rows if not r[0].startswith("==")]  # section titles span the whole line
    width = max(len(r[0]) for r in body) + 2
    mid = max(len(r[1]) for r in body) + 2
    out = []
    for figure, value, note in rows:
        out.append(figure if figure.startswith("==") else f"{figure:<{width}}{value:<{mid}}{note}".rstrip())
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
