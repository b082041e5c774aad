"""The load scenario `bench/load.py` runs: buyers browse, search, post orders and match
them; factory owners look at their work and accept proposals. Everyone signs in through
the sign-in page and uses the site as a browser would (session cookie, CSRF token).

Driven by `bench/load.py`, which seeds the database and writes the file named by
LOAD_SCENARIO: accounts, the order lines verified factories can make, search queries.
Think time between steps is 1 to 3 s, as a person clicking through pages.
"""

from __future__ import annotations

import json
import os
import random
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import gevent
from locust import HttpUser, between, task

SCENARIO: dict[str, Any] = json.loads(Path(os.environ["LOAD_SCENARIO"]).read_text())
MEASURED_SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
signed_in = 0


class Person(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    accounts: list[str] = []

    def on_start(self) -> None:
        """Sign in once, as a person does, and count from when everyone is in.

        Sign-in hashes the password with argon2, slow on purpose; it is not the load
        being measured, so the statistics start when the last person has signed in and
        the run ends MEASURED_SECONDS later."""
        self.email = random.choice(self.accounts)
        page = self.client.get("/login", name="/login").text
        answer = self.client.post(
            "/login",
            data={
                "email": self.email,
                "password": SCENARIO["password"],
                "csrf_token": CSRF.search(page).group(1),
            },
            allow_redirects=False,
            name="/login",
        )
        if answer.status_code != 302:
            raise RuntimeError(f"sign-in of {self.email} answered {answer.status_code}")
        self.csrf = CSRF.search(self.client.get("/home", name="/home").text).group(1)
        global signed_in
        signed_in += 1
        runner = self.environment.runner
        if runner is not None and signed_in == runner.target_user_count:
            self.environment.stats.reset_all()
            gevent.spawn_later(MEASURED_SECONDS, runner.quit)

    def api(self, method: str, url: str, name: str, **kwargs: Any) -> Any:
        headers = {"X-CSRFToken": self.csrf}
        with self.client.request(
            method, url, headers=headers, name=name, catch_response=True, **kwargs
        ) as answer:
            if answer.status_code >= 400:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                return None
            answer.success()
            return answer.json()


class Buyer(Person):
    weight = 3
    accounts = SCENARIO["buyers"]

    def on_start(self) -> None:
        super().on_start()
        self.orders: list[int] = []

    @task(3)
    def home(self) -> None:
        self.client.get("/home", name="/home")

    @task(2)
    def order_list(self) -> None:
        self.client.get("/orders", name="/orders")

    @task(2)
    def order_page(self) -> None:
        if self.orders:
            self.client.get(f"/orders/{random.choice(self.orders)}", name="/orders/[id]")

    @task(3)
    def search_page(self) -> None:
        self.client.get(
            "/supply/search", params=random.choice(SCENARIO["searches"]), name="/supply/search"
        )

    @task(2)
    def search_api(self) -> None:
        self.client.get(
            "/api/v1/factories",
            params=random.choice(SCENARIO["searches"]),
            name="/api/v1/factories",
        )

    @task(1)
    def post_and_match(self) -> None:
        order = self.api("POST", "/api/v1/orders", "/api/v1/orders (post)", json=new_order())
        if order is None:
            return
        self.orders.append(order["id"])
        self.api(
            "POST", f"/api/v1/orders/{order['id']}/match", "/api/v1/orders/[id]/match", json={}
        )


class FactoryOwner(Person):
    weight = 2
    accounts = SCENARIO["owners"]

    @task(3)
    def home(self) -> None:
        self.client.get("/home", name="/home")

    @task(2)
    def proposal_list(self) -> None:
        self.client.get("/proposals", name="/proposals")

    @task(2)
    def calendar(self) -> None:
        factory = SCENARIO["factory_of"][self.email]
        self.client.get(
            f"/supply/factories/{factory}/capacity", name="/supply/factories/[id]/capacity"
        )

    @task(2)
    def accept(self) -> None:
        listed = self.api("GET", "/api/v1/proposals?state=pending", "/api/v1/proposals")
        if not listed or not listed["proposals"]:
            return
        proposal = random.choice(listed["proposals"])
        self.client.get(f"/proposals/{proposal['id']}", name="/proposals/[id]")
        with self.client.post(
            f"/api/v1/proposals/{proposal['id']}/accept",
            headers={"X-CSRFToken": self.csrf},
            name="/api/v1/proposals/[id]/accept",
            catch_response=True,
        ) as answer:
            # Another owner of the factory, or the proposal's deadline, may have come first:
            # the marketplace answers 409, which is the right answer, not an error.
            if answer.status_code in (200, 409):
                answer.success()
            else:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")


def new_order() -> dict[str, Any]:
    """A two-line order from what verified factories make, due in 4 to 10 weeks."""
    first, second = random.sample(SCENARIO["lines"], 2)
    place = random.choice(SCENARIO["places"])
    return {
        "title": f"Load order {random.randrange(10**6)}",
        "due_date": (date.today() + timedelta(weeks=random.randint(4, 10))).isoformat(),
        "delivery_country": place["country"],
        "delivery_city": place["city"],
        "delivery_latitude": place["latitude"],
        "delivery_longitude": place["longitude"],
        "currency": "EUR",
        "submit": True,
        "lines": [
            {
                "process_code": line["process_code"],
                "material": line["material"],
                "quantity": random.choice([10, 50, 200]),
                "hours": random.choice([8, 16, 40]),
                "splittable": random.random() < 0.5,
            }
            for line in (first, second)
        ],
    }
