"""Tests of the content search beside the secret scan, through whole-image analysis."""

from __future__ import annotations

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.content_search import SearchScanner
from chalicelib.analysis.interface import AnalysisError, SecretMatch
from chalicelib.analysis.options import AnalysisOptions, SecretPattern
from tests.analysis.builders import file, image, symlink
from tests.policy.factories import make_facts, messages

AWS_LINE = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
PASSWORD = SecretPattern("PASSWORD", r".*password\s*=.*")


def test_content_search_off_by_default() -> None:
    source = image([file("app/config", "password = hunter2\n" + AWS_LINE)])
    report = analyze_image(source)
    assert report.content_matches == []
    assert [(match.path, match.name) for match in report.secrets] == [
        ("/app/config", "AWS_ACCESS_KEY")
    ]


def test_content_search_reports_named_matches() -> None:
    source = image(
        [
            file("app/config", "user = a\npassword = hunter2\n\npassword=x\n"),
            file("app/readme", "no secrets here\n"),
        ]
    )
    report = analyze_image(source, options=AnalysisOptions(content_search_patterns=(PASSWORD,)))
    assert report.content_matches == [
        SecretMatch(path="/app/config", name="PASSWORD", regex=PASSWORD.regex, lines=[2, 4])
    ]
    assert report.secrets == []


def test_content_search_reads_files_over_secret_limit() -> None:
    # 20,000 bytes: over the secret scan's 10,000 and under the content search's 1 MiB.
    content = AWS_LINE + "password = hunter2\n" + "#" * 20_000
    source = image([file("app/big.conf", content)])
    report = analyze_image(source, options=AnalysisOptions(content_search_patterns=(PASSWORD,)))
    assert [(match.path, match.lines) for match in report.content_matches] == [
        ("/app/big.conf", [2])
    ]
    assert report.secrets == []


def test_content_search_size_limit() -> None:
    source = image([file("app/config", "password = hunter2\n" + "#" * 100)])
    report = analyze_image(
        source,
        options=AnalysisOptions(
            content_search_patterns=(PASSWORD,), content_search_max_file_size=50
        ),
    )
    assert report.content_matches == []


def test_content_search_pattern_in_both_lists() -> None:
    both = SecretPattern("AWS_ACCESS_KEY", AnalysisOptions().secret_patterns[0].regex)
    small = file("app/small", AWS_LINE)
    large = file("app/large", AWS_LINE + "#" * 20_000)
    report = analyze_image(
        image([small, large]), options=AnalysisOptions(content_search_patterns=(both,))
    )
    assert [match.path for match in report.secrets] == ["/app/small"]
    assert [match.path for match in report.content_matches] == ["/app/large", "/app/small"]


def test_content_search_follows_symbolic_links() -> None:
    source = image([file("etc/app.conf", "password = x\n"), symlink("app.conf", "/etc/app.conf")])
    report = analyze_image(source, options=AnalysisOptions(content_search_patterns=(PASSWORD,)))
    assert [match.path for match in report.content_matches] == ["/app.conf", "/etc/app.conf"]


def test_content_search_later_layer_replaces_matches() -> None:
    first = [file("app/config", "password = old\n")]
    second = [file("app/config", "nothing\n")]
    report = analyze_image(
        image(first, second), options=AnalysisOptions(content_search_patterns=(PASSWORD,))
    )
    assert report.content_matches == []


def test_content_search_invalid_regex_rejected() -> None:
    with pytest.raises(AnalysisError, match="content search pattern BAD has an invalid regex"):
        AnalysisOptions(content_search_patterns=(SecretPattern("BAD", "(unclosed"),))


def test_content_search_layer_options() -> None:
    plain = AnalysisOptions()
    assert SearchScanner(plain).layer_options(plain) is plain
    searching = AnalysisOptions(content_search_patterns=(PASSWORD,))
    layer_options = SearchScanner(searching).layer_options(searching)
    assert layer_options.secret_max_file_size == searching.content_search_max_file_size
    assert layer_options.max_kept_file_size == searching.max_kept_file_size


def test_content_search_scan_filters_by_size() -> None:
    scanner = SearchScanner(AnalysisOptions(content_search_patterns=(PASSWORD,)))
    content = (AWS_LINE + "password = x\n").encode() + b"#" * 20_000
    assert [match.name for match in scanner.scan("/f", content)] == ["PASSWORD"]
    assert [match.name for match in scanner.scan("/f", content[:100])] == [
        "AWS_ACCESS_KEY",
        "PASSWORD",
    ]


def test_content_search_feeds_files_gate() -> None:
    source = image([file("app/config", "password = hunter2\n")])
    report = analyze_image(source, options=AnalysisOptions(content_search_patterns=(PASSWORD,)))
    facts = make_facts(content_matches=report.content_matches)
    expected = (
        "File content analyzer found regexp match in container: file=/app/config "
        f"regexp=PASSWORD={PASSWORD.regex}"
    )
    assert messages("files", "content_regex_match", {"regex_name": "PASSWORD"}, facts) == [expected]
