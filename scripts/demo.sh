#!/usr/bin/env bash
# End-to-end demo on embedded defaults: creates .venv, installs notation-py, then
#   makes a test signing certificate, builds a small OCI image in an OCI layout, signs it in JWS and
#   in COSE, shows `inspect`, verifies it under a strict trust policy, signs and verifies a blob,
#   then tampers with the signature and shows the failure; then starts a tlog transparency log, signs
#   with it, verifies under a policy that requires proof of inclusion (offline and online), forges a
#   proof and signs without the log to show both fail; and runs the loop against a local registry.
# Everything happens in a temporary directory (kept with KEEP=1); the user's notation config is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
echo "==> installing notation-py"
.venv/bin/python -m pip install -q --upgrade pip </dev/null
.venv/bin/python -m pip install -q -e '.[server]' </dev/null  # the demo serves a tlog log

WORK="$(mktemp -d "${TMPDIR:-/tmp}/notation-py-demo.XXXXXX")"
if [ "${KEEP:-0}" = "1" ]; then echo "(keeping $WORK)"; else trap 'rm -rf "$WORK"' EXIT; fi
export NOTATION_CONFIG="$WORK/config" NOTATION_CACHE="$WORK/cache"
N="$ROOT/.venv/bin/notation-py"
cd "$WORK"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ notation-py %s\n' "$*"; "$N" "$@"; }
# must_fail WHAT-IF-IT-PASSES WHAT-IT-SHOWS ARGS...: run notation-py ARGS, which must fail.
must_fail() {
    local passed="$1" shown="$2" code=0
    shift 2
    run "$@" || code=$?
    if [ "$code" -eq 0 ]; then
        echo "DEMO FAILED: $passed" >&2
        exit 1
    fi
    echo "-> $shown (exit code $code)"
}

step "1. A test signing key and certificate (self-signed, code-signing rules), trusted as ca:demo"
run cert generate-test --default --key-type ec-256 --validity 720h demo

step "2. A small OCI image in an OCI image layout"
DIGEST="$("$ROOT/.venv/bin/python" "$ROOT/scripts/demo_image.py" image v1)"
echo "image:v1 -> $DIGEST"

step "3. Sign it twice: JWS (default) and COSE, with user metadata"
run sign --oci-layout "image@$DIGEST" -m build=42
run sign --oci-layout --signature-format cose --expiry 24h "image@$DIGEST" -m build=42
run list --oci-layout "image@$DIGEST"

step "4. Inspect the signatures"
run inspect --oci-layout "image@$DIGEST"

step "5. A strict trust policy for the layout's scope, trusting ca:demo"
run policy init --name demo --scope local/demo --trust-store ca:demo \
    --trusted-identity "x509.subject: CN=demo,O=Notary,L=Seattle,ST=WA,C=US"
run policy show

step "6. Verify (any one valid signature passes; required metadata must match)"
run verify --oci-layout --scope local/demo "image@$DIGEST" -m build=42

step "7. Blob signing and verification"
printf 'release notes v1\n' > notes.txt
run blob sign --signature-format cose notes.txt
run blob policy init --name blobs --trust-store ca:demo --trusted-identity "*" --global
run blob verify --signature notes.txt.cose.sig notes.txt

step "8. Tamper: change one byte of every signature envelope and re-link it with correct digests"
# The layout stays internally consistent (every digest matches), so only the signature itself can
# tell: this is what an attacker who can write to the registry would do.
"$ROOT/.venv/bin/python" "$ROOT/scripts/demo_tamper.py" image "$DIGEST"
must_fail "a tampered signature verified" "verification failed as it must" verify --oci-layout --scope local/demo "image@$DIGEST"

step "9. Tamper with the blob: the detached signature no longer matches"
printf 'release notes v2\n' > notes.txt
must_fail "a modified blob verified" "verification failed as it must" blob verify --signature notes.txt.cose.sig notes.txt

step "10. Transparency: start a tlog log (SQLite) on loopback, sign with it, require proof of inclusion"
T="$ROOT/.venv/bin/tlog"
free_port() { "$ROOT/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
printf '$ tlog init --dir tlog --origin demo.tlog.example\n'
VKEY="$("$T" init --dir tlog --origin demo.tlog.example)"
echo "log verifier key: $VKEY"
"$ROOT/.venv/bin/python" -c 'import secrets; print(secrets.token_hex(16))' > tlog.token
TLOG_PORT="$(free_port)"
printf '$ tlog serve --dir tlog --listen 127.0.0.1:%s --token-file tlog.token &\n' "$TLOG_PORT"
"$T" serve --dir tlog --listen "127.0.0.1:$TLOG_PORT" --token-file tlog.token --log-level warning > tlog.log 2>&1 &
TLOG_PID=$!
PIDS="$TLOG_PID"
cleanup() {
    for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true  # the log shuts down gracefully: let it finish before its directory goes
    [ "${KEEP:-0}" = "1" ] || rm -rf "$WORK"
}
trap cleanup EXIT
TLOG="http://127.0.0.1:$TLOG_PORT"
for _ in $(seq 150); do
    "$ROOT/.venv/bin/python" -c "import httpx,sys; sys.exit(httpx.get('$TLOG/checkpoint').status_code != 200)" 2>/dev/null && break
    sleep 0.1
done
LDIGEST="$("$ROOT/.venv/bin/python" "$ROOT/scripts/demo_image.py" logged v1)"
echo "logged:v1 -> $LDIGEST"
run sign --oci-layout --tlog "$TLOG" --tlog-token-file tlog.token "logged@$LDIGEST"
run tlog proof --oci-layout "logged@$LDIGEST"
echo "the log's latest checkpoint ($TLOG/checkpoint):"
"$ROOT/.venv/bin/python" -c "import httpx; print(httpx.get('$TLOG/checkpoint').text, end='')"
# A statement for the layout's scope that requires a proof signed by this log's key.
"$ROOT/.venv/bin/python" - "$VKEY" "$TLOG" > logged-policy.json <<'PY'
import json, sys
statement = {
    "name": "logged",
    "registryScopes": ["local/logged"],
    "signatureVerification": {"level": "strict"},
    "trustStores": ["ca:demo"],
    "trustedIdentities": ["*"],
    "transparencyLog": {"required": True, "verifierKeys": [sys.argv[1]], "url": sys.argv[2]},
}
print(json.dumps({"version": "1.0", "trustPolicies": [statement]}, indent=2))
PY
run policy import --force logged-policy.json
run verify --oci-layout --scope local/logged "logged@$LDIGEST"
run verify --oci-layout --scope local/logged --tlog-online "logged@$LDIGEST"

step "11. Tamper with the transparency proof (one bit of the audit path), and sign without the log"
"$ROOT/.venv/bin/python" "$ROOT/scripts/demo_tamper_proof.py" logged "$LDIGEST"
must_fail "a forged transparency proof verified" "verification failed as it must" verify --oci-layout --scope local/logged "logged@$LDIGEST"
UDIGEST="$("$ROOT/.venv/bin/python" "$ROOT/scripts/demo_image.py" logged v2)"
run sign --oci-layout "logged@$UDIGEST"
must_fail "a signature that was never logged verified under a policy requiring the log" "an unlogged signature does not verify" verify --oci-layout --scope local/logged "logged@$UDIGEST"

if command -v docker-registry >/dev/null 2>&1; then
    step "12. The same loop against a registry: Debian's docker-registry (distribution 2.8.2) on loopback, with the log"
    PORT="$("$ROOT/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    mkdir -p registry/data
    printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' \
        "$WORK/registry/data" "$PORT" > registry/config.yml
    docker-registry serve registry/config.yml > registry/log 2>&1 &
    PIDS="$PIDS $!"
    for _ in $(seq 100); do
        "$ROOT/.venv/bin/python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$PORT/v2/').status_code != 200)" 2>/dev/null && break
        sleep 0.1
    done
    REPO="127.0.0.1:$PORT/demo"
    "$ROOT/.venv/bin/python" "$ROOT/scripts/demo_image.py" fresh v1 >/dev/null
    RDIGEST="$("$ROOT/.venv/bin/python" "$ROOT/scripts/demo_push.py" fresh v1 "$REPO")"
    echo "pushed $REPO:v1 -> $RDIGEST (plain HTTP on loopback, hence --insecure-registry)"
    run sign --insecure-registry --tlog "$TLOG" --tlog-token-file tlog.token "$REPO:v1"
    run sign --insecure-registry --signature-format cose --tlog "$TLOG" --tlog-token-file tlog.token "$REPO@$RDIGEST"
    run list --insecure-registry "$REPO@$RDIGEST"
    run inspect --insecure-registry "$REPO@$RDIGEST"
    sed "s#local/logged#$REPO#" logged-policy.json > registry-policy.json
    run policy import --force registry-policy.json
    run verify --insecure-registry --tlog-online "$REPO@$RDIGEST"
else
    step "12. (skipped: install Debian's docker-registry to also run the loop against a local registry)"
fi

step "Done: signed, logged, inspected and verified; tampering and unlogged signatures were caught."
