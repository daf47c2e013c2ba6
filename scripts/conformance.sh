#!/usr/bin/env bash
# API conformance fuzzing: schemathesis against each service's own /openapi.json, on the real
# services with their own databases and RabbitMQ vhost. 0 server errors, 0 undocumented answers,
# 0 schema-valid requests rejected and 0 schema-invalid requests accepted, or it fails.
#
# usage: scripts/conformance.sh [--verbose] [--max-examples N] [--seed N] [shop|crm|mes ...]
#
# Needs the infrastructure running (scripts/infra.sh up, which scripts/test.sh does first).
# Installs python3-venv if missing, the pinned schemathesis (tools/conformance/requirements.txt)
# into .data/venv-conformance, builds the three service binaries (dev profile, shared with
# cargo test), then runs tools/conformance/run.py: it creates and drops its own databases and
# vhost, starts and stops the services on free ports. Logs: .data/conformance/.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

started=$(now_us)
requirements="$ROOT/tools/conformance/requirements.txt"
venv="$DATA_DIR/venv-conformance"

# Debian's python3 creates virtualenvs only with python3-venv (ensurepip); psql drives the
# databases.
if ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt_install python3 python3-venv
fi
command -v psql >/dev/null || apt_install postgresql-client

# (Re)install when the pinned set changed: the stamp holds the requirements it was built from.
if ! cmp -s "$requirements" "$venv/.requirements" 2>/dev/null; then
    log "installing schemathesis into $venv"
    rm -rf -- "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp -- "$requirements" "$venv/.requirements"
fi

# The workspace build both README commands share (building only the three packages would
# resolve other dependency features and compile tokio and all above it a second time).
build_start
build_wait

rc=0
DATA_DIR="$DATA_DIR" "$venv/bin/python" "$ROOT/tools/conformance/run.py" \
    --bin-dir "$BIN_DIR" "$@" || rc=$?
log "conformance finished in $(elapsed_since "$started")"
exit "$rc"
