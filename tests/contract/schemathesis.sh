#!/usr/bin/env bash
# The contract, tried as a generated client would: schemathesis against a
# memberd served on a scratch database, every check, every operation.
#
#   bash tests/contract/schemathesis.sh            (about ten minutes; not in CI)
#   FUZZ_ONLY='factors|/auth/mfa' bash tests/contract/schemathesis.sh   (the main pass on matching paths only)
#
# Passes with a superuser's access token: every operation but those that may
# end the session they are called with (logout, ending one of one's own
# sessions), then each of those with a fresh one.
# What may be refused for the state of the database rather than the shape of
# the request is declared, with its reason, in schemathesis.toml beside this.
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT=${FUZZ_PORT:-18111}
DB=memberd_fuzz
API=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
VENV=${FUZZ_VENV:-$HOME/.cache/memberd-schemathesis}
PASSWORD='fuzz admin passphrase'

[ -x "$VENV/bin/st" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q schemathesis==4.32.5; }
cargo build --quiet --bin memberd

cleanup() {
    [ -n "${MEMBERD_PID:-}" ] && kill "$MEMBERD_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

psql "postgres://postgres@127.0.0.1:5432/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
# Staff powers without a second factor: the run is about the shapes of
# requests and answers; tests/api/factors.rs holds staff to `required`.
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable" MEMBERD_BIND=127.0.0.1:$PORT \
    MEMBERD_PUBLIC_URL=$API MEMBERD_MAIL_DIR=$WORK/mail MEMBERD_ACCESS_TTL=3h RUST_LOG=warn MEMBERD_STAFF_MFA=optional
./target/debug/memberd migrate
MEMBERD_PASSWORD=$PASSWORD ./target/debug/memberd create-superuser --username fuzzadmin --email fuzz@example.com >/dev/null
./target/debug/memberd serve > "$WORK/memberd.log" 2>&1 &
MEMBERD_PID=$!
for _ in $(seq 1 100); do curl -sf "$API/health/ready" >/dev/null && break; sleep 0.1; done

token() {
    curl -sf -X POST "$API/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"login\": \"fuzzadmin\", \"password\": \"$PASSWORD\"}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
TOKEN=$(token)
# A service key, so that the lists of clients hold one.
curl -sf -X POST "$API/v1/service-clients" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"name": "fuzz", "scopes": ["status:read", "members:read", "events:read"]}' >/dev/null

run() {
    "$VENV/bin/st" --config-file tests/contract/schemathesis.toml run "$API/v1/openapi.json" \
        --checks all --max-examples "${FUZZ_EXAMPLES:-50}" --seed "${FUZZ_SEED:-1}" --workers 4 "$@"
}
status=0
run -H "Authorization: Bearer $TOKEN" --exclude-path /v1/auth/logout ${FUZZ_ONLY:+--include-path-regex "$FUZZ_ONLY"} \
    --exclude-path '/v1/members/me/sessions/{id}' || status=$?
run -H "Authorization: Bearer $(token)" --include-path /v1/auth/logout || status=$?
run -H "Authorization: Bearer $(token)" --include-path '/v1/members/me/sessions/{id}' || status=$?
if grep -q "panicked" "$WORK/memberd.log"; then
    grep -B2 -A10 "panicked" "$WORK/memberd.log" >&2
    status=1
fi
exit "$status"
