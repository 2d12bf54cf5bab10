"""Watch mode against a real registry and a local webhook receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.config import Settings, SettingsError
from chalicelib.service.context import Services, build_services
from chalicelib.service.images import AddImageRequest, add_image
from chalicelib.service.subscriptions import add_repository, repository_value
from chalicelib.service.vulnerabilities import MatchDiff, vuln_update_events
from chalicelib.service import watch
from chalicelib.service.watch import queue_notification, run_watchers
from chalicelib.service.webhooks import deliver_notifications
from chalicelib.store import ImageRecord
from chalicelib.store.subscriptions import SubscriptionRecord
from tests.store.factories import vuln_match
from tests.support.postgres import PostgresCluster, postgres_cluster  # noqa: F401
from tests.support.webhook import WebhookReceiver, webhook  # noqa: F401
from tools.imagebuild import ImageBuilder, push
from tools.registry import free_port

WEBHOOK_PATH = "/hooks/<userId>/<notification_type>"


def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def services(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    webhook: WebhookReceiver,  # noqa: F811
) -> Iterator[Services]:
    """Services on a fresh store whose notifications go to the test's webhook receiver."""
    settings = Settings(
        data_dir=tmp_path, feed_sources="", webhook_url=webhook.url + WEBHOOK_PATH
    )
    if request.param == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        settings = dataclasses.replace(settings, database_url=cluster.create_database())
    built = build_services(settings)
    yield built
    built.store.close()


def push_version(
    registry_address: str, tmp_path: Path, repository: str, tag: str, text: str
) -> str:
    """Push a one-file image whose content is `text` as `repository:tag`; return the tag."""
    builder = ImageBuilder()
    builder.add_layer().add_file("/etc/watch-version", text.encode())
    layout = tmp_path / f"layout-{uuid.uuid4().hex}"
    builder.write_oci_layout(layout, "v")
    reference = f"{registry_address}/{repository}:{tag}"
    push(layout, "v", reference)
    return reference


def wait_finished(services: Services, digest: str, timeout: float = 120) -> ImageRecord:
    """Poll the store until the image's analysis ends and return the image."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        image = services.store.get_image(digest)
        if image is not None and image.analysis_status in ("analyzed", "analysis_failed"):
            return image
        time.sleep(0.2)
    raise AssertionError(f"analysis of {digest} did not end within {timeout} s")


def payloads(webhook: WebhookReceiver, notification_type: str) -> list[dict]:  # noqa: F811
    """Return the `notification_payload` of every POST of one type."""
    bodies = webhook.bodies(f"/hooks/admin/{notification_type}")
    return [body["data"]["notification_payload"] for body in bodies]


def unique_repository() -> str:
    return f"watch/{uuid.uuid4().hex[:12]}"


def test_tag_update_adds_and_analyzes_new_digest(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    repository = unique_repository()
    tag = push_version(registry_address, tmp_path, repository, "latest", "one")
    first = add_image(
        services,
        AddImageRequest(pullstring=tag, autosubscribe=True, annotations={"team": "blue"}),
    )
    assert wait_finished(services, first.digest).analysis_status == "analyzed"

    push_version(registry_address, tmp_path, repository, "latest", "two")
    result = run_watchers(services)

    assert result.errors == []
    assert len(result.images_added) == 1
    second = result.images_added[0]
    assert second != first.digest
    analyzed = wait_finished(services, second)
    assert analyzed.analysis_status == "analyzed"
    assert analyzed.annotations == {"team": "blue"}

    bodies = webhook.bodies("/hooks/admin/tag_update")
    assert len(bodies) == 1
    body = bodies[0]
    assert body["queueId"] == "tag_update"
    assert body["userId"] == "admin"
    assert body["data"]["notification_type"] == "tag_update"
    payload = body["data"]["notification_payload"]
    assert payload["subscription_key"] == tag
    assert payload["subscription_type"] == "tag_update"
    assert payload["last_eval"] == [first.digest]
    assert payload["curr_eval"] == [second]
    assert payload["annotations"] == {"team": "blue"}
    assert services.store.list_notifications() == []

    # The next run finds the new image analyzed and reports it; the tag has not moved again.
    again = run_watchers(services)
    assert again.images_added == []
    assert len(payloads(webhook, "tag_update")) == 1
    analysis = payloads(webhook, "analysis_update")
    assert [p["curr_eval"]["imageDigest"] for p in analysis][-1] == second
    assert analysis[-1]["curr_eval"]["analysis_status"] == "analyzed"


def test_tag_moved_back_reported_once(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    repository = unique_repository()
    tag = push_version(registry_address, tmp_path, repository, "latest", "one")
    first = add_image(services, AddImageRequest(pullstring=tag, autosubscribe=True))
    push_version(registry_address, tmp_path, repository, "latest", "two")
    second = run_watchers(services).images_added

    push_version(registry_address, tmp_path, repository, "latest", "one")
    back = run_watchers(services).images_added
    after = run_watchers(services).images_added

    assert len(second) == 1
    assert back == [first.digest]
    assert after == []
    currents = [payload["curr_eval"] for payload in payloads(webhook, "tag_update")]
    assert currents == [second, [first.digest]]


def test_inactive_subscriptions_send_nothing(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    repository = unique_repository()
    tag = push_version(registry_address, tmp_path, repository, "latest", "one")
    first = add_image(services, AddImageRequest(pullstring=tag))
    analysis = services.store.find_subscription(tag, "analysis_update")
    assert analysis is not None
    services.store.update_subscription(analysis.subscription_id, active=False)
    wait_finished(services, first.digest)

    push_version(registry_address, tmp_path, repository, "latest", "two")
    result = run_watchers(services)

    assert result.images_added == []
    assert result.notifications_queued == 0
    assert webhook.posts == []
    assert [image.digest for image in services.store.list_images(fulltag=tag)] == [first.digest]


def test_add_image_creates_tag_subscriptions(
    services: Services, registry_address: str, tmp_path: Path
) -> None:
    tag = push_version(registry_address, tmp_path, unique_repository(), "1", "one")
    add_image(services, AddImageRequest(pullstring=tag))
    active = {s.subscription_type: s.active for s in services.store.list_subscriptions(key=tag)}
    assert active == {
        "analysis_update": True,
        "policy_eval": False,
        "tag_update": False,
        "vuln_update": False,
    }

    analysis = services.store.find_subscription(tag, "analysis_update")
    policy = services.store.find_subscription(tag, "policy_eval")
    assert analysis is not None and policy is not None
    services.store.update_subscription(analysis.subscription_id, active=False)
    services.store.update_subscription(policy.subscription_id, active=True)
    add_image(services, AddImageRequest(pullstring=tag, autosubscribe=True))

    active = {s.subscription_type: s.active for s in services.store.list_subscriptions(key=tag)}
    assert active == {
        "analysis_update": True,
        "policy_eval": True,
        "tag_update": True,
        "vuln_update": False,
    }


def test_repo_update_adds_new_tag(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    repository = unique_repository()
    push_version(registry_address, tmp_path, repository, "1", "one")
    watched = add_repository(services, f"{registry_address}/{repository}", autosubscribe=True)
    assert watched.active
    assert repository_value(watched)["tagcount"] == 1
    assert repository_value(watched)["repotags"] == []

    first = run_watchers(services)
    assert first.errors == []
    assert len(first.images_added) == 1
    stored = services.store.find_subscription(f"{registry_address}/{repository}", "repo_update")
    assert stored is not None
    assert repository_value(stored)["repotags"] == ["1"]

    new_tag = push_version(registry_address, tmp_path, repository, "2", "two")
    second = run_watchers(services)

    assert second.errors == []
    assert len(second.images_added) == 1
    assert [image.digest for image in services.store.list_images(fulltag=new_tag)] == [
        second.images_added[0]
    ]
    stored = services.store.find_subscription(f"{registry_address}/{repository}", "repo_update")
    assert stored is not None
    assert repository_value(stored)["repotags"] == ["1", "2"]
    assert repository_value(stored)["tagcount"] == 2
    tag_update = services.store.find_subscription(new_tag, "tag_update")
    assert tag_update is not None
    assert tag_update.active


def test_moved_tag_of_watched_repository_notified_once(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    repository = unique_repository()
    tag = push_version(registry_address, tmp_path, repository, "latest", "one")
    first = add_image(
        services,
        AddImageRequest(pullstring=tag, autosubscribe=True, annotations={"team": "blue"}),
    )
    add_repository(services, f"{registry_address}/{repository}", autosubscribe=False)

    # The repository watcher runs first and finds `latest` new to the repository.
    push_version(registry_address, tmp_path, repository, "latest", "two")
    moved = run_watchers(services)

    assert moved.errors == []
    assert len(moved.images_added) == 1
    second = moved.images_added[0]
    assert second != first.digest
    updates = payloads(webhook, "tag_update")
    assert len(updates) == 1
    assert updates[0]["subscription_key"] == tag
    assert updates[0]["last_eval"] == [first.digest]
    assert updates[0]["curr_eval"] == [second]
    assert updates[0]["annotations"] == {"team": "blue"}
    assert services.store.get_image(second).annotations == {"team": "blue"}

    assert run_watchers(services).images_added == []
    assert len(payloads(webhook, "tag_update")) == 1

    # Now `latest` is in the repository's list, so its next move is the tag watcher's.
    push_version(registry_address, tmp_path, repository, "latest", "three")
    third = run_watchers(services).images_added
    currents = [payload["curr_eval"] for payload in payloads(webhook, "tag_update")]
    assert currents == [[second], third]


def test_tag_watcher_first_no_second_update(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    repository = unique_repository()
    tag = push_version(registry_address, tmp_path, repository, "latest", "one")
    add_image(services, AddImageRequest(pullstring=tag, autosubscribe=True))
    push_version(registry_address, tmp_path, repository, "latest", "two")
    subscription = services.store.find_subscription(tag, "tag_update")
    assert subscription is not None
    seen_first = watch.WatchResult()
    watch.watch_tag(services, subscription, seen_first)
    queued = [n.payload["curr_eval"] for n in services.store.list_notifications()]
    assert queued == [seen_first.images_added]

    add_repository(services, f"{registry_address}/{repository}", autosubscribe=False)
    result = run_watchers(services)

    assert result.errors == []
    assert len(payloads(webhook, "tag_update")) == 1
    assert len(services.store.list_images(fulltag=tag)) == 2


def test_first_repo_run_adds_tags_once(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    """Check that the first run after `repo add` adds every listed tag once.

    `repo add` records no tags, like Anchore Engine's. A tag the user added before keeps its
    one image and gets no `tag_update`. Adding the repository again keeps the recorded tags.
    """
    repository = unique_repository()
    one = push_version(registry_address, tmp_path, repository, "1", "one")
    two = push_version(registry_address, tmp_path, repository, "2", "two")
    user_added = add_image(services, AddImageRequest(pullstring=one, autosubscribe=True))
    name = f"{registry_address}/{repository}"
    watched = add_repository(services, name, autosubscribe=False)
    assert repository_value(watched)["repotags"] == []
    assert repository_value(watched)["tagcount"] == 2

    first = run_watchers(services)

    assert first.errors == []
    assert [image.digest for image in services.store.list_images(fulltag=one)] == [
        user_added.digest
    ]
    assert len(services.store.list_images(fulltag=two)) == 1
    assert payloads(webhook, "tag_update") == []
    stored = services.store.find_subscription(name, "repo_update")
    assert stored is not None
    assert repository_value(stored)["repotags"] == ["1", "2"]

    again = add_repository(services, name, autosubscribe=True)
    assert repository_value(again)["repotags"] == ["1", "2"]
    assert run_watchers(services).images_added == []


def test_dry_run_repository_stores_nothing(
    services: Services, registry_address: str, tmp_path: Path
) -> None:
    repository = unique_repository()
    push_version(registry_address, tmp_path, repository, "1", "one")
    record = add_repository(
        services, f"{registry_address}/{repository}", autosubscribe=False, dryrun=True
    )
    assert repository_value(record)["repotags"] == ["1"]
    assert services.store.list_subscriptions() == []


def test_registry_error_recorded_and_others_continue(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    repository = unique_repository()
    tag = push_version(registry_address, tmp_path, repository, "latest", "one")
    first = add_image(services, AddImageRequest(pullstring=tag, autosubscribe=True))
    wait_finished(services, first.digest)
    push_version(registry_address, tmp_path, repository, "latest", "two")
    # Sorted before the working tag, so its failure comes first in the run.
    unreachable = f"127.0.0.1:{free_port()}/aaa/gone:1"
    services.store.add_subscription(unreachable, "tag_update", active=True)

    result = run_watchers(services)

    assert len(result.errors) == 1
    assert unreachable in result.errors[0]
    assert len(result.images_added) == 1
    events = services.store.list_events(
        event_type="system.image_analysis.registry_lookup_failed", resource_id=unreachable
    )
    assert len(events) == 1
    assert events[0].level == "error"
    assert len(payloads(webhook, "tag_update")) == 1


def test_crashing_watcher_does_not_stop_others(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("r.example/a:1", "r.example/b:1"):
        services.store.add_subscription(key, "analysis_update", active=True)
    seen: list[str] = []

    def crash_on_a(services: Services, subscription: SubscriptionRecord, result: object) -> None:
        seen.append(subscription.subscription_key)
        if subscription.subscription_key == "r.example/a:1":
            raise RuntimeError("unexpected")

    monkeypatch.setattr(watch, "watch_analysis", crash_on_a)
    result = run_watchers(services)

    assert seen == ["r.example/a:1", "r.example/b:1"]
    assert len(result.errors) == 1
    assert "crashed on r.example/a:1" in result.errors[0]


def test_unreachable_webhook_keeps_notifications(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
) -> None:
    for key in ("r.example/a:1", "r.example/b:1"):
        services.store.add_subscription(key, "analysis_update", active=True)
        queue_notification(services, "analysis_update", key, {"curr_eval": {}})
    services.settings = dataclasses.replace(
        services.settings, webhook_url=f"http://127.0.0.1:{free_port()}/<notification_type>"
    )

    down = deliver_notifications(services, sleep=_no_sleep)

    assert down.delivered == 0
    assert down.failed == 1
    assert down.deferred == 1
    pending = services.store.list_notifications()
    assert [n.subscription_key for n in pending] == ["r.example/a:1", "r.example/b:1"]
    assert pending[0].tries == 1
    assert "POST" in (pending[0].last_error or "")

    services.settings = dataclasses.replace(
        services.settings, webhook_url=webhook.url + WEBHOOK_PATH
    )
    up = deliver_notifications(services, sleep=_no_sleep)

    assert up.delivered == 2
    assert services.store.list_notifications() == []
    keys = [p["subscription_key"] for p in payloads(webhook, "analysis_update")]
    assert keys == ["r.example/a:1", "r.example/b:1"]


def test_failing_endpoint_does_not_block_other_types(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
) -> None:
    webhook.failing["/hooks/admin/tag_update"] = 503
    for subscription_type in ("tag_update", "analysis_update"):
        services.store.add_subscription("r.example/a:1", subscription_type, active=True)
        queue_notification(services, subscription_type, "r.example/a:1", {})

    result = deliver_notifications(services, sleep=_no_sleep)

    assert result.delivered == 1
    assert result.failed == 1
    assert len(webhook.bodies("/hooks/admin/tag_update")) == 3
    assert len(payloads(webhook, "analysis_update")) == 1
    pending = services.store.list_notifications()
    assert [n.notification_type for n in pending] == ["tag_update"]
    assert pending[0].last_error == (
        f"POST {webhook.url}/hooks/admin/tag_update returned HTTP 503"
    )


def test_notification_of_deactivated_subscription_dropped(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
) -> None:
    subscription = services.store.add_subscription("r.example/a:1", "policy_eval", active=True)
    queue_notification(services, "policy_eval", "r.example/a:1", {})
    services.store.update_subscription(subscription.subscription_id, active=False)

    result = deliver_notifications(services, sleep=_no_sleep)

    assert result.dropped == 1
    assert webhook.posts == []
    assert services.store.list_notifications() == []


def test_webhook_basic_auth_sent(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
) -> None:
    services.settings = dataclasses.replace(
        services.settings, webhook_user="hook", webhook_password="s3cret"
    )
    services.store.add_subscription("r.example/a:1", "tag_update", active=True)
    queue_notification(services, "tag_update", "r.example/a:1", {"curr_eval": ["sha256:x"]})

    assert deliver_notifications(services, sleep=_no_sleep).delivered == 1

    expected = "Basic " + base64.b64encode(b"hook:s3cret").decode()
    assert webhook.posts[0].headers["Authorization"] == expected


def test_policy_eval_notifies_on_change_only(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    tag = push_version(registry_address, tmp_path, unique_repository(), "latest", "one")
    image = add_image(services, AddImageRequest(pullstring=tag))
    wait_finished(services, image.digest)
    policy = services.store.find_subscription(tag, "policy_eval")
    assert policy is not None
    services.store.update_subscription(policy.subscription_id, active=True)

    run_watchers(services)
    run_watchers(services)

    evaluations = payloads(webhook, "policy_eval")
    assert len(evaluations) == 1
    assert evaluations[0]["last_eval"] == {}
    assert evaluations[0]["curr_eval"]["image_digest"] == image.digest
    assert evaluations[0]["curr_eval"]["final_action"] in ("go", "warn", "stop")


def test_vuln_update_sends_recorded_diff(
    services: Services,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    tag = push_version(registry_address, tmp_path, unique_repository(), "latest", "one")
    image = add_image(services, AddImageRequest(pullstring=tag))
    image = wait_finished(services, image.digest)
    subscription = services.store.find_subscription(tag, "vuln_update")
    assert subscription is not None
    services.store.update_subscription(subscription.subscription_id, active=True)

    diff = MatchDiff(added=[vuln_match("CVE-2026-0001")], updated=[], removed=[])
    for event in vuln_update_events(image, diff):
        services.store.add_event(event)
    run_watchers(services)
    run_watchers(services)

    updates = payloads(webhook, "vuln_update")
    assert len(updates) == 1
    assert updates[0]["imageDigest"] == image.digest
    added = updates[0]["diff_vulnerability_result"]["added"]
    assert [row["vuln"] for row in added] == ["CVE-2026-0001"]
    assert json.dumps(updates[0])


@pytest.mark.parametrize(
    ("value", "message"),
    [("ten", "is not an integer"), ("-1", "is negative")],
)
def test_watch_interval_setting_rejects(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"WATCH_INTERVAL_SECONDS": value})


def test_webhook_settings_read() -> None:
    settings = Settings.from_env(
        {
            "WATCH_INTERVAL_SECONDS": "0",
            "WEBHOOK_URL": "http://127.0.0.1:9/<notification_type>",
            "WEBHOOK_USER": "hook",
            "WEBHOOK_PASSWORD": "pw",
        }
    )
    assert settings.watch_interval_seconds == 0
    assert settings.webhook_url == "http://127.0.0.1:9/<notification_type>"
    assert settings.webhook_user == "hook"
    assert settings.webhook_password == "pw"
    with pytest.raises(SettingsError, match="WEBHOOK_URL"):
        Settings.from_env({"WEBHOOK_URL": "127.0.0.1:9/hook"})
