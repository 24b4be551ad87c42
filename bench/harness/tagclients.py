"""The tags benches' Hub process, its request records, and the clients the project is compared with.

* `TagHubProcess`: `taghub.py` in a child process (30 tags a repository, or with ``mixed`` every 10th
  repository 150 = two pages and every 50th 250 = three pages);
* `peak_in_flight`, `server_span`: from the Hub's records [kind, repository, page, started, ended, status];
* `PlainClient`: httpx.AsyncClient with a semaphore of c, orjson: the repository pages, then every
  repository's tag pages (page 1, then the rest by number); with a `Pacer` it respects the announced
  budget (waits for the reset once X-RateLimit-Remaining, less its requests in flight, is spent);
* `RawClient`: c keep-alive connections over asyncio streams, HTTP/1.1 by hand, orjson; a repository's
  tags are queued as soon as its repository page arrives: what this machine allows at all.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from harness.tools import ORG, PY, TOKEN, HubProcess

PAGE = 100
TAGHUB = Path(__file__).with_name("taghub.py")
Row = Sequence[Any]  # [kind, repository, page, started, ended, status]


def tag_counts(repos: int, base: int, mixed: bool) -> list[int]:
    """Tags per repository: ``base`` each, or with ``mixed`` every 10th 150 and every 50th 250."""
    if not mixed:
        return [base] * repos
    return [250 if i % 50 == 25 else 150 if i % 10 == 5 else base for i in range(repos)]


class TagHubProcess(HubProcess):
    """``with TagHubProcess(repos, tags, mixed=..., latency=...) as hub``: `taghub.py` in a child process."""

    def __init__(self, repos: int, per_repo: int = 30, *, mixed: bool = False, latency: float = 0.0) -> None:
        super().__init__(repos, latency)
        self.command = [PY, str(TAGHUB), "--org", ORG, "--token", TOKEN, "--repos", str(repos)]
        self.command += ["--tags", str(per_repo), "--latency", str(latency), *(["--mixed"] if mixed else [])]
        self.counts = tag_counts(repos, per_repo, mixed)
        self.tags = sum(self.counts)  # until a `change`
        self.pages = math.ceil(repos / PAGE) + sum(math.ceil(count / PAGE) for count in self.counts)

    def records(self) -> tuple[list[list[Any]], dict[str, Any]]:
        """The GETs recorded since the last reset, and the rest of the Hub's statistics."""
        stats = self.call("stats")
        return stats.pop("requests"), stats


def peak_in_flight(rows: Iterable[Row]) -> int:
    """Most requests in flight at any instant, from the records' (started, ended) on the server."""
    events = sorted([(row[3], 1) for row in rows] + [(row[4], -1) for row in rows])  # an end first on a tie
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def server_span(rows: Sequence[Row]) -> float:
    return max(r[4] for r in rows) - min(r[3] for r in rows) if rows else float("nan")


@dataclass
class Pacer:
    """The announced budget as the answers tell it: ``left`` (None: not known in this window) until
    ``reset`` (epoch seconds)."""

    left: int | None = None
    reset: float = 0.0
    waits: int = 0

    async def take(self) -> None:
        while self.left is not None and self.left <= 0:
            wait = self.reset - time.time()
            if wait <= 0:
                self.left = None  # a new window: the next answer tells its budget
                break
            self.waits += 1
            await asyncio.sleep(wait + 0.05)
        if self.left is not None:
            self.left -= 1

    def heard(self, headers: httpx.Headers, in_flight: int) -> None:
        remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
        if not (remaining and reset):
            return
        left = int(remaining) - in_flight
        if self.left is None or float(reset) > self.reset + 0.5:
            self.left, self.reset = left, float(reset)
        else:
            self.left = min(self.left, left)


class PlainClient:
    """A plain httpx client with a semaphore of ``concurrency`` (see the module docstring)."""

    def __init__(self, client: httpx.AsyncClient, url: str, concurrency: int, pacer: Pacer | None) -> None:
        self.client, self.url, self.pacer = client, url, pacer
        self.gate = asyncio.Semaphore(concurrency)
        self.headers: dict[str, str] = {}
        self.requests = self.limited = self.in_flight = 0

    async def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        while True:
            async with self.gate:
                response = await self.send(path, params)
            if response.status_code != 429:
                response.raise_for_status()
                body: dict[str, Any] = orjson.loads(response.content)
                return body
            self.limited += 1
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))

    async def send(self, path: str, params: dict[str, Any]) -> httpx.Response:
        if self.pacer:
            await self.pacer.take()
        self.requests += 1
        self.in_flight += 1
        try:
            response = await self.client.get(self.url + path, params=params, headers=self.headers)
        finally:
            self.in_flight -= 1
        if self.pacer:
            self.pacer.heard(response.headers, self.in_flight)
        return response

    async def pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Page 1, then the rest by number, at once."""
        first = await self.get(path, {**params, "page": 1, "page_size": PAGE})
        numbers = range(2, math.ceil(first["count"] / PAGE) + 1)
        return [
            first,
            *await asyncio.gather(
                *(self.get(path, {**params, "page": n, "page_size": PAGE}) for n in numbers)
            ),
        ]

    async def tags(self, name: str) -> int:
        pages = await self.pages(f"/v2/namespaces/{ORG}/repositories/{name}/tags", {})
        return sum(len(page["results"]) for page in pages)

    async def run(self) -> dict[str, float]:
        answer = await self.client.post(
            f"{self.url}/v2/auth/token", json={"identifier": ORG, "secret": TOKEN}
        )
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        started, cpu = time.perf_counter(), time.process_time()
        listing = await self.pages(f"/v2/namespaces/{ORG}/repositories", {"ordering": "name"})
        names = [repo["name"] for page in listing for repo in page["results"]]
        counts = await asyncio.gather(*(self.tags(name) for name in names))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        return {"seconds": seconds, "cpu": cpu, "tags": sum(counts), "429": self.limited}


def plain_fetch(url: str, concurrency: int, pacer: bool = False) -> dict[str, float]:
    async def run() -> dict[str, float]:
        limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            return await PlainClient(client, url, concurrency, Pacer() if pacer else None).run()

    return asyncio.run(run())


class RawClient:
    """``concurrency`` keep-alive connections over asyncio streams (see the module docstring)."""

    def __init__(self, url: str, concurrency: int) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.concurrency = concurrency
        self.auth = ""
        self.jobs: collections.deque[tuple[str, str, int]] = collections.deque([("list", "", 1)])
        self.pending, self.tags = 1, 0
        self.wake = asyncio.Event()

    @staticmethod
    async def request(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: str, body: bytes = b""
    ) -> tuple[int, bytes]:
        writer.write(head.encode() + body)
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        length = next(
            int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
        )
        return int(lines[0].split()[1]), await reader.readexactly(length)

    async def login(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        body = orjson.dumps({"identifier": ORG, "secret": TOKEN})
        head = f"POST /v2/auth/token HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
        _, answer = await self.request(reader, writer, f"{head}Content-Length: {len(body)}\r\n\r\n", body)
        self.auth = f"Authorization: Bearer {orjson.loads(answer)['access_token']}\r\n"
        writer.close()

    def path(self, kind: str, name: str, page: int) -> str:
        if kind == "list":
            return f"/v2/namespaces/{ORG}/repositories?page={page}&page_size={PAGE}&ordering=name"
        return f"/v2/namespaces/{ORG}/repositories/{name}/tags?page={page}&page_size={PAGE}"

    def answered(self, kind: str, name: str, page: int, data: dict[str, Any]) -> None:
        """Queue what an answer makes known: further pages, and a repository page's tag listings."""
        more = math.ceil(data["count"] / PAGE) - 1 if page == 1 else 0
        if kind == "list":
            self.jobs.extend(("list", "", p) for p in range(2, more + 2))
            self.jobs.extend(("tags", repo["name"], 1) for repo in data["results"])
            self.pending += more + len(data["results"])
        else:
            self.tags += len(data["results"])
            self.jobs.extendleft(("tags", name, p) for p in range(2, more + 2))
            self.pending += more
        self.pending -= 1
        self.wake.set()

    async def worker(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            while self.pending:
                if not self.jobs:
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                kind, name, page = self.jobs.popleft()
                head = f"GET {self.path(kind, name, page)} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}\r\n"
                status, content = await self.request(reader, writer, head)
                assert status == 200, (status, kind, name, page)
                self.answered(kind, name, page, orjson.loads(content))
        finally:
            writer.close()

    async def run(self) -> dict[str, float]:
        await self.login()
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(self.worker() for _ in range(self.concurrency)))
        return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "tags": self.tags}


def raw_fetch(url: str, concurrency: int) -> dict[str, float]:
    return asyncio.run(RawClient(url, concurrency).run())
