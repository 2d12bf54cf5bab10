"""Settings read once from environment variables.

Precedence: an environment variable wins over the default in code. `.chalice/config.json` sets
environment variables per stage, so a stage value reaches the code the same way as a shell export.
A bad value raises `SettingsError` naming the variable when the settings are first read.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path


class SettingsError(ValueError):
    """An environment variable has a value that cannot be used."""


@dataclasses.dataclass(frozen=True)
class AnalysisLimit:
    """A limit of `AnalysisOptions` that users set with a `plimsoll analyze` flag or a setting.

    The flag is the field name with dashes (`--max-layer-bytes`). The service reads the
    environment variable named as the field in upper case (`MAX_LAYER_BYTES`). When neither is
    set, the analysis keeps the default of `AnalysisOptions`.
    """

    field: str
    """Name of the `AnalysisOptions` field."""
    description: str
    """Description of the bounded quantity, used in help text."""
    unit: str = "bytes"
    """Unit of the value, used in help text and error messages."""
    allows_zero: bool = False
    """Whether 0 is a valid value."""

    @property
    def flag(self) -> str:
        """The `plimsoll analyze` option."""
        return "--" + self.field.replace("_", "-")

    @property
    def variable(self) -> str:
        """The environment variable of the service."""
        return self.field.upper()

    def parse(self, text: str) -> int:
        """Parse a value of the limit, raising `ValueError` with a message that names the unit."""
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or value < 0 or (value == 0 and not self.allows_zero):
            kind = "non-negative" if self.allows_zero else "positive"
            raise ValueError(f"{text!r} is not a {kind} whole number of {self.unit}")
        return value


ANALYSIS_LIMITS = (
    AnalysisLimit("max_layer_bytes", "maximum uncompressed size of one layer"),
    AnalysisLimit(
        "max_layer_entries",
        "maximum number of tar entries in one layer, and of gzip members in its blob",
        unit="entries",
    ),
    AnalysisLimit(
        "max_image_path_bytes",
        "maximum total size of the paths that the layers of one image write",
    ),
    AnalysisLimit("max_kept_file_size", "maximum size of a file that a cataloger reads"),
    AnalysisLimit(
        "max_kept_rpmdb_size",
        "maximum size of an rpm database (rpm/Packages, Packages.db or rpmdb.sqlite) that is read",
    ),
    AnalysisLimit(
        "retrieved_file_max_size",
        "maximum size of a file stored whole among the retrieved files",
        allows_zero=True,
    ),
)
"""Analysis limits that users set with `plimsoll analyze` flags or service environment variables."""


OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"
OSV_ECOSYSTEMS = (
    "PyPI",
    "npm",
    "Go",
    "crates.io",
    "Maven",
    "RubyGems",
    "NuGet",
    "Packagist",
    "Debian",
    "Ubuntu",
    "Alpine",
    "Rocky Linux",
    "AlmaLinux",
    "SUSE",
    "openSUSE",
    "Azure Linux",
    "Mageia",
    "Wolfi",
    "Chainguard",
    "MinimOS",
    "Alpaquita",
    "Echo",
)
"""Ecosystems whose OSV export (`<bucket>/<ecosystem>/all.zip`) the default sources read."""
ALPINE_SECDB = "https://secdb.alpinelinux.org"
ALPINE_SECDB_RELEASES = ("v3.18", "v3.19", "v3.20", "v3.21", "v3.22", "edge")
"""Alpine releases whose secdb (`main.json`, `community.json`) the default sources read."""
DEBIAN_TRACKER_JSON = "https://security-tracker.debian.org/tracker/data/json"
NVD_API = "https://services.nvd.nist.gov/rest/json/cves/2.0"
"""The NVD CVE API 2.0, read page by page into a local mirror and then updated incrementally."""
REDHAT_VEX_POINTER = "https://security.access.redhat.com/data/csaf/v2/vex/archive_latest.txt"
"""Red Hat's pointer to its newest dated archive (`.tar.zst`) of CSAF VEX files."""
UBUNTU_CVE_TRACKER_TAR = (
    "https://git.launchpad.net/ubuntu-cve-tracker/snapshot/ubuntu-cve-tracker-master.tar.gz"
)
"""A tar snapshot of the Ubuntu CVE tracker's git repository, made by cgit on request."""
# NOTE: the OSV Ubuntu export names the tracker's issues `UBUNTU-CVE-<id>` and links the CVE id
# only in `upstream`, which is no alias for Ubuntu records, so with both default sources an
# Ubuntu image reports each such issue twice: as CVE-<id> and as UBUNTU-CVE-<id>.
NODE_SECURITY_TAR = "https://github.com/nodejs/security-wg/archive/refs/heads/main.tar.gz"
"""A tar snapshot of the Node.js security WG repository, whose `vuln/npm` advisories last
changed in January 2023."""

DEFAULT_FEED_SOURCES = ",".join(
    [
        *(f"osv={OSV_BUCKET}/{ecosystem}/all.zip" for ecosystem in OSV_ECOSYSTEMS),
        *(
            f"alpine-secdb={ALPINE_SECDB}/{release}/{repository}.json"
            for release in ALPINE_SECDB_RELEASES
            for repository in ("main", "community")
        ),
        f"debian-tracker={DEBIAN_TRACKER_JSON}",
        f"nvd={NVD_API}",
        f"redhat-csaf={REDHAT_VEX_POINTER}",
        f"ubuntu-cve-tracker={UBUNTU_CVE_TRACKER_TAR}",
        f"node-security={NODE_SECURITY_TAR}",
    ]
)
"""The public locations of the feeds that have importers; a machine without internet access
points `FEED_SOURCES` at a local copy instead."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Service settings; see the README for what each variable does."""

    host: str = "127.0.0.1"
    port: int = 8228
    data_dir: Path = Path(".data")
    database_url: str = ""
    """SQLAlchemy URL; empty means a SQLite file under `data_dir`."""
    queue_url: str = ""
    """SQS queue URL; empty means the in-process queue."""
    aws_endpoint_url: str = ""
    admin_password: str = "foobar"
    feed_sources: str = DEFAULT_FEED_SOURCES
    log_level: str = "INFO"
    nvd_api_key: str = ""
    """NVD API key sent as the `apiKey` header; empty means requests without a key, which NVD
    limits to 10 in a rolling 60-second window."""
    watch_interval_seconds: int = 600
    """Seconds between watcher runs of the local server; 0 disables them."""
    webhook_url: str = ""
    """URL that watch-mode notifications are POSTed to; empty means none are sent."""
    webhook_user: str = ""
    webhook_password: str = ""
    analysis_limits: dict[str, int] = dataclasses.field(default_factory=dict)
    """Limits of `ANALYSIS_LIMITS` set in the environment, by `AnalysisOptions` field name. The
    analysis keeps its defaults for the others."""

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'plimsoll.db').resolve()}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: `os.environ`), raising `SettingsError`."""
        env = dict(os.environ if env is None else env)
        port_text = env.get("PORT", "8228")
        try:
            port = int(port_text)
        except ValueError:
            raise SettingsError(f"PORT={port_text!r} is not an integer; set a TCP port") from None
        if not 0 < port < 65536:
            raise SettingsError(f"PORT={port} is out of range; set a port from 1 to 65535")
        log_text = env.get("LOG_LEVEL", "INFO")
        log_level = log_text.upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise SettingsError(
                f"LOG_LEVEL={log_text!r} is not a level; use DEBUG, INFO, WARNING or ERROR"
            )
        admin_password = env.get("ADMIN_PASSWORD", "foobar")
        if not admin_password:
            raise SettingsError("ADMIN_PASSWORD is set but empty; set a password or unset it")
        database_url = env.get("DATABASE_URL", "")
        if database_url and not database_url.startswith(("sqlite", "postgresql")):
            raise SettingsError(
                f"DATABASE_URL={database_url!r} is not supported; use sqlite:///PATH "
                "or postgresql+pg8000://USER:PASSWORD@HOST:PORT/DB"
            )
        return cls(
            host=env.get("HOST", "127.0.0.1"),
            port=port,
            data_dir=Path(env.get("DATA_DIR", ".data")),
            database_url=database_url,
            queue_url=_queue_url(env),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL", ""),
            admin_password=admin_password,
            feed_sources=env.get("FEED_SOURCES", DEFAULT_FEED_SOURCES),
            log_level=log_level,
            nvd_api_key=env.get("NVD_API_KEY", ""),
            watch_interval_seconds=_watch_interval(env),
            webhook_url=_webhook_url(env),
            webhook_user=env.get("WEBHOOK_USER", ""),
            webhook_password=env.get("WEBHOOK_PASSWORD", ""),
            analysis_limits=_analysis_limits(env),
        )


def _analysis_limits(env: dict[str, str]) -> dict[str, int]:
    limits = {}
    for limit in ANALYSIS_LIMITS:
        text = env.get(limit.variable)
        if text is None:
            continue
        try:
            limits[limit.field] = limit.parse(text)
        except ValueError as error:
            raise SettingsError(
                f"{limit.variable}={error}; fix it, or unset it to keep the default"
            ) from None
    return limits


def _watch_interval(env: dict[str, str]) -> int:
    text = env.get("WATCH_INTERVAL_SECONDS", "600")
    try:
        interval = int(text)
    except ValueError:
        raise SettingsError(
            f"WATCH_INTERVAL_SECONDS={text!r} is not an integer; set seconds, or 0 to disable"
        ) from None
    if interval < 0:
        raise SettingsError(
            f"WATCH_INTERVAL_SECONDS={interval} is negative; set seconds, or 0 to disable"
        )
    return interval


def _queue_url(env: dict[str, str]) -> str:
    url = env.get("QUEUE_URL", "")
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError(
            f"QUEUE_URL={url!r} is not an SQS queue URL; set https://sqs.REGION.amazonaws.com/"
            "ACCOUNT/NAME (or the queue URL of LocalStack or moto), or unset it for the "
            "in-process queue"
        )
    return url


def _webhook_url(env: dict[str, str]) -> str:
    url = env.get("WEBHOOK_URL", "")
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError(
            f"WEBHOOK_URL={url!r} is not an http:// or https:// URL; set one, or unset it"
        )
    return url


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first use."""
    return Settings.from_env()
