"""The flow with access under a real Prefect server (prefect_test_harness): one
`dockerhub-export.token.expiring` event per token expiring within 14 days, read back from the server's
events API, related to the flow run; the shipped automation (deployments/automations/token-expiring.yaml)
loads as `prefect automation create` loads it, is accepted by the server, matches that event and renders
its notification from it; the summary artifact has the Access section and neither it nor the run's logs
hold an email."""

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ORG, PAT
from fakehub import FakeHub
from hubaccess import make_access
from hubdata import hub_time

pytestmark = pytest.mark.prefect

AUTOMATION = Path(__file__).resolve().parents[1] / "deployments" / "automations" / "token-expiring.yaml"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _token(ident: str, label: str, expires: datetime | None) -> dict[str, Any]:
    return {
        "id": ident, "label": label, "created_by": "alice", "is_active": True,
        "created_at": "2026-01-05T10:00:00Z", "last_used_at": None,
        "expires_at": None if expires is None else hub_time(expires.timestamp()),
        "resources": [{"type": "TYPE_ORG", "path": ORG, "scopes": ["scope-member-read"]}],
    }  # fmt: skip


@pytest.fixture
def access_env(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api_url: str) -> Path:
    """The org with members (each with an email) and three tokens: expired, expiring in 5 days and in 40
    days of tonight; the flow logs in with an owner's personal access token, from the environment."""
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    state = make_access(ORG, hub.repos[ORG], members=12)
    state.tokens = [
        _token("tok-expired", "old-deploy", noon - timedelta(days=3)),
        _token("tok-soon", "ci-pull", noon + timedelta(days=5)),
        _token("tok-later", "mirror", noon + timedelta(days=40)),
    ]
    hub.access[ORG] = state
    for name, value in {
        "DOCKERHUB_TOKEN": PAT,
        "DOCKERHUB_USERNAME": "alice",
        "DOCKERHUB_API_URL": hub.url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path / "exports"


def _polled(read: Callable[[Any], Any], ok: Callable[[Any], bool], seconds: float) -> Any:
    """``read(client)`` until ``ok`` of it: the server stores events a moment after they were sent."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + seconds
    while True:
        with get_client(sync_client=True) as client:
            value = read(client)
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _token_events(flow_run_id: Any) -> list[Any]:
    """The run's token events as the server's events API (``POST /api/events/filter``) gives them."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter
    from prefect.events.worker import EventsWorker

    from dockerhub_export.flows.export_repositories import TOKEN_EXPIRING

    EventsWorker.instance().wait_until_empty()  # sent: the flow emits them asynchronously

    def read(client: Any) -> list[Any]:
        wanted = EventFilter(
            event=EventNameFilter(name=[TOKEN_EXPIRING]),
            related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
        )
        return list(client.read_events(filter=wanted, limit=50).events)  # the server allows 50

    return _polled(read, bool, seconds=30)  # type: ignore[no-any-return]


def _logs(flow_run_id: Any) -> str:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    text: str = _polled(
        lambda client: "\n".join(log.message for log in client.read_logs(log_filter=run)),
        lambda text: "expire within 14 days" in text,
        seconds=10,
    )
    return text


def test_a_token_expiring_in_5_days_makes_one_event_the_automation_matches_and_no_email_is_shown(
    access_env: Path, hub: FakeHub
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from dockerhub_export.flows.export_repositories import export_repositories

    state = export_repositories(return_state=True, org=ORG, output_dir=str(access_env), include_access=True)
    assert state.is_completed(), state.message
    run_id = state.state_details.flow_run_id
    events = _token_events(run_id)
    time.sleep(1)  # had the 40-day token made one too, it would be stored by now
    events = _token_events(run_id)
    assert [event.resource.id for event in events] == [f"dockerhub-export.token.{ORG}.tok-soon"]
    (event,) = events
    assert event.resource.name == "ci-pull" and event.resource["dockerhub-export.org"] == ORG
    assert event.resource["dockerhub-export.token.label"] == "ci-pull"
    assert event.payload["days_left"] == 5 and event.payload["expires_at"].endswith("T12:00:00Z")
    assert "flow-run" in {related.role for related in event.related}
    _check_the_automation(event)

    emails = {member["email"] for member in hub.access[ORG].members.values()}
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    markdown = next(a.data for a in artifacts if a.key == f"dockerhub-export-{ORG}-summary")
    assert "## Access" in markdown and "`ci-pull` (by alice, expires " in markdown
    logs = _logs(run_id)
    assert "1 access tokens of acme expire within 14 days" in logs
    for shown in (markdown, logs, *(str(a.data) for a in artifacts)):
        assert not EMAIL.search(shown) and not any(email in shown for email in emails)


def _check_the_automation(event: Any) -> None:
    """The file loads as `prefect automation create --from-file` loads it, the server accepts it, its
    trigger covers the event as the server's triggers service decides, and its notification renders."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.server.utilities.user_templates import render_user_template_sync

    from dockerhub_export.flows.export_repositories import TOKEN_EXPIRING

    data = yaml.safe_load(AUTOMATION.read_text(encoding="utf-8"))
    automation = AutomationCore.model_validate(data)
    assert TOKEN_EXPIRING in data["trigger"]["expect"]
    with get_client(sync_client=True) as client:
        created = client.create_automation(automation.model_copy(update={"enabled": False}))
        try:
            stored = client.read_automation(created)
            assert stored is not None and stored.name == automation.name
        finally:
            client.delete_automation(created)
    received = ReceivedEvent.model_validate(event.model_dump(mode="json"))
    trigger = EventTrigger.model_validate(data["trigger"])
    assert trigger.covers(received)
    other = received.model_copy(update={"event": "dockerhub-export.token.created"})
    assert not trigger.covers(other)
    (action,) = data["actions"]
    subject = render_user_template_sync(action["subject"], {"event": received})
    body = render_user_template_sync(action["body"], {"event": received})
    assert subject == f"dockerhub-export: {ORG} token ci-pull expires in 5 days"
    assert f"The access token ci-pull of the Docker Hub org {ORG} expires at " in body
    assert "Created by alice." in body
