"""Anchore v1 JSON shapes of stored records and analysis results."""

from __future__ import annotations

import base64
import json

from chalicelib.analysis.interface import AnalysisReport, FileEntry, FileType, Package, PackageType
from chalicelib.api.http import timestamp
from chalicelib.store import EvaluationRecord, ImageRecord, PolicyRecord
from chalicelib.vulns.interface import CvssScore, VulnMatch
from chalicelib.vulns.nvd import cve_ids, fallback_severity

ACCOUNT = "admin"

CONTENT_TYPES = [
    "os", "files", "npm", "gem", "python", "java", "binary", "go", "malware", "rust",
    "composer", "nuget",
]
METADATA_TYPES = ["manifest", "docker_history", "dockerfile"]
VULN_TYPES = ["os", "non-os", "all"]

LANGUAGE_CONTENT_TYPES = {
    "python": PackageType.PYTHON,
    "npm": PackageType.NPM,
    "java": PackageType.JAVA,
    "go": PackageType.GO,
    "binary": PackageType.BINARY,
    "rust": PackageType.RUST,
    "gem": PackageType.GEM,
    "composer": PackageType.COMPOSER,
    "nuget": PackageType.NUGET,
}
"""Content types backed by a package type of the analysis; other language types are empty."""

OS_TYPE_NAMES = {PackageType.DPKG: "dpkg", PackageType.APK: "APKG", PackageType.RPM: "rpm"}
FILE_TYPE_NAMES = {
    FileType.FILE: "file",
    FileType.HARDLINK: "file",
    FileType.DIR: "dir",
    FileType.SYMLINK: "slink",
    FileType.CHAR_DEVICE: "dev",
    FileType.BLOCK_DEVICE: "dev",
    FileType.FIFO: "UNKNOWN",
}


def image(record: ImageRecord) -> dict:
    """Render an `AnchoreImage`."""
    details = []
    for tag in record.tags:
        details.append(
            {
                "registry": tag.registry,
                "repo": tag.repository,
                "tag": tag.tag,
                "fulltag": tag.fulltag,
                "fulldigest": f"{tag.registry}/{tag.repository}@{record.digest}",
                "digest": record.digest,
                "imageDigest": record.digest,
                "imageId": record.image_id,
                "userId": ACCOUNT,
                "dockerfile": _b64(record.dockerfile) if record.dockerfile else None,
                "created_at": timestamp(tag.created_at),
                "last_updated": timestamp(tag.last_updated),
                "tag_detected_at": timestamp(tag.tag_detected_at),
            }
        )
    metadata = None
    if record.analysis_status == "analyzed":
        metadata = {
            "arch": record.arch,
            "distro": record.distro,
            "distro_version": record.distro_version,
            "dockerfile_mode": record.dockerfile_mode,
            "image_size": record.image_size,
            "layer_count": record.layer_count,
        }
    return {
        "imageDigest": record.digest,
        "parentDigest": record.parent_digest,
        "userId": ACCOUNT,
        "image_type": "docker",
        "analysis_status": record.analysis_status,
        "analysis_error": record.failure_reason,
        "image_status": record.image_status,
        "annotations": record.annotations or {},
        "created_at": timestamp(record.created_at),
        "last_updated": timestamp(record.last_updated),
        "analyzed_at": timestamp(record.analyzed_at),
        "record_version": "v1",
        "image_content": {"metadata": metadata},
        "image_detail": details,
    }


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _license_text(package: Package) -> str:
    return " ".join(package.licenses) if package.licenses else "Unknown"


def os_package(package: Package) -> dict:
    """Render a row of `content/os`."""
    version = package.version
    return {
        "package": package.name,
        "version": version,
        "type": OS_TYPE_NAMES.get(package.type, package.type.value),
        "size": str(package.size) if package.size is not None else "N/A",
        "origin": package.origin or "N/A",
        "license": _license_text(package),
        "licenses": package.licenses or ["Unknown"],
        "sourcepkg": _source_package(package),
        "location": package.location,
        "cpes": package.cpes,
        "purl": package.purl,
    }


def _source_package(package: Package) -> str:
    """Return the source package as Anchore shows it: the source RPM file name for rpm."""
    if package.type is PackageType.RPM and package.metadata.get("source_rpm"):
        return str(package.metadata["source_rpm"])
    return package.source_name or package.name


def language_package(package: Package) -> dict:
    """Render a row of `content/python`, `content/npm` and the other language types."""
    return {
        "package": package.name,
        "version": package.version,
        "type": package.type.value.upper(),
        "location": package.location,
        "origin": package.origin or "Unknown",
        "license": _license_text(package),
        "licenses": package.licenses or ["Unknown"],
        "cpes": package.cpes,
        "purl": package.purl,
    }


def java_package(package: Package) -> dict:
    """Render a row of `content/java`, with the manifest and pom.properties versions."""
    metadata = package.metadata
    archive = package.location.rsplit(":", 1)[-1]
    extension = archive.rsplit(".", 1)[-1].upper() if "." in archive else "JAR"
    row = language_package(package)
    row.update(
        {
            "type": f"JAVA-{extension}",
            "specification-version": metadata.get("specification-version") or "N/A",
            "implementation-version": metadata.get("implementation-version") or "N/A",
            "maven-version": metadata.get("maven-version") or "N/A",
            "version": package.version or "N/A",
            "origin": metadata.get("origin") or "N/A",
            "metadata": {"pom.properties": metadata.get("pom_properties") or {}},
        }
    )
    return row


def binary_package(package: Package) -> dict:
    """Render a row of `content/go`, `content/binary` and `content/rust`, with raw metadata."""
    row = language_package(package)
    row["origin"] = package.origin or "N/A"
    if not package.licenses:
        row["license"] = "N/A"
    row["metadata"] = package.metadata
    return row


def file_row(entry: FileEntry) -> dict:
    """Render a row of `content/files`."""
    return {
        "filename": entry.path,
        "type": FILE_TYPE_NAMES.get(entry.type, "UNKNOWN"),
        "size": entry.size,
        "mode": format(entry.mode & 0o7777, "05o"),
        "uid": entry.uid,
        "gid": entry.gid,
        "linkdest": entry.link_target,
        "sha256": entry.sha256,
    }


def content(report: AnalysisReport, content_type: str) -> list[dict]:
    """Render the rows of one content type."""
    if content_type == "os":
        return [os_package(p) for p in report.packages if p.type.is_os]
    if content_type == "files":
        return [file_row(f) for f in report.files]
    package_type = LANGUAGE_CONTENT_TYPES.get(content_type)
    if package_type is None:
        return []
    render_row = language_package
    if package_type == PackageType.JAVA:
        render_row = java_package
    elif package_type in (PackageType.GO, PackageType.BINARY, PackageType.RUST):
        render_row = binary_package
    return [render_row(p) for p in report.packages if p.type == package_type]


def metadata(record: ImageRecord, report: AnalysisReport, metadata_type: str) -> str:
    """Render one metadata type as base64 text, as Anchore's API does."""
    if metadata_type == "manifest":
        text = json.dumps(report.manifest or record.manifest)
    elif metadata_type == "docker_history":
        text = json.dumps(report.history)
    else:
        text = report.dockerfile or ""
    return _b64(text)


def cvss_scores(scores: list[CvssScore], major: str) -> dict[str, float]:
    """Render the first CVSS score of a major version (`2` or `3`) in `scores` as Anchore's
    `{base_score, exploitability_score, impact_score}`, with -1.0 for each missing value."""
    score = next((s for s in scores if s.version.startswith(major)), None)

    def value(number: float | None) -> float:
        return number if number is not None else -1.0

    return {
        "base_score": value(score.base_score if score else None),
        "exploitability_score": value(score.exploitability_score if score else None),
        "impact_score": value(score.impact_score if score else None),
    }


def nvd_data(
    ids: list[str], nvd: dict[str, list[CvssScore]], cwes: dict[str, list[str]] | None = None
) -> list[dict]:
    """Render Anchore's `nvd_data`: one entry per CVE id, from the stored NVD record's scores.

    A CVE without stored NVD data keeps its entry, with -1.0 scores, so the entries list every
    CVE id of the vulnerability. `cwes` maps CVE ids to NVD's CWE ids, which each entry carries
    as `cwes`, a field Anchore Engine does not have and its clients ignore.
    """
    cwes = cwes or {}
    return [
        {
            "id": cve_id,
            "cvss_v2": cvss_scores(nvd.get(cve_id, []), "2"),
            "cvss_v3": cvss_scores(nvd.get(cve_id, []), "3"),
            "cwes": cwes.get(cve_id, []),
        }
        for cve_id in ids
    ]


def vendor_data(vuln_id: str, scores: list[CvssScore], source: str | None) -> list[dict]:
    """Render Anchore's `vendor_data`: the record's own scores under its id.

    Empty when the record has no scores, or when it is an NVD record, whose scores are the
    `nvd_data` already.
    """
    if not scores or source == "nvd":
        return []
    return [
        {"id": vuln_id, "cvss_v2": cvss_scores(scores, "2"), "cvss_v3": cvss_scores(scores, "3")}
    ]


def vulnerability(
    match: VulnMatch,
    nvd: dict[str, list[CvssScore]] | None = None,
    cwes: dict[str, list[str]] | None = None,
) -> dict:
    """Render a `Vulnerability` row.

    `nvd` maps CVE ids to their stored NVD scores and `cwes` to NVD's CWE ids (from the NVD
    records of every row of the response, looked up once). They fill `nvd_data`, and the scores
    give the severity of a match whose record has none; see `fallback_severity`.
    """
    nvd = nvd or {}
    ids = cve_ids(match.vuln_id, match.aliases)
    try:
        package_type = OS_TYPE_NAMES.get(PackageType(match.package_type), match.package_type)
    except ValueError:
        package_type = match.package_type
    # A match of an NVD record never happens (the matcher does not look packages up in the
    # `nvd` namespace), so the match's own scores are always the vendor's.
    return {
        "vuln": match.vuln_id,
        "severity": fallback_severity(match.severity, ids, nvd).value,
        "package": f"{match.package_name}-{match.package_version}",
        "package_name": match.package_name,
        "package_version": match.package_version,
        "package_type": package_type,
        "package_cpe": "None",
        "package_cpe23": "None",
        "package_path": match.package_path,
        "fix": ",".join(match.fixed_in) if match.fixed_in else "None",
        "url": match.url or "None",
        "feed": "vulnerabilities",
        "feed_group": match.namespace,
        "will_not_fix": match.will_not_fix,
        "nvd_data": nvd_data(ids, nvd, cwes),
        "vendor_data": vendor_data(match.vuln_id, match.cvss, None),
    }


def is_os_match(match: VulnMatch) -> bool:
    return match.package_type in ("dpkg", "apk", "rpm")


def policy(record: PolicyRecord, *, detail: bool) -> dict:
    """Render a `PolicyBundleRecord`."""
    body = {
        "policyId": record.policy_id,
        "active": record.active,
        "userId": ACCOUNT,
        "policy_source": "local",
        "name": record.bundle.get("name"),
        "created_at": timestamp(record.created_at),
        "last_updated": timestamp(record.last_updated),
    }
    if detail:
        body["policybundle"] = record.bundle
    return body


def evaluation(record: EvaluationRecord, bundle: dict, *, detail: bool) -> dict:
    """Render one entry of a check response."""
    body = {
        "policyId": record.policy_id,
        "status": record.status,
        "last_evaluation": timestamp(record.created_at),
        "evalId": record.eval_id,
        "detail": {},
    }
    if detail:
        body["detail"] = {"result": record.result, "policy": bundle}
    return body
