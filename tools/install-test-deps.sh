#!/usr/bin/env bash
# Install with apt what the test suite and the demo need, when it is missing.
#
# Needed: docker-registry (a local registry), skopeo (copies and inspects images), umoci
# (unpacks OCI layouts), the PostgreSQL server binaries, and npm with Node.js (npm pack fetches
# package tarballs), and db5.3-util (db5.3_load builds Berkeley DB rpm databases for the rpm
# reader's tests). Runs apt-get update once, and only when something is missing. Prints
# nothing on success. Without root and without password-less sudo, it lists what is missing
# and exits with status 1.
set -euo pipefail

missing=()

have_command() {
    command -v "$1" >/dev/null 2>&1
}

have_postgres_server() {
    compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null \
        || have_command postgres
}

have_command docker-registry || [[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
have_command skopeo || missing+=(skopeo)
have_command umoci || missing+=(umoci)
have_postgres_server || missing+=(postgresql)
# npm pulls in Debian's nodejs; a Node.js from elsewhere that already brings npm is kept.
have_command npm || missing+=(npm)
have_command db5.3_load || missing+=(db5.3-util)

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif have_command sudo && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "install-test-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-test-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get update -q >"$log" 2>&1 \
    || ! "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
        >>"$log" 2>&1; then
    cat "$log" >&2
    echo "install-test-deps: installing ${missing[*]} failed (apt output above)" >&2
    exit 1
fi
