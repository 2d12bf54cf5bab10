"""The SQS path: the API enqueues on SQS (moto) and the SQS handler analyzes, once per image."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.config import Settings, get_settings
from chalicelib.service import images as image_service
from chalicelib.service.context import Services, build_services, set_services
from chalicelib.worker import handler as worker_handler
from tests.api.conftest import AUTH_HEADER, PASSWORD

QUEUE_NAME = "plimsoll-analysis"


@pytest.fixture
def sqs_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Services, str]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("ADMIN_PASSWORD", PASSWORD)
    get_settings.cache_clear()
    with mock_aws():
        queue_url = boto3.client("sqs").create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        settings = Settings(data_dir=tmp_path, queue_url=queue_url, admin_password=PASSWORD)
        services = build_services(settings)
        set_services(services)
        yield services, queue_url
        set_services(None)
        services.store.close()
    get_settings.cache_clear()


@pytest.fixture
def analyze_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each call of the analyzer, passing it through."""
    calls: list[str] = []
    real = image_service.analyze_image

    def counting(source, **kwargs):  # noqa: ANN001, ANN202 - same signature as the real one
        calls.append(source.manifest_digest)
        return real(source, **kwargs)

    monkeypatch.setattr(image_service, "analyze_image", counting)
    return calls


def receive_bodies(queue_url: str) -> list[str]:
    response = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [message["Body"] for message in response.get("Messages", [])]


def add_image(client: Client, reference: str) -> str:
    response = client.http.post(
        "/v1/images", headers=AUTH_HEADER, body=json.dumps({"tag": reference})
    )
    assert response.status_code == 200, response.body
    return json.loads(response.body)[0]["imageDigest"]


def test_sqs_handler_analyzes_duplicate_message_once(
    sqs_services: tuple[Services, str], small_image: str, analyze_calls: list[str]
) -> None:
    services, queue_url = sqs_services
    from app import app

    with Client(app, stage_name="local") as client:
        digest = add_image(client, small_image)
        bodies = receive_bodies(queue_url)
        assert len(bodies) == 1
        assert json.loads(bodies[0])["image_digest"] == digest
        assert services.store.get_image(digest).analysis_status == "not_analyzed"

        event = client.events.generate_sqs_event(
            message_bodies=[bodies[0], bodies[0]], queue_name=QUEUE_NAME
        )
        client.lambda_.invoke("handle_analysis_messages", event)

    assert analyze_calls == [digest]
    assert services.store.get_image(digest).analysis_status == "analyzed"


def test_worker_handler_processes_lambda_batch(
    sqs_services: tuple[Services, str], small_image: str, analyze_calls: list[str]
) -> None:
    services, queue_url = sqs_services
    from app import app

    with Client(app, stage_name="local") as client:
        digest = add_image(client, small_image)
    body = receive_bodies(queue_url)[0]
    event = {"Records": [{"messageId": "m1", "body": body}, {"messageId": "m2", "body": body}]}

    result = worker_handler(event, None)

    assert result == {"batchItemFailures": []}
    assert analyze_calls == [digest]
    assert services.store.get_image(digest).analysis_status == "analyzed"


def test_worker_handler_reports_bad_message(sqs_services: tuple[Services, str]) -> None:
    event = {"Records": [{"messageId": "bad", "body": "not json"}]}

    result = worker_handler(event, None)

    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
