#!/usr/bin/env bash
# The moderation benchmark:  bash bench/moderation.sh   (bench/run.sh runs it too)
#
# Moderation is writes. On a scratch database of 100,000 members (each with
# a past sanction and its events, as a live community has), memberd
# takes sanctions, karma notes and reports at c=16 (wrk on loopback), each
# compared with what PostgreSQL itself commits in the same run: `pgbench -N`
# (its simple-update transaction) at c=16 on a database of its own, the
# two alternating in the order P K S Q R R Q S K P so that the machine's
# drift favours neither (Q: sanctions' statements replayed by pgbench, in batches as memberd's writer sends them). Then the staff queue's first page with 100,000 reports of
# which 1,000 are open, and a walk of the event feed checking that it holds
# every event written, once. memberd sends its mail to an SMTP relay on
# loopback (bench/smtp_sink.rs, counting what it receives), as in production:
# the bench checks that every sanction's e-mail arrived. Prints markdown rows.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=memberd_moderation_bench
PGBENCH_DB=memberd_pgbench
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
HALF=$(( SECONDS_PER_RUN / 2 > 4 ? SECONDS_PER_RUN / 2 : 4 ))
PORT=18082
SMTP_PORT=18025
API=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
cleanup() {
    # memberd gone before its database is dropped: no warnings about lost connections.
    [ -n "${MEMBERD_PID:-}" ] && kill "$MEMBERD_PID" 2>/dev/null && wait "$MEMBERD_PID" 2>/dev/null || true
    [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null || true
    [ -n "${BENCH_KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
    for d in $DB $PGBENCH_DB; do psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
[ -n "${BENCH_BUILT:-}" ] || cargo build --release --quiet --bin memberd --example bench_smtp_sink

for d in $DB $PGBENCH_DB; do PGOPTIONS="-c client_min_messages=warning" psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null; done
psql "$PG/postgres" -qc "CREATE DATABASE $PGBENCH_DB" >/dev/null
pgbench -q -i -s 16 "$PG/$PGBENCH_DB" >/dev/null 2>&1

SOCKET_DIR=${BENCH_PG_SOCKET:-/var/run/postgresql}
if [ -z "${BENCH_PG:-}" ] && [ -S "$SOCKET_DIR/.s.PGSQL.5432" ]; then
    DATABASE_URL="postgres:///$DB?host=$SOCKET_DIR&user=postgres"
    PGBENCH_URL="postgres:///$PGBENCH_DB?host=$SOCKET_DIR&user=postgres"
else
    DATABASE_URL="$PG/$DB?sslmode=disable"
    PGBENCH_URL="$PG/$PGBENCH_DB?sslmode=disable"
fi
# Staff act from sessions without a second factor here: the rows measure
# writing, not logging in. 128 reporters may report as fast as they can.
export DATABASE_URL MEMBERD_BIND=127.0.0.1:$PORT MEMBERD_PUBLIC_URL=$API MEMBERD_SMTP_URL=smtp://127.0.0.1:$SMTP_PORT RUST_LOG=warn \
    MEMBERD_STAFF_MFA=optional MEMBERD_REPORTS_PER_HOUR=1000000
./target/release/memberd migrate
MEMBERD_PASSWORD='bench admin passphrase' ./target/release/memberd create-superuser --username admin --email admin@bench.example >/dev/null

psql "$PG/$DB" -q <<'SQL'
SET session_replication_role = replica;
INSERT INTO members (username, username_skeleton, email, email_key, password_hash, is_active, locale, date_joined)
SELECT 'user' || g, 'bench' || g, 'user' || g || '@bench.example', 'user' || g || '@bench.example', '!', TRUE, 'en',
       now() - make_interval(secs => g)
FROM generate_series(1, 100000) AS g;
-- The replay's own members, so that its sanctions queue before none of memberd's.
INSERT INTO members (username, username_skeleton, email, email_key, password_hash, is_active, locale, date_joined)
SELECT 'replayed' || g, 'replayedskel' || g, 'replayed' || g || '@bench.example', 'replayed' || g || '@bench.example', '!',
       TRUE, 'en', now()
FROM generate_series(1, 100000) AS g;
INSERT INTO members (username, username_skeleton, email, email_key, password_hash, is_active, locale, date_joined)
SELECT 'reporter' || g, 'reporterskel' || g, 'reporter' || g || '@bench.example', 'reporter' || g || '@bench.example',
       (SELECT password_hash FROM members WHERE username = 'admin'), TRUE, 'en', now()
FROM generate_series(1, 128) AS g;
-- The staff queue: 100,000 reports over the last 100 days, the oldest
-- 99,000 closed, the newest 1,000 open, one or two reporters each.
INSERT INTO reports (member_id, resource, state, resolution_note, resolution_message, resolved_by, resolved_at, created_at, updated_at)
SELECT u.id, 'forum:' || g, CASE WHEN g > 99000 THEN 'open' ELSE 'dismissed' END,
       CASE WHEN g > 99000 THEN NULL ELSE 'bench' END, CASE WHEN g > 99000 THEN NULL ELSE '' END,
       CASE WHEN g > 99000 THEN NULL ELSE (SELECT id FROM members WHERE username = 'admin') END,
       CASE WHEN g > 99000 THEN NULL ELSE now() - make_interval(mins => 144 * (100000 - g)) + interval '1 hour' END,
       now() - make_interval(mins => 144 * (100000 - g)), now() - make_interval(mins => 144 * (100000 - g))
FROM generate_series(1, 100000) AS g JOIN members u ON u.username = 'user' || (1 + g % 100000);
INSERT INTO report_entries (report_id, reporter_id, reason, text, created_at)
SELECT r.id, m.id, 'spam', 'Bench report.', r.created_at
FROM reports r JOIN members m ON m.username = 'reporter' || (1 + r.id % 128);
INSERT INTO report_entries (report_id, reporter_id, reason, text, created_at)
SELECT r.id, m.id, 'other', 'Me too.', r.created_at
FROM reports r JOIN members m ON m.username = 'reporter' || (1 + (r.id + 1) % 128) WHERE r.id % 2 = 0;
-- Reporters staff listen to: as many of their reports actioned as dismissed.
INSERT INTO reporter_tallies (member_id, actioned, dismissed)
SELECT reporter_id, count(*), count(*) FROM report_entries GROUP BY reporter_id;
-- A community's past: a day's read-only for each member over the last 100
-- days, expired, with their events. Besides being what a live community
-- holds, it gives the planner statistics of tables that are not empty (the
-- machine runs without autovacuum, and a table analyzed empty stays empty to
-- the planner: every batch then read all of sanctions).
INSERT INTO sanctions (member_id, kind, reason, duration_seconds, moderator_id, created_at, starts_at, ends_at,
                       expiry_recorded)
SELECT u.id, 'read_only', 'Past', 86400, a.id, now() - make_interval(mins => 144 * g),
       now() - make_interval(mins => 144 * g), now() - make_interval(mins => 144 * g) + interval '1 day', TRUE
FROM generate_series(1, 100000) AS g JOIN members u ON u.username = 'user' || g
CROSS JOIN (SELECT id FROM members WHERE username = 'admin') AS a;
INSERT INTO sanction_counts (member_id, sanctions) SELECT member_id, count(*) FROM sanctions GROUP BY member_id;
INSERT INTO events (event_type, occurred_at, member_id, data)
SELECT e.event_type, CASE WHEN e.event_type = 'sanction.applied' THEN s.created_at ELSE s.ends_at END, s.member_id,
       jsonb_build_object('sanction', jsonb_build_object('id', s.id, 'kind', s.kind, 'resource', NULL, 'reason', s.reason,
                                                         'starts_at', s.starts_at, 'ends_at', s.ends_at),
                          'member', jsonb_build_object('id', s.member_id))
FROM sanctions s CROSS JOIN (VALUES ('sanction.applied'), ('sanction.expired')) AS e(event_type);
SQL
psql "$PG/$DB" -qc "VACUUM ANALYZE"

SMTP_SINK_BIND=127.0.0.1:$SMTP_PORT ./target/release/examples/bench_smtp_sink > "$WORK/mails.txt" &
SINK_PID=$!
./target/release/memberd serve &
MEMBERD_PID=$!
for _ in $(seq 1 100); do curl -sf "$API/health/ready" >/dev/null && break; sleep 0.2; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
login() { curl -sf -X POST "$API/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"login\":\"$1\",\"password\":\"bench admin passphrase\"}" | json '["access_token"]'; }
TOKEN=$(login admin)
for n in $(seq 1 128); do login "reporter$n"; done > "$WORK/reporters.txt"

# The staff queue, first page, c=4, before the writes add to it: the 1,000
# open reports, oldest first. A second's warm-up first (each pooled
# connection prepares its statements on first use), as for each write below:
# the rows are a running server's, not its first seconds'.
wrk -t1 -c4 -d1s -H "authorization: Bearer $TOKEN" "$API/v1/reports" >/dev/null 2>&1
QUEUE=$(wrk -t1 -c4 -d"${HALF}s" --latency -H "authorization: Bearer $TOKEN" "$API/v1/reports" 2>&1 |
    awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
         /Requests\/sec/ { rps = $2 } $1 == "99%" { p99 = ms($2) } /Non-2xx/ { bad = 1 } END { if (bad) print "FAILED"; else printf "%.0f req/s, p99 %.2f ms", rps, p99 }')
OPEN=$(curl -sf -H "authorization: Bearer $TOKEN" "$API/v1/reports?per_page=1" | json '["total"]')

# Each request names another member, so that writers contend as a
# community's moderators do: rarely on one member.
write_script() {  # $1 name, $2 path after user<n>, $3 the body (a Lua expression), $4 first member
    cat > "$WORK/$1.lua" <<LUA
wrk.method = "POST"
local tokens = {}
for line in io.lines("$WORK/reporters.txt") do table.insert(tokens, line) end
math.randomseed(os.time())
local salt = math.random(1, 1000000000)
local n = $4
request = function()
    n = n + 1
    local token = "$1" == "reports" and tokens[n % #tokens + 1] or "$TOKEN"
    local headers = { ["content-type"] = "application/json", ["authorization"] = "Bearer " .. token }
    return wrk.format(nil, "/v1/members/user" .. (n % 100000 + 1) .. "$2", headers, $3)
end
LUA
}
write_script karma /karma-notes "'{\"note\":\"bench\",\"karma\":1}'" 0
write_script sanctions /sanctions "'{\"kind\":\"read_only\",\"reason\":\"bench\",\"duration\":\"1m\"}'" 33333
# A resource of its own for each report (and each run), so that each opens one.
write_script reports /reports "'{\"reason\":\"spam\",\"text\":\"bench\",\"resource\":\"bench:' .. salt .. ':' .. n .. '\"}'" 66666

# What sanctions cost PostgreSQL alone: the statements memberd's sanction
# writer sends for a batch of read-only sanctions (the members locked with
# their bot flags, their histories, the sanctions with their appeal links,
# their events with their audit entries), four members a batch, replayed by
# pgbench at c=4 with no HTTP, JSON, mail or memberd in the way (on members
# of its own): what the database could take of the sanctions row, measured
# beside it.
ADMIN_ID=$(psql "$PG/$DB" -Atc "SELECT id FROM members WHERE username = 'admin'")
read -r FIRST LAST < <(psql "$PG/$DB" -Atc "SELECT min(id), max(id) FROM members WHERE username LIKE 'replayed%'" | tr '|' ' ')
MEMBERS="ARRAY[:m, :m + 1, :m + 2, :m + 3]"
cat > "$WORK/replay.sql" <<SQL
\\set m random($FIRST, $LAST - 3)
BEGIN;
SELECT m.*, lower(m.username), EXISTS (SELECT 1 FROM member_groups mg JOIN groups g ON g.id = mg.group_id WHERE g.name = 'bots' AND mg.member_id = m.id) AS bot FROM members m WHERE NOT m.is_system AND m.id = ANY($MEMBERS) ORDER BY m.id FOR UPDATE;
SELECT * FROM sanctions WHERE member_id = ANY($MEMBERS) ORDER BY member_id, created_at, id;
WITH sanction AS (INSERT INTO sanctions (member_id, kind, resource, reason, private_note, duration_seconds, moderator_id, created_at, starts_at, ends_at) SELECT x, 'read_only', NULL, 'replayed', '', 60, $ADMIN_ID, now(), now(), now() + interval '1 minute' FROM unnest($MEMBERS) x RETURNING *), link AS (INSERT INTO member_tokens (member_id, kind, token_hash, payload, created_at, expires_at) SELECT member_id, 'appeal', sha256(random()::text::bytea), id::text, created_at, now() + interval '30 days' FROM sanction) SELECT * FROM sanction;
WITH event AS (INSERT INTO events (event_type, occurred_at, member_id, data) SELECT 'sanction.applied', now(), x, '{"sanction": {"id": 1, "kind": "read_only", "resource": null, "reason": "replayed", "starts_at": "2026-12-05T16:00:00Z", "ends_at": "2026-12-05T16:01:00Z"}, "member": {"id": 1, "username": "user1"}}' FROM unnest($MEMBERS) x) INSERT INTO audit_log (actor_id, action, target_member_id, target, reason, ip, details, created_at) SELECT $ADMIN_ID, 'sanction.applied', x, NULL, 'replayed', '127.0.0.1', '{"sanction_id": 1, "kind": "read_only", "resource": null}', now() FROM unnest($MEMBERS) x RETURNING memberd_take_changes();
COMMIT;
SQL

# wrk → "rate p99_ms"; a run with any answer not 2xx fails the bench.
wrk_run() {  # $1 script
    local out
    out=$(wrk -t1 -c16 -d"${HALF}s" --latency -s "$WORK/$1.lua" "$API" 2>&1)
    if grep -q "Non-2xx" <<<"$out"; then
        echo "WARNING: $(grep Non-2xx <<<"$out") for $1" >&2
        echo "$1" >> "$WORK/failed"
    fi
    awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
         /Requests\/sec/ { rps = $2 } $1 == "99%" { p99 = ms($2) } END { printf "%.0f %.2f\n", rps, p99 }' <<<"$out"
}
pgbench_run() {
    pgbench -n -N -c16 -j2 -T"$HALF" "$PGBENCH_URL" 2>/dev/null | awk '/^tps/ { printf "%.0f 0\n", $3 }'
}
replay_run() {  # sanctions per second: four per transaction
    pgbench -n -M prepared -c4 -j2 -T"$HALF" -f "$WORK/replay.sql" "$DATABASE_URL" 2>/dev/null |
        awk '/^tps/ { printf "%.0f 0\n", $3 * 4 }'
}
for run in karma sanctions reports; do
    wrk -t1 -c16 -d1s -s "$WORK/$run.lua" "$API" >/dev/null 2>&1
done
for run in pgbench karma sanctions replay reports reports replay sanctions karma pgbench; do
    case $run in
        pgbench) pgbench_run ;;
        replay) replay_run ;;
        *) wrk_run "$run" ;;
    esac >> "$WORK/$run.txt"
done
mean() { awk '{ s += $1 } END { printf "%.0f", s / NR }' "$WORK/$1.txt"; }
worst_p99() { awk '$2 > m { m = $2 } END { printf "%.2f", m }' "$WORK/$1.txt"; }
ratio() { python3 -c "print(f'{$1 / $2 * 100:.0f} %')"; }
PGBENCH=$(mean pgbench)

# The feed, walked from the start, holds every event once, in order.
python3 - "$API" "$TOKEN" "$DATABASE_URL" > "$WORK/feed.txt" <<'PY'
import json, sys, urllib.request
api, token = sys.argv[1], sys.argv[2]
cursor, ids = "", []
while True:
    req = urllib.request.Request(f"{api}/v1/events?limit=1000&after={cursor}", headers={"authorization": f"Bearer {token}"})
    page = json.load(urllib.request.urlopen(req))
    if not page["items"]:
        break
    ids += [e["id"] for e in page["items"]]
    cursor = page["next_cursor"]
print(len(ids), len(set(ids)))
PY
read -r WALKED DISTINCT < "$WORK/feed.txt"
STORED=$(psql "$PG/$DB" -Atc "SELECT count(*) FROM events")
[ "$WALKED" = "$STORED" ] && [ "$DISTINCT" = "$STORED" ] || { echo "the feed walked $WALKED events ($DISTINCT distinct) of $STORED" >&2; echo feed >> "$WORK/failed"; }

# Every sanction's e-mail reached the relay (they leave after the answer).
SANCTIONS=$(psql "$PG/$DB" -Atc "SELECT count(*) FROM sanctions WHERE reason NOT IN ('replayed', 'Past')")
for _ in $(seq 1 50); do [ "$(tail -n1 "$WORK/mails.txt")" -ge "$SANCTIONS" ] && break; sleep 0.2; done
MAILS=$(tail -n1 "$WORK/mails.txt")
[ "$MAILS" -ge "$SANCTIONS" ] || { echo "the relay received $MAILS mails for $SANCTIONS sanctions" >&2; echo mail >> "$WORK/failed"; }

row() {  # $1 label, $2 run
    echo "| $1 (c=16), two runs of ${HALF}s | $(paste -sd/ <(cut -d' ' -f1 "$WORK/$2.txt")) per s, p99 $(worst_p99 "$2") ms | $(ratio "$(mean "$2")" "$PGBENCH") of \`pgbench -N\` at c=16 ($(paste -sd/ <(cut -d' ' -f1 "$WORK/pgbench.txt")) TPS) (target ≥ 50 %) |"
}
row "sanctions applied (a read-only each: history, queue, event, audit, appeal link, e-mail)" sanctions
echo "| sanctions' statements replayed by pgbench in batches of four, no memberd (c=4), two runs of ${HALF}s | $(paste -sd/ <(cut -d' ' -f1 "$WORK/replay.txt")) sanctions per s | $(ratio "$(mean replay)" "$PGBENCH") of \`pgbench -N\`: what the database could take of the sanctions row |"
row "karma notes (each with its event and audit entry)" karma
row "reports filed (each opens one, with its event and the reporter's limit)" reports
echo "| staff queue, first page of $OPEN open among 100,000 reports (c=4) | $QUEUE | target p99 ≤ 10 ms |"
echo "| event feed walked after the writes | $WALKED events, $DISTINCT distinct, of $STORED stored | every event once |"
echo "| sanction e-mails received by the SMTP relay | $MAILS for $SANCTIONS sanctions | every one |"
if [ -s "$WORK/failed" ]; then
    echo "Runs with non-2xx answers, a feed that missed events or mails that did not arrive: $(tr '\n' ' ' < "$WORK/failed")" >&2
    exit 1
fi
