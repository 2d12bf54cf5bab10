"""Query routes: vulnerability records by id, images by vulnerability and by package."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from chalice import Blueprint

from chalicelib.api import render
from chalicelib.api.http import handles_errors, json_response, query_bool, query_param, timestamp
from chalicelib.service.context import get_services
from chalicelib.service.errors import InvalidRequestError
from chalicelib.store import ImageRecord
from chalicelib.vulns.interface import CvssScore, Severity, VulnMatch, VulnRecord
from chalicelib.vulns.matcher import affected_fixes
from chalicelib.vulns.namespaces import version_scheme_name
from chalicelib.vulns.nvd import (
    cve_ids,
    fallback_severity,
    matches_cve_ids,
    nvd_records,
    nvd_scores,
    with_nvd_severity,
)

blueprint = Blueprint(__name__)

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

DISTRO_PACKAGE_TYPES = {"deb": "dpkg", "apk": "APKG", "rpm": "rpm"}
"""Anchore's package type of the packages that records of a distro namespace describe, by the
namespace's version scheme."""

LANGUAGE_PACKAGE_TYPES = {
    "pypi": "python",
    "npm": "npm",
    "go": "go",
    "crates.io": "rust",
    "maven": "java",
    "rubygems": "gem",
    "nuget": "nuget",
    "packagist": "composer",
}
"""Anchore's package type of the packages that records of each ecosystem namespace describe."""

STORED_PACKAGE_TYPES = {"apkg": "apk", "gem": "gem", "java": "java"}
"""Anchore's spelling of a package type where it differs from the stored `PackageType`."""


@blueprint.route("/v1/query/vulnerabilities", methods=["GET"])
@handles_errors
def query_vulnerabilities() -> object:
    """List the records of the given vulnerability ids as `StandaloneVulnerability` objects."""
    ids = _list_param("id")
    if not ids:
        raise InvalidRequestError(
            "query parameter id is missing; give one or more vulnerability ids, "
            "for example id=CVE-2021-3177"
        )
    package = query_param(blueprint, "affected_package") or None
    version = query_param(blueprint, "affected_package_version") or None
    if version is not None and package is None:
        raise InvalidRequestError(
            "query parameter affected_package_version needs affected_package; give both"
        )
    records = get_services().store.find_vuln_records_by_id(
        ids, namespaces=_list_param("namespace"), package=package
    )
    if version is not None:
        records = [record for record in records if affected_fixes(record, version) is not None]

    grouped: dict[tuple[str, str], list[VulnRecord]] = defaultdict(list)
    for record in records:
        grouped[(record.id, record.namespace)].append(record)
    all_cve_ids = {cve for record in records for cve in cve_ids(record.id, record.aliases)}
    found_nvd = nvd_records(all_cve_ids, get_services().store.find_vuln_records)
    nvd = {record.id: record.cvss for record in found_nvd}
    cwes = {record.id: record.cwes for record in found_nvd}
    rows = [_standalone_vulnerability(group, nvd, cwes) for group in grouped.values()]
    return json_response(_page(rows, "vulnerabilities"))


@blueprint.route("/v1/query/images/by_vulnerability", methods=["GET"])
@handles_errors
def query_images_by_vulnerability() -> object:
    """List the images with a stored match of a vulnerability, with the affected packages."""
    vuln_id = query_param(blueprint, "vulnerability_id")
    if not vuln_id:
        raise InvalidRequestError(
            "query parameter vulnerability_id is missing; give a vulnerability id such as "
            "CVE-2021-3177"
        )
    namespace = query_param(blueprint, "namespace") or None
    package = query_param(blueprint, "affected_package") or None
    severity = _severity_param()
    vendor_only = query_bool(blueprint, "vendor_only", True)
    services = get_services()
    found = services.store.find_images_by_vulnerability(vuln_id)
    nvd = nvd_scores(
        matches_cve_ids(match for _, matches in found for match in matches),
        services.store.find_vuln_records,
    )

    def wanted(match: VulnMatch) -> bool:
        return (
            (namespace is None or match.namespace == namespace)
            and (package is None or match.package_name == package)
            and (severity is None or match.severity is severity)
            and not (vendor_only and match.will_not_fix)
        )

    rows = []
    for image, matches in found:
        kept = [match for match in with_nvd_severity(matches, nvd) if wanted(match)]
        if kept:
            rows.append(
                {
                    "image": _image_reference(image),
                    "affected_packages": [_affected_package(match) for match in kept],
                }
            )
    return json_response(_page(rows, "images"))


@blueprint.route("/v1/query/images/by_package", methods=["GET"])
@handles_errors
def query_images_by_package() -> object:
    """List the analyzed images that contain a package, with its versions and locations."""
    name = query_param(blueprint, "name")
    if not name:
        raise InvalidRequestError(
            "query parameter name is missing; give a package name such as openssl"
        )
    package_type = query_param(blueprint, "package_type") or None
    if package_type is not None:
        package_type = STORED_PACKAGE_TYPES.get(package_type.lower(), package_type.lower())
    version = query_param(blueprint, "version") or None
    found = get_services().store.find_images_by_package(
        name, package_type=package_type, version=version
    )
    rows = [
        {
            "image": _image_reference(image),
            "packages": [
                {
                    "name": row.name,
                    "version": row.version,
                    "type": _match_package_type(row.package_type),
                    "path": row.location,
                }
                for row in packages
            ],
        }
        for image, packages in found
    ]
    return json_response(_page(rows, "images"))


def _list_param(name: str) -> list[str]:
    """Return every value of a repeated query parameter, also splitting comma-separated ones."""
    params = blueprint.current_request.query_params
    if not params or name not in params:
        return []
    values = params.getlist(name)
    return [part.strip() for value in values if value for part in value.split(",") if part.strip()]


def _severity_param() -> Severity | None:
    text = query_param(blueprint, "severity")
    if not text:
        return None
    for severity in Severity:
        if severity.value.lower() == text.lower():
            return severity
    allowed = ", ".join(severity.value for severity in Severity)
    raise InvalidRequestError(f"query parameter severity={text!r} is invalid; use one of {allowed}")


def _page(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Return one page of `rows` in Anchore's paginated shape."""
    page = _positive_int("page", 1)
    limit = min(_positive_int("limit", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    start = (page - 1) * limit
    selected = rows[start : start + limit]
    return {
        "page": str(page),
        "next_page": str(page + 1) if start + limit < len(rows) else None,
        "returned_count": len(selected),
        key: selected,
    }


def _positive_int(name: str, default: int) -> int:
    text = query_param(blueprint, name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidRequestError(
            f"query parameter {name}={text!r} is invalid; use a whole number from 1"
        )
    return value


def _package_type(namespace: str) -> str:
    family = namespace.partition(":")[0]
    distro_type = DISTRO_PACKAGE_TYPES.get(version_scheme_name(namespace) or "")
    return distro_type or LANGUAGE_PACKAGE_TYPES.get(family, family)


def _standalone_vulnerability(
    records: list[VulnRecord], nvd: dict[str, list[CvssScore]], cwes: dict[str, list[str]]
) -> dict[str, Any]:
    """Render the records of one id and namespace as one `StandaloneVulnerability`.

    `nvd` maps CVE ids to stored NVD scores and `cwes` to NVD's CWE ids. They fill `nvd_data`,
    and the scores give the severity of a record that has none, as in the image rows.
    """
    first = records[0]
    ids = cve_ids(first.id, first.aliases)
    return {
        "id": first.id,
        "namespace": first.namespace,
        "severity": fallback_severity(first.severity, ids, nvd).value,
        "link": first.link,
        "description": first.summary or "",
        "affected_packages": [
            {
                "name": record.package,
                "version": _fixed_version(record),
                "type": _package_type(record.namespace),
                "will_not_fix": record.will_not_fix,
            }
            for record in records
        ],
        "nvd_data": render.nvd_data(ids, nvd, cwes),
        "vendor_data": render.vendor_data(first.id, first.cvss, first.source),
        "references": [{"source": first.source, "url": first.link, "tags": []}]
        if first.link
        else [],
    }


def _fixed_version(record: VulnRecord) -> str:
    """Return the record's first fixed version, or `*` when no fix is known."""
    for affected_range in record.ranges:
        for event in affected_range.events:
            if event.fixed:
                return event.fixed
    return "*"


def _image_reference(image: ImageRecord) -> dict[str, Any]:
    return {
        "digest": image.digest,
        "imageDigest": image.digest,
        "id": image.image_id,
        "analyzed_at": timestamp(image.analyzed_at),
        "tag_history": [
            {
                "fulltag": tag.fulltag,
                "registry": tag.registry,
                "repo": tag.repository,
                "tag": tag.tag,
                "tag_detected_at": timestamp(tag.tag_detected_at),
            }
            for tag in image.tags
        ],
    }


def _affected_package(match: VulnMatch) -> dict[str, Any]:
    return {
        "name": match.package_name,
        "version": match.package_version,
        "type": _match_package_type(match.package_type),
        "namespace": match.namespace,
        "severity": match.severity.value,
    }


def _match_package_type(stored: str) -> str:
    return {"apk": "APKG"}.get(stored, stored)
