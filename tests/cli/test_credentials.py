"""Registry credentials of `plimsoll analyze`: the Docker client config and the environment.

The end-to-end tests pull from the real `docker-registry` with HTTP basic authentication.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from chalicelib.analysis.interface import AnalysisReport
from chalicelib.cli import analyze, build_parser
from chalicelib.cli.credentials import (
    DOCKER_HUB_CONFIG_KEY,
    PASSWORD_VARIABLE,
    USERNAME_VARIABLE,
    docker_config_path,
    read_docker_config,
    registry_credentials,
    registry_of_config_key,
)
from chalicelib.cli.sources import SourceError, open_source
from tests.support.registry import (  # noqa: F401
    TEST_PASSWORD,
    TEST_USER,
    LocalRegistry,
    auth_registry,
)
from tools.imagebuild.image import ImageBuilder

METADATA = b"Metadata-Version: 2.1\nName: private-package\nVersion: 2.0\n"


def basic_auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def write_config(directory: Path, document: object) -> Path:
    """Write `document` as `config.json` in `directory` and return the file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point DOCKER_CONFIG at an empty directory and unset the credential variables."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    monkeypatch.delenv(USERNAME_VARIABLE, raising=False)
    monkeypatch.delenv(PASSWORD_VARIABLE, raising=False)
    return directory


@pytest.mark.parametrize(
    ("key", "registry"),
    [
        (DOCKER_HUB_CONFIG_KEY, "docker.io"),
        ("index.docker.io", "docker.io"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
        ("https://Registry.Example.com", "registry.example.com"),
    ],
)
def test_registry_of_config_key(key: str, registry: str) -> None:
    assert registry_of_config_key(key) == registry


def test_read_docker_config_entries(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_config(
        tmp_path,
        {
            "auths": {
                DOCKER_HUB_CONFIG_KEY: {"auth": basic_auth("hub-user", "pass:with:colons")},
                "registry.example.com": {"username": "alice", "password": "secret"},
                "broken.example.com": {"auth": "s3cret-not-base64"},
                "token.example.com": {"identitytoken": "opaque"},
                "empty.example.com": {},
            }
        },
    )

    with caplog.at_level(logging.WARNING):
        credentials, helper_registries = read_docker_config(path)

    assert credentials == {
        "docker.io": ("hub-user", "pass:with:colons"),
        "registry.example.com": ("alice", "secret"),
    }
    assert helper_registries == set()
    assert "broken.example.com" in caplog.text
    assert "identity token" in caplog.text
    assert "s3cret" not in caplog.text


def test_read_docker_config_invalid_json(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")

    with caplog.at_level(logging.WARNING):
        assert read_docker_config(path) == ({}, set())
    assert str(path) in caplog.text


def test_read_docker_config_missing_file(tmp_path: Path) -> None:
    assert read_docker_config(tmp_path / "absent.json") == ({}, set())


def test_docker_config_path_defaults_to_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    write_config(tmp_path / ".docker", {"auths": {"127.0.0.1:5000": {"auth": basic_auth("u", "p")}}})

    assert docker_config_path() == tmp_path / ".docker" / "config.json"
    assert registry_credentials("127.0.0.1:5000") == {"127.0.0.1:5000": ("u", "p")}


def test_environment_overrides_config(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    write_config(
        clean_environment,
        {
            "auths": {
                "127.0.0.1:5000": {"auth": basic_auth("file-user", "file-password")},
                "other.example.com": {"auth": basic_auth("other", "other-password")},
            }
        },
    )
    monkeypatch.setenv(USERNAME_VARIABLE, "env-user")
    monkeypatch.setenv(PASSWORD_VARIABLE, "env-password")

    credentials = registry_credentials("127.0.0.1:5000")

    assert credentials["127.0.0.1:5000"] == ("env-user", "env-password")
    assert credentials["other.example.com"] == ("other", "other-password")


def test_environment_applies_to_docker_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USERNAME_VARIABLE, "hub-user")
    monkeypatch.setenv(PASSWORD_VARIABLE, "hub-password")

    assert registry_credentials("index.docker.io") == {"docker.io": ("hub-user", "hub-password")}


def test_environment_needs_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USERNAME_VARIABLE, "alone")

    with pytest.raises(SourceError) as raised:
        open_source("registry:127.0.0.1:5000/app:1")

    assert f"{USERNAME_VARIABLE} is set but {PASSWORD_VARIABLE} is not" in str(raised.value)


def test_credential_helper_is_named_not_run(
    clean_environment: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_config(
        clean_environment,
        {
            "auths": {"helped.example.com": {}},
            "credsStore": "desktop",
            "credHelpers": {"ecr.example.com": "ecr-login"},
        },
    )

    with caplog.at_level(logging.WARNING):
        assert registry_credentials("ecr.example.com") == {}
        assert registry_credentials("helped.example.com") == {}
        assert registry_credentials("plain.example.com") == {}

    assert "registry ecr.example.com" in caplog.text
    assert "registry helped.example.com" in caplog.text
    assert "plain.example.com" not in caplog.text
    assert USERNAME_VARIABLE in caplog.text


@pytest.fixture(scope="module")
def private_image(auth_registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Push an image with one Python package to the authenticating registry; return its tag."""
    builder = ImageBuilder()
    builder.add_layer().add_file(
        "/usr/lib/python3/dist-packages/private_package-2.0.dist-info/METADATA", METADATA
    )
    layout = tmp_path_factory.mktemp("private-image") / "layout"
    builder.write_oci_layout(layout, "1")
    return auth_registry.push(layout, "1", "plimsoll/private:1")


def analyze_registry(
    reference: str, tmp_path: Path, *extra: str
) -> tuple[int, AnalysisReport | None]:
    """Run `plimsoll analyze registry:REFERENCE -o json`; return the code and the report."""
    output = tmp_path / "report.json"
    args = build_parser().parse_args(["analyze", f"registry:{reference}", "-o", "json", *extra])
    args.file = output
    code = analyze.run(args)
    if code != 0 or not output.exists():
        return code, None
    return code, AnalysisReport.model_validate_json(output.read_bytes())


def python_names(report: AnalysisReport | None) -> set[str]:
    assert report is not None
    return {package.name for package in report.packages if package.type.value == "python"}


def test_pull_without_credentials_fails(
    private_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = analyze_registry(private_image, tmp_path)

    assert code == 1
    error = capsys.readouterr().err
    assert "requires authentication" in error
    assert "docker login" in error
    assert USERNAME_VARIABLE in error


@pytest.mark.parametrize("form", ["auth", "username"])
def test_pull_with_docker_config(
    private_image: str,
    auth_registry: LocalRegistry,
    clean_environment: Path,
    tmp_path: Path,
    form: str,
) -> None:
    if form == "auth":
        entry = {"auth": basic_auth(TEST_USER, TEST_PASSWORD)}
    else:
        entry = {"username": TEST_USER, "password": TEST_PASSWORD}
    write_config(clean_environment, {"auths": {auth_registry.host: entry}})

    code, report = analyze_registry(private_image, tmp_path)

    assert code == 0
    assert python_names(report) == {"private-package"}


def test_pull_with_url_key(
    private_image: str, auth_registry: LocalRegistry, clean_environment: Path, tmp_path: Path
) -> None:
    entry = {"auth": basic_auth(TEST_USER, TEST_PASSWORD)}
    write_config(clean_environment, {"auths": {f"http://{auth_registry.host}/v2/": entry}})

    code, report = analyze_registry(private_image, tmp_path)

    assert code == 0
    assert python_names(report) == {"private-package"}


def test_pull_with_environment(
    private_image: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(USERNAME_VARIABLE, TEST_USER)
    monkeypatch.setenv(PASSWORD_VARIABLE, TEST_PASSWORD)

    code, report = analyze_registry(private_image, tmp_path)

    assert code == 0
    assert python_names(report) == {"private-package"}


def test_pull_with_wrong_password(
    private_image: str,
    auth_registry: LocalRegistry,
    clean_environment: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    entry = {"auth": basic_auth(TEST_USER, "wrong-password")}
    write_config(clean_environment, {"auths": {auth_registry.host: entry}})

    code, _ = analyze_registry(private_image, tmp_path)

    assert code == 1
    error = capsys.readouterr().err
    assert f"rejected the credentials of user {TEST_USER!r}" in error
    assert "wrong-password" not in error


def test_platform_all_uses_credentials(
    private_image: str, auth_registry: LocalRegistry, clean_environment: Path, tmp_path: Path
) -> None:
    entry = {"auth": basic_auth(TEST_USER, TEST_PASSWORD)}
    write_config(clean_environment, {"auths": {auth_registry.host: entry}})

    code, _ = analyze_registry(private_image, tmp_path, "--platform", "all")

    assert code == 0
    output = tmp_path / "report.linux-amd64.json"
    assert python_names(AnalysisReport.model_validate_json(output.read_bytes())) == {
        "private-package"
    }
