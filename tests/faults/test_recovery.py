"""Reliability under faults, done for real: a worker's pool process killed mid-run, the
broker down when matching is asked for and back later, PostgreSQL's connections cut,
SIGTERM to a worker and to the web server. Nothing is lost, nothing runs twice, and it
recovers without anyone clicking again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import select

from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import MatchRunState, OrderState, Proposal, ProposalState
from marketplace.orders.outbox import Work
from marketplace.orders.posting.service import create_order
from marketplace.orders.runs.service import latest_run
from marketplace.orders.workers.dispatchers import CeleryDispatcher
from tests.conftest import Browser, service_reachable
from tests.faults.conftest import (
    ROOT,
    books_balance,
    free_port,
    line,
    order_input,
    order_states,
    person,
    principal,
    queue_heavy_run,
    run_of,
    wait_for,
)
from tests.orders.conftest import REDIS
from tests.orders.test_matching_runs import big_cluster

pytestmark = pytest.mark.slow
SHARED_REDIS = "redis://127.0.0.1:6379/0"


def needs_redis() -> None:
    if not service_reachable(*REDIS):
        pytest.skip("Redis unreachable at 127.0.0.1:6379")


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a worker's pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def solving(committed, run_id: int) -> bool:
    run = run_of(committed, run_id)
    return run.state == MatchRunState.RUNNING and run.progress.get("phase") == "solving"


def no_doubled_work(committed, order_ids: list[int], run_id: int) -> None:
    """Every live proposal of the orders came from the run, once per line and factory."""
    with committed.session() as session:
        live = session.exec(
            select(Proposal).where(
                Proposal.order_id.in_(order_ids),  # type: ignore[attr-defined]
                Proposal.state.in_((ProposalState.PENDING, ProposalState.ACCEPTED)),  # type: ignore[attr-defined]
            )
        ).all()
    assert live and {p.match_run_id for p in live} == {run_id}
    keys = [(p.order_line_id, p.factory_id) for p in live]
    assert len(keys) == len(set(keys))


def test_a_run_whose_worker_process_is_killed_comes_back_by_itself(committed, background):
    needs_redis()
    processes = background(SHARED_REDIS)
    worker = processes.worker(1)
    processes.beat()
    run_id, order_ids = queue_heavy_run(committed, "grinding", "titanium", time_limit_s=8)
    CeleryDispatcher(SHARED_REDIS, processes.queue).submit(Work(runs=[run_id]))
    wait_for(lambda: solving(committed, run_id), 60, "the run started")

    [pool] = children_of(worker.pid)
    os.kill(pool, signal.SIGKILL)
    recovered_s = wait_for(lambda: run_of(committed, run_id).attempts >= 2, 60, "the run came back")
    wait_for(
        lambda: run_of(committed, run_id).state == MatchRunState.SUCCEEDED,
        90,
        f"the run finished after its recovery\n{processes.logs()}",
    )
    run = run_of(committed, run_id)
    assert recovered_s < 60, recovered_s
    assert run.attempts == 2 and run.error is None
    assert worker.poll() is None, processes.logs()
    assert books_balance(committed, "grinding") == (0, 0)
    assert set(order_states(committed, order_ids)) <= {OrderState.PROPOSED, OrderState.OPEN}
    no_doubled_work(committed, order_ids, run_id)


def test_matching_asked_while_the_broker_is_down_runs_once_it_is_back(
    committed, committed_app, background, redis_server
):
    processes = background(redis_server.url)
    processes.worker(1)
    processes.beat()
    with committed.session() as session:
        big_cluster(session, "forging", "brass", shops=6)
        member = person(session, OrganizationKind.BUYER, Role.BUYER_MEMBER)
        order = create_order(
            session,
            principal(session, member),
            order_input(*[line(process_code="forging", material="brass", hours=Decimal(5))] * 4),
            submit=True,
        )
        order_id = order.id
    redis_server.stop()

    app = committed_app("celery", broker=redis_server.url)
    browser = Browser(app.test_client())
    browser.login(member)
    asked = time.monotonic()
    response = browser.form(f"/orders/{order_id}/match", {"time_limit_s": "2"})
    assert response.status_code == 303 and time.monotonic() - asked < 10
    with committed.session() as session:
        run = latest_run(session, order_id)
        run_id = run.id
        assert run.state == MatchRunState.QUEUED
    panel = browser.get(f"/orders/{order_id}/progress").get_data(as_text=True)
    assert "queued" in panel

    time.sleep(2)
    redis_server.start()
    finished_s = wait_for(
        lambda: run_of(committed, run_id).state == MatchRunState.SUCCEEDED,
        60,
        f"the run after the broker came back\n{processes.logs()}",
    )
    assert finished_s < 60
    assert run_of(committed, run_id).attempts == 1  # handed over twice at most, run once
    assert order_states(committed, [order_id]) == [OrderState.PROPOSED]
    assert books_balance(committed, "forging") == (0, 0)


def _cut_database(database_url: str, allow: bool) -> None:
    """Refuse (or allow again) new connections to the database, and end the open ones."""
    url = make_url(database_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = url.database
    with admin.connect() as connection:
        connection.execute(
            sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        )
        if not allow:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
    admin.dispose()


def test_a_database_cut_answers_503_and_recovers_by_itself(committed, committed_app, committed_url):
    app = committed_app("manual")
    client = app.test_client()
    with committed.session() as session:
        member = person(session, OrganizationKind.BUYER, Role.BUYER_MEMBER)
        before = session.execute(sa.text("SELECT count(*) FROM purchase_order")).scalar()
    browser = Browser(client)
    browser.login(member)
    body = {
        "title": "Posted during the cut",
        "due_date": "2030-01-01",
        "delivery_country": "DE",
        "delivery_latitude": 48.78,
        "delivery_longitude": 9.18,
        "lines": [{"process_code": "milling", "material": "steel", "quantity": 1, "hours": 2}],
    }
    token = browser.csrf_token()
    _cut_database(committed_url, allow=False)
    try:
        health = client.get("/healthz")
        assert health.status_code == 503 and health.get_json()["database"] == "unavailable"
        page = browser.get("/orders")
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        posted = client.post("/api/v1/orders", json=body, headers={"X-CSRFToken": token})
        assert posted.status_code == 503
        assert posted.get_json()["error"] == "service_unavailable"
        assert posted.headers["Retry-After"] == "5"
    finally:
        _cut_database(committed_url, allow=True)
    wait_for(lambda: client.get("/healthz").status_code == 200, 10, "the database is back")
    assert browser.get("/orders").status_code == 200
    with committed.session() as session:
        # Nothing of the refused write was kept.
        assert session.execute(sa.text("SELECT count(*) FROM purchase_order")).scalar() == before


def test_a_run_rides_out_terminated_connections(committed, committed_app, committed_url):
    """The web process's own run thread: its connections are terminated twice while it
    solves; its heartbeat and the application of its plan reconnect by themselves."""
    app = committed_app("thread", RUN_SILENCE_S=30)
    run_id, order_ids = queue_heavy_run(committed, "stamping", "stainless_steel", time_limit_s=6)
    dispatcher = app.extensions["factoryweb.orders.dispatcher"]
    dispatcher.submit(Work(runs=[run_id]))
    wait_for(lambda: solving(committed, run_id), 60, "the run started")
    url = make_url(committed_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    for _ in range(2):
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": url.database},
            )
        time.sleep(2)
    admin.dispose()
    wait_for(
        lambda: run_of(committed, run_id).state == MatchRunState.SUCCEEDED, 60, "the run ended"
    )
    assert run_of(committed, run_id).attempts == 1
    assert books_balance(committed, "stamping") == (0, 0)
    no_doubled_work(committed, order_ids, run_id)


def test_sigterm_lets_a_worker_finish_its_run(committed, background):
    needs_redis()
    processes = background(SHARED_REDIS)
    worker = processes.worker(1)
    run_id, order_ids = queue_heavy_run(committed, "deep_drawing", "aluminium", time_limit_s=4)
    CeleryDispatcher(SHARED_REDIS, processes.queue).submit(Work(runs=[run_id]))
    wait_for(lambda: solving(committed, run_id), 60, "the run started")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=90) == 0, processes.logs()
    run = run_of(committed, run_id)
    assert run.state == MatchRunState.SUCCEEDED and run.attempts == 1
    no_doubled_work(committed, order_ids, run_id)


def test_sigterm_lets_the_web_server_finish_a_request_in_flight(committed_url, tmp_path):
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
            "--graceful-timeout", "30", "app:app",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": committed_url,
            "FACTORYWEB_INSTANCE": str(tmp_path),
            "PYTHONPATH": str(ROOT),
        },
        stdout=subprocess.DEVNULL,
        stderr=log,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(port, "/healthz"), 30, "gunicorn started")
        body = b"email=someone%40example.com&password=not-the-password&next=%2F"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(
                b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:10]
            )
            time.sleep(0.5)
            server.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            connection.sendall(body[10:])
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        # The request in flight got its whole answer (the form's CSRF token is missing).
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()


def _answers(port: int, path: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            return connection.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
