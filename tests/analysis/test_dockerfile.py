"""Tests of guessing a Dockerfile from image history."""

from __future__ import annotations

import pytest

from chalicelib.analysis.dockerfile import dockerfile_line, guess_dockerfile


@pytest.mark.parametrize(
    ("created_by", "expected"),
    [
        ("/bin/sh -c #(nop) ADD file:1f4eb46669b5 in / ", "ADD file:1f4eb46669b5 in /"),
        ('/bin/sh -c #(nop)  CMD ["/bin/sh"]', 'CMD ["/bin/sh"]'),
        ("/bin/sh -c #(nop)  EXPOSE 80/tcp", "EXPOSE 80/tcp"),
        ("/bin/sh -c #(nop)  USER nobody", "USER nobody"),
        ("/bin/sh -c #(nop)  ENV PATH=/usr/bin", "ENV PATH=/usr/bin"),
        (
            "/bin/sh -c #(nop)  "
            'HEALTHCHECK &{["CMD-SHELL" "curl -f localhost"] "30s" "3s" "0s" \'\\x00\'}',
            'HEALTHCHECK &{["CMD-SHELL" "curl -f localhost"] "30s" "3s" "0s" \'\\x00\'}',
        ),
        ("/bin/sh -c apk add --no-cache curl", "RUN apk add --no-cache curl"),
        ("RUN /bin/sh -c apt-get update # buildkit", "RUN apt-get update"),
        ("RUN |2 VERSION=1.0 MODE=fast /bin/sh -c make install # buildkit", "RUN make install"),
        ('RUN |1 VERSION=1.0 ["/build.sh", "x"] # buildkit', 'RUN ["/build.sh", "x"]'),
        ("COPY /app/publish . # buildkit", "COPY /app/publish ."),
        ("WORKDIR /app", "WORKDIR /app"),
        ("USER 1000:1000", "USER 1000:1000"),
        ("cmd /S /C #(nop)  ENV NATS=1", "ENV NATS=1"),
        ("cmd /S /C powershell -Command x", "RUN powershell -Command x"),
        ("apt-get install -y curl", "RUN apt-get install -y curl"),
        ("", None),
        ("   ", None),
    ],
)
def test_dockerfile_line(created_by: str, expected: str | None) -> None:
    assert dockerfile_line(created_by) == expected


def test_dockerfile_line_multiline_run() -> None:
    line = dockerfile_line("RUN /bin/sh -c set -e\necho done # buildkit")
    assert line == "RUN set -e \\\necho done"


def test_guess_dockerfile_from_history() -> None:
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
        {"created_by": '/bin/sh -c #(nop)  CMD ["/bin/sh"]', "empty_layer": True},
        {"comment": "no created_by"},
        {"created_by": "USER app"},
    ]
    assert guess_dockerfile(history) == (
        'FROM scratch\nADD file:abc in /\nCMD ["/bin/sh"]\nUSER app\n'
    )
