"""Builders of store inputs with plausible defaults, so each test states only what it checks."""

from __future__ import annotations

import datetime
from typing import Any

from chalicelib.store import EvaluationRecord, ImageSummary, NewImage
from chalicelib.vulns.interface import Severity, VulnMatch, VulnRecord

DIGEST = "sha256:" + "a" * 64
OTHER_DIGEST = "sha256:" + "b" * 64
IMAGE_ID = "c" * 64
MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"digest": "sha256:" + IMAGE_ID, "size": 1234},
    "layers": [{"digest": "sha256:" + "d" * 64, "size": 5678}],
}


def new_image(digest: str = DIGEST, tag: str | None = "latest", **fields: Any) -> NewImage:
    """Return a `NewImage` of docker.io/library/debian with `fields` overriding the defaults."""
    values: dict[str, Any] = {
        "digest": digest,
        "parent_digest": None,
        "image_id": IMAGE_ID,
        "manifest": MANIFEST,
        "registry": "docker.io",
        "repository": "library/debian",
        "tag": tag,
        "dockerfile": None,
        "annotations": {},
        "created_at": None,
    }
    values.update(fields)
    return NewImage(**values)


def summary(**fields: Any) -> ImageSummary:
    """Return the summary of a Debian 12 analysis with `fields` overriding the defaults."""
    values: dict[str, Any] = {
        "image_id": IMAGE_ID,
        "arch": "amd64",
        "distro": "debian",
        "distro_version": "12",
        "image_size": 29_123_456,
        "layer_count": 1,
        "dockerfile_mode": "Guessed",
    }
    values.update(fields)
    return ImageSummary(**values)


def vuln_record(vuln_id: str, package: str, namespace: str = "debian:12") -> VulnRecord:
    """Return a record with a fixed version, a CVSS score and an alias."""
    return VulnRecord.model_validate(
        {
            "id": vuln_id,
            "namespace": namespace,
            "package": package,
            "aliases": [f"DSA-{vuln_id}"],
            "severity": "High",
            "cvss": [{"version": "3.1", "vector": "CVSS:3.1/AV:N", "base_score": 7.5}],
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2-3"}]}],
        }
    )


def vuln_match(
    vuln_id: str, package: str = "openssl", path: str = "/var/lib/dpkg/status"
) -> VulnMatch:
    """Return a High match of `vuln_id` in a dpkg package."""
    return VulnMatch(
        vuln_id=vuln_id,
        severity=Severity.HIGH,
        package_name=package,
        package_version="1.0-1",
        package_type="dpkg",
        package_path=path,
        fixed_in=["1.2-3"],
        namespace="debian:12",
    )


def evaluation(
    eval_id: str,
    created_at: datetime.datetime,
    *,
    digest: str = DIGEST,
    tag: str = "docker.io/library/debian:latest",
    final_action: str = "go",
) -> EvaluationRecord:
    """Return an evaluation of `digest` and `tag` with a minimal result document."""
    return EvaluationRecord(
        eval_id=eval_id,
        policy_id="default",
        image_digest=digest,
        tag=tag,
        final_action=final_action,
        status="fail" if final_action == "stop" else "pass",
        result={"final_action": final_action, "rows": [["x", tag]]},
        created_at=created_at,
    )


def bundle(policy_id: str, name: str = "Default bundle") -> dict[str, Any]:
    """Return a minimal `1_0` policy bundle."""
    return {
        "id": policy_id,
        "name": name,
        "version": "1_0",
        "policies": [{"id": "p1", "name": "p1", "version": "1_0", "rules": []}],
        "whitelists": [],
        "mappings": [
            {
                "id": "m1",
                "name": "all",
                "registry": "*",
                "repository": "*",
                "image": {"type": "tag", "value": "*"},
                "policy_ids": ["p1"],
                "whitelist_ids": [],
            }
        ],
    }
