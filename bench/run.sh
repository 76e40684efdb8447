#!/usr/bin/env bash
# The benchmark, in one command:  bash bench/run.sh
#
# Builds release binaries, creates a scratch database (memberd_bench) on the
# local PostgreSQL, seeds 1,000,000 members and 100,000 sanctions, starts
# memberd and a bare actix-web "hello" (the ceiling), drives each with wrk
# over loopback for BENCH_SECONDS (default 10) and prints a table of numbers
# and ratios to the ceiling measured in this same run. wrk shares the two
# cores with the server, as the targets assume. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
# Runs that alternate two kinds of logins last half a run each, 4 s at least.
PAIR_SECONDS=$(( SECONDS_PER_RUN / 2 > 4 ? SECONDS_PER_RUN / 2 : 4 ))
# Logins with a second factor go through a block of members of their own per
# run (a code is accepted once per member and time step): room for 250 a
# second, twice what two cores have hashed on the fastest day seen.
BLOCK_SIZE=$(( PAIR_SECONDS * 250 ))
CONNECTIONS=${BENCH_CONNECTIONS:-32}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=memberd_bench
PORT=18081
HELLO_PORT=18090
API=http://127.0.0.1:$PORT
WORK=$(mktemp -d)

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release --quiet --bin memberd --example bench_hello --example bench_argon2 --example bench_passkey \
    --example bench_legacy_hashes --example bench_smtp_sink

cleanup() {
    [ -n "${MEMBERD_PID:-}" ] && kill "$MEMBERD_PID" 2>/dev/null || true
    [ -n "${HELLO_PID:-}" ] && kill "$HELLO_PID" 2>/dev/null || true
    [ -n "${LOGIN_PID:-}" ] && kill "$LOGIN_PID" 2>/dev/null || true
    [ -n "${FLOOD_PID:-}" ] && kill "$FLOOD_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
# memberd reaches the database as a co-located deployment would: through
# its Unix socket when there is one (BENCH_PG_SOCKET), else over loopback TCP
# without TLS.
SOCKET_DIR=${BENCH_PG_SOCKET:-/var/run/postgresql}
if [ -z "${BENCH_PG:-}" ] && [ -S "$SOCKET_DIR/.s.PGSQL.5432" ]; then
    DATABASE_URL="postgres:///$DB?host=$SOCKET_DIR&user=postgres"
else
    DATABASE_URL="$PG/$DB?sslmode=disable"
fi
export DATABASE_URL MEMBERD_BIND=127.0.0.1:$PORT MEMBERD_PUBLIC_URL=$API MEMBERD_MAIL_DIR=$WORK/mail RUST_LOG=warn
./target/release/memberd migrate
MEMBERD_PASSWORD='bench admin passphrase' ./target/release/memberd create-superuser --username admin --email admin@bench.example >/dev/null

echo "seeding 1,000,000 members and 100,000 sanctions ..." >&2
psql "$PG/$DB" -q -v block_size="$BLOCK_SIZE" <<'SQL'
-- A bulk load into a database nobody serves yet: no change notifications.
SET session_replication_role = replica;
INSERT INTO members (username, username_skeleton, email, email_key, password_hash, is_active, locale, date_joined)
SELECT 'user' || g, 'bench' || g, 'user' || g || '@bench.example', 'user' || g || '@bench.example', '!', TRUE, 'en',
       now() - make_interval(secs => g)
FROM generate_series(1, 1000000) AS g;
-- user1: 10,000 past sanctions; 90,000 more spread over other members; user2 has none.
WITH admin AS (SELECT id FROM members WHERE username = 'admin'),
     targets AS (
        SELECT (SELECT id FROM members WHERE username = 'user1') AS member_id, g FROM generate_series(1, 10000) AS g
        UNION ALL
        SELECT (SELECT id FROM members WHERE username = 'user' || (3 + g % 90000)), g FROM generate_series(1, 90000) AS g)
INSERT INTO sanctions (member_id, kind, reason, duration_seconds, moderator_id, created_at, starts_at, ends_at, expiry_recorded)
SELECT t.member_id, 'read_only', 'bench', 60, admin.id,
       now() - make_interval(days => 30) + make_interval(secs => t.g * 60),
       now() - make_interval(days => 30) + make_interval(secs => t.g * 60),
       now() - make_interval(days => 30) + make_interval(secs => t.g * 60 + 60), TRUE
FROM targets t, admin;
INSERT INTO sanction_counts (member_id, sanctions) SELECT member_id, count(*) FROM sanctions GROUP BY member_id;
-- Eight members who log in during the login run, one per connection, so
-- that the run measures hashing rather than the throttle of one login; and
-- eight who log in from other addresses while one address floods logins.
INSERT INTO members (username, username_skeleton, email, email_key, password_hash, is_active, locale, date_joined)
SELECT who || g, who || 'skel' || g, who || g || '@bench.example', who || g || '@bench.example',
       (SELECT password_hash FROM members WHERE username = 'admin'), TRUE, 'en', now()
FROM generate_series(1, 8) AS g, (VALUES ('login'), ('other'), ('pka'), ('pkb')) AS w (who);
-- (pka1..8 and pkb1..8 enrol a passkey each, for the two runs of passkey logins.)
-- Six blocks of members with an authenticator app, for logins with a second
-- factor: all hold RFC 6238's test secret, and each accepts a code once, so
-- each run logs in members of a block of its own. Eight blocks without, whom
-- the logins compared with them log in the same way (a block per run; the
-- last two beside the passkey logins), so that
-- the two differ by the second factor alone, not by how many members and
-- throttle counters they touch.
INSERT INTO members (username, username_skeleton, email, email_key, password_hash, is_active, locale, date_joined)
SELECT who || g, who || 'skel' || g, who || g || '@bench.example', who || g || '@bench.example',
       (SELECT password_hash FROM members WHERE username = 'admin'), TRUE, 'en', now()
FROM generate_series(1, 8 * :block_size) AS g, (VALUES ('totp'), ('plain')) AS w (who);
INSERT INTO member_factors (id, member_id, kind, name, created_at, confirmed_at, totp_secret)
SELECT gen_random_uuid(), id, 'totp', 'bench', now(), now(), convert_to('12345678901234567890', 'UTF8')
FROM members WHERE username LIKE 'totp%';
SQL
# As autovacuum leaves a database at rest: statistics, and the visibility map
# that lets the directory's pages come from its indexes alone.
psql "$PG/$DB" -qc "VACUUM ANALYZE"
# This machine's PostgreSQL runs without autovacuum, which would analyze a
# table soon after logins began filling it: the tables logins write are
# empty at the VACUUM above, and a plan PostgreSQL made for an empty table
# (a sequential scan: the foreign-key check of each new refresh token reads
# every session) stays in memberd's connections until an ANALYZE of that
# table replaces it. Before each run of logins, the bench does that ANALYZE.
analyze_written() {
    psql "$PG/$DB" -qc "ANALYZE sessions, refresh_tokens, member_ips, login_throttles, rate_limits, spent_passkey_ceremonies, mfa_challenges, factor_throttles, member_factors"
}


# wrk speaks for many clients through X-Forwarded-For, as a load balancer would.
# memberd runs with glibc's allocator set as the Docker image sets it (no
# per-thread caches of freed memory); BENCH_GLIBC_TUNABLES= runs it without.
TUNABLES=${BENCH_GLIBC_TUNABLES-glibc.malloc.tcache_count=0}
MEMBERD_TRUSTED_PROXIES=127.0.0.1 GLIBC_TUNABLES=$TUNABLES ./target/release/memberd serve &
MEMBERD_PID=$!
HELLO_BIND=127.0.0.1:$HELLO_PORT ./target/release/examples/bench_hello &
HELLO_PID=$!
for _ in $(seq 1 100); do curl -sf "$API/health/ready" >/dev/null && curl -sf "http://127.0.0.1:$HELLO_PORT/hello" >/dev/null && break; sleep 0.2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
# The code of a base32 TOTP secret at a time step offset from now.
totp() {  # $1 secret, $2 steps from now
    python3 - "$1" "$2" <<'PY'
import base64, hmac, struct, sys, time
secret, offset = sys.argv[1], int(sys.argv[2])
key = base64.b32decode(secret + '=' * (-len(secret) % 8))
digest = hmac.new(key, struct.pack('>Q', int(time.time()) // 30 + offset), 'sha1').digest()
o = digest[-1] & 15
print('%06d' % ((struct.unpack('>I', digest[o:o + 4])[0] & 0x7fffffff) % 1000000))
PY
}
# The admin acts as staff do by default: from a session that proved a
# second factor (MEMBERD_STAFF_MFA=required), so it enrols an app first.
LOGIN=$(curl -sf -X POST "$API/v1/auth/login" -H 'content-type: application/json' \
    -d '{"login":"admin","password":"bench admin passphrase"}')
TOKEN=$(json '["access_token"]' <<<"$LOGIN")
ENROLLED=$(curl -sf -X POST "$API/v1/members/me/factors/totp" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d '{"current_password":"bench admin passphrase"}')
curl -sf -o /dev/null -X POST "$API/v1/members/me/factors/$(json '["id"]' <<<"$ENROLLED")/confirmation" \
    -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"code\":\"$(totp "$(json '["secret"]' <<<"$ENROLLED")" 0)\"}"
# A fresh access token of the session, now aal 2.
TOKEN=$(curl -sf -X POST "$API/v1/auth/refresh" -H 'content-type: application/json' \
    -d "{\"refresh_token\":\"$(json '["refresh_token"]' <<<"$LOGIN")\"}" | json '["access_token"]')
KEY=$(curl -sf -X POST "$API/v1/service-clients" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"name":"bench","scopes":["status:read"]}' | json '["key"]')

# A POST body for wrk.
post_script() {  # $1 script file, $2 body file
    cat > "$1" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local f = io.open("$2", "r"); wrk.body = f:read("*a"); f:close()
LUA
}
python3 -c "import json; print(json.dumps({'members': ['user%d' % i for i in range(1, 1001)]}))" > "$WORK/batch.json"
post_script "$WORK/batch.lua" "$WORK/batch.json"
cat > "$WORK/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local n = 0
request = function()
    n = n % 8 + 1
    return wrk.format(nil, nil, nil, '{"login":"login' .. n .. '","password":"bench admin passphrase"}')
end
LUA
# Logins with a second factor: a right password answers 401 mfa_required with
# a token, which the next request on any connection spends with the code of
# the time step (a table of the next ten minutes' codes). A login is counted
# when its second step answers 200.
# Their counterpart without a second factor: the same blocks of members.
cat > "$WORK/plain.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local size = tonumber(os.getenv("BLOCK_SIZE"))
local offset = tonumber(os.getenv("TOTP_BLOCK")) * size
local n = 0
request = function()
    n = n % size + 1
    return wrk.format(nil, "/v1/auth/login", nil, '{"login":"plain' .. (offset + n) .. '","password":"bench admin passphrase"}')
end
LUA
cat > "$WORK/totp.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local codes = dofile(os.getenv("TOTP_CODES"))
local size = tonumber(os.getenv("BLOCK_SIZE"))
local offset = tonumber(os.getenv("TOTP_BLOCK")) * size
local n, pending = 0, {}
logins, refused = 0, 0
request = function()
    local token = table.remove(pending)
    if token then
        local code = codes[math.floor(os.time() / 30)]
        return wrk.format(nil, "/v1/auth/mfa", nil, '{"mfa_token":"' .. token .. '","code":"' .. code .. '"}')
    end
    n = n % size + 1
    return wrk.format(nil, "/v1/auth/login", nil, '{"login":"totp' .. (offset + n) .. '","password":"bench admin passphrase"}')
end
response = function(status, headers, body)
    local token = status == 401 and body:match('"mfa_token":"([^"]+)"')
    if token then
        table.insert(pending, token)
    elseif status == 200 then
        logins = logins + 1
    else
        refused = refused + 1
    end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function()
    for _, thread in ipairs(threads) do
        io.write(string.format("second_steps %d %d\n", thread:get("logins"), thread:get("refused")))
    end
end
LUA
# One address floods valid logins; other members log in meanwhile, each
# request from another address.
{ cat "$WORK/login.lua"; echo 'wrk.headers["x-forwarded-for"] = "203.0.113.1"'; } > "$WORK/flood.lua"
cat > "$WORK/others.lua" <<'LUA'
wrk.method = "POST"
local n = 0
request = function()
    n = n + 1
    local headers = { ["content-type"] = "application/json",
                      ["x-forwarded-for"] = "198.51." .. (100 + n % 100) .. "." .. (1 + n % 250) }
    return wrk.format(nil, nil, headers, '{"login":"other' .. (n % 8 + 1) .. '","password":"bench admin passphrase"}')
end
LUA

# wrk → "requests_per_second p50_ms p99_ms"; a run with any answer that is not
# 2xx/3xx is reported on stderr and listed after the table, since a fast
# error is no result. (measure runs in a subshell: failures go to a file.)
measure() {  # $1 connections, then wrk arguments
    local connections=$1; shift
    local out
    out=$(wrk -t1 -c"$connections" -d"${SECONDS_PER_RUN}s" --latency "$@" 2>&1)
    if grep -q "Non-2xx" <<<"$out"; then
        echo "WARNING: $(grep Non-2xx <<<"$out") for: $*" >&2
        echo "[$*]" >> "$WORK/failed"
    fi
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }' <<<"$out"
}
rss_mib() { awk -v field="$1" '$1 == field":" { printf "%.1f", $2 / 1024 }' "/proc/$MEMBERD_PID/status"; }
ratio() { python3 -c "print(f'{$1 / $2 * 100:.1f} %')"; }

# The ceiling and the saturating runs compared with it, each in two halves
# in the order H S Z M M Z S H: this machine's speed drifts by several per
# cent within minutes, and a steady drift moves every row's mean alike. Rates
# are the mean of the halves, p99 the worse half.
HALF_SECONDS=$(( SECONDS_PER_RUN / 2 > 4 ? SECONDS_PER_RUN / 2 : 4 ))
half() { SECONDS_PER_RUN=$HALF_SECONDS measure "$CONNECTIONS" "$@"; }
hello() { half "http://127.0.0.1:$HELLO_PORT/hello"; }
light() { half -H "authorization: Bearer $KEY" "$API/v1/members/user2/status"; }
heavy() { half -H "authorization: Bearer $KEY" "$API/v1/members/user1/status"; }
me() { half -H "authorization: Bearer $TOKEN" "$API/v1/members/me"; }
for run in hello light heavy me me heavy light hello; do
    $run >> "$WORK/$run.txt"
done
mean_rate() { awk '{ s += $1 } END { printf "%.0f", s / NR }' "$WORK/$1.txt"; }
worst_p99() { awk '$3 > m { m = $3 } END { printf "%.2f", m }' "$WORK/$1.txt"; }
HELLO=$(mean_rate hello) HELLO_P99=$(worst_p99 hello)
LIGHT=$(mean_rate light) LIGHT_P99=$(worst_p99 light)
HEAVY=$(mean_rate heavy) HEAVY_P99=$(worst_p99 heavy)
ME=$(mean_rate me) ME_P99=$(worst_p99 me)
# p99 at about half the status rate: connections that each wait 1 ms
# between requests (wrk's delay()), as many as that rate needs.
echo 'function delay() return 1 end' > "$WORK/paced.lua"
PACED_CONNECTIONS=$(( (LIGHT / 2 + 999) / 1000 ))
read -r PACED _ PACED_P99 < <(measure "$PACED_CONNECTIONS" -s "$WORK/paced.lua" -H "authorization: Bearer $KEY" "$API/v1/members/user2/status")
read -r _ LIGHT1_P50 LIGHT1_P99 < <(measure 1 -H "authorization: Bearer $KEY" "$API/v1/members/user2/status")
read -r _ HEAVY1_P50 HEAVY1_P99 < <(measure 1 -H "authorization: Bearer $KEY" "$API/v1/members/user1/status")
read -r _ BATCH_P50 _ < <(measure 1 -s "$WORK/batch.lua" -H "authorization: Bearer $KEY" "$API/v1/status/batch")
read -r _ _ SEARCH_P99 < <(measure 4 "$API/v1/members?q=user12345")
# Paging at depth, c=4, against the ceiling at c=4: the directory with no q
# and with a q that matches 111,111 members, each sort, page 1 and the
# deepest page (the 9,901st to the 10,000th match); user1's history of
# 10,000 sanctions, first and last page.
PAGING_SECONDS=$(( SECONDS_PER_RUN / 2 > 4 ? SECONDS_PER_RUN / 2 : 4 ))
read -r HELLO4 _ HELLO4_P99 < <(SECONDS_PER_RUN=$PAGING_SECONDS measure 4 "http://127.0.0.1:$HELLO_PORT/hello")
PAGING_ROWS=()
paging_row() {  # $1 label, then wrk arguments (which curl reads too)
    local label=$1 rate p50 p99; shift
    # One request first: a broad search sorted by date is sorted on its first
    # page (tens of ms) and cut from the order kept on every other one.
    curl -s -o /dev/null "$@"
    read -r rate p50 p99 < <(SECONDS_PER_RUN=$PAGING_SECONDS measure 4 "$@")
    PAGING_ROWS+=("| $label (c=4) | $rate req/s, p50 $p50 ms, p99 $p99 ms | p99 target ≤ 10 ms; $(ratio "$rate" "$HELLO4") of the ceiling's rate at c=4 |")
}
for q in "" "q=user1&"; do
    for sort in username -username date_joined -date_joined; do
        paging_row "directory ${q:+q=user1 (111,111 matches), }sort=$sort, page 1" "$API/v1/members?${q}sort=$sort"
        paging_row "directory ${q:+q=user1 (111,111 matches), }sort=$sort, deepest page (per_page=100&page=100)" "$API/v1/members?${q}sort=$sort&per_page=100&page=100"
    done
done
paging_row "history of 10,000 sanctions, page 1" -H "authorization: Bearer $TOKEN" "$API/v1/members/user1/sanctions"
paging_row "history of 10,000 sanctions, last page (per_page=100&page=100)" -H "authorization: Bearer $TOKEN" "$API/v1/members/user1/sanctions?per_page=100&page=100"
RSS_READS=$(rss_mib VmHWM)
# Logins alone, for throughput, against the bare argon2 loop. This machine's
# speed drifts by several per cent from one minute to the next, so the two
# alternate in short runs, in the order AB BA AB BA AB BA (a steady drift
# favours neither), and the ratio is that of their totals.
ARGONS=() LOGINS=()
bare() { ARGONS+=("$(./target/release/examples/bench_argon2 2 "$PAIR_SECONDS")"); }
logins() {
    local rate
    read -r rate _ _ < <(SECONDS_PER_RUN=$PAIR_SECONDS measure 8 -s "$WORK/login.lua" "$API/v1/auth/login")
    LOGINS+=("$rate")
}
analyze_written
for _ in 1 2 3; do
    bare; logins
    logins; bare
done
sum() { python3 -c "import sys; print(sum(float(a) for a in sys.argv[1:]))" "$@"; }
# Then logins with and without a second factor, alternating AB BA AB BA AB BA.
python3 - "$WORK/codes.lua" <<'PY'
import hmac, struct, sys, time
now = int(time.time()) // 30
def code(step):
    d = hmac.new(b'12345678901234567890', struct.pack('>Q', step), 'sha1').digest()
    o = d[-1] & 15
    return '%06d' % ((struct.unpack('>I', d[o:o + 4])[0] & 0x7fffffff) % 1000000)
with open(sys.argv[1], 'w') as f:
    f.write('return {' + ','.join('[%d]="%s"' % (s, code(s)) for s in range(now - 1, now + 20)) + '}\n')
PY
PLAIN=() SECOND=() BLOCK=0
second_factor_logins() {
    local out logins refused
    out=$(BLOCK_SIZE=$BLOCK_SIZE TOTP_CODES=$WORK/codes.lua TOTP_BLOCK=$BLOCK wrk -t1 -c8 -d"${PAIR_SECONDS}s" -s "$WORK/totp.lua" "$API" 2>&1)
    BLOCK=$((BLOCK + 1))
    read -r _ logins refused < <(grep second_steps <<<"$out")
    if [ "$refused" != 0 ]; then
        echo "WARNING: $refused answers neither mfa_required nor 200 for logins with a second factor" >&2
        echo "[logins with a second factor]" >> "$WORK/failed"
    fi
    SECOND+=("$(python3 -c "print(round($logins / $PAIR_SECONDS))")")
}
PLAIN_BLOCK=0
plain_logins() {  # $1 the array the rate goes to
    local -n into=$1
    local rate
    read -r rate _ _ < <(BLOCK_SIZE=$BLOCK_SIZE TOTP_BLOCK=$PLAIN_BLOCK SECONDS_PER_RUN=$PAIR_SECONDS measure 8 -s "$WORK/plain.lua" "$API/v1/auth/login")
    PLAIN_BLOCK=$((PLAIN_BLOCK + 1))
    into+=("$rate")
}
analyze_written
for _ in 1 2 3; do
    plain_logins PLAIN; second_factor_logins
    second_factor_logins; plain_logins PLAIN
done
# Logins by passkey alone (no password hash): eight clients, each signing
# with a software authenticator on the same two cores, alternating with
# password logins (AB BA), which they are compared with: the machine's
# speed drifts too much between rows measured minutes apart.
PASSKEY=() BESIDE_PASSKEYS=()
passkey_logins() {  # $1 the members' prefix
    local completed refused elapsed
    read -r _ completed refused elapsed < <(./target/release/examples/bench_passkey "$API" "$1" 'bench admin passphrase' 8 "$PAIR_SECONDS")
    if [ "$refused" != 0 ]; then
        echo "WARNING: $refused passkey logins refused" >&2
        echo "[passkey logins]" >> "$WORK/failed"
    fi
    PASSKEY+=("$(python3 -c "print(round($completed / $elapsed))")")
}
analyze_written
passkey_logins pka; plain_logins BESIDE_PASSKEYS
plain_logins BESIDE_PASSKEYS; passkey_logins pkb
ARGON_TOTAL=$(sum "${ARGONS[@]}")
LOGIN_TOTAL=$(sum "${LOGINS[@]}")
PAIR_RATIOS=$(python3 -c "
import sys
n = len(sys.argv) // 2
r = [float(l) / float(a) * 100 for l, a in zip(sys.argv[1:n + 1], sys.argv[n + 1:])]
print(f'{min(r):.1f}–{max(r):.1f} %')" "${LOGINS[@]}" "${ARGONS[@]}")
# Then logins again with a status probe beside them, for the event loop's
# latency while hashing saturates the CPU.
wrk -t1 -c8 -d"$((SECONDS_PER_RUN + 2))s" -s "$WORK/login.lua" "$API/v1/auth/login" > "$WORK/login.txt" 2>&1 &
LOGIN_PID=$!
sleep 1
read -r _ _ UNDER_LOGIN_P99 < <(measure 4 -H "authorization: Bearer $KEY" "$API/v1/members/user2/status")
wait "$LOGIN_PID" || true
LOGIN_PID=
if grep -q "Non-2xx" "$WORK/login.txt"; then
    echo "WARNING: $(grep Non-2xx "$WORK/login.txt") for logins" >&2
    echo "[logins with a status probe]" >> "$WORK/failed"
fi
RSS_PEAK=$(rss_mib VmHWM)
RSS_NOW=$(rss_mib VmRSS)

# Logins of members at other addresses, one at a time, alone and while one
# address floods valid logins, in the order AB BA. At c=16 the flood keeps
# every hashing thread busy with a queue behind them, within what one address
# may queue (the starvation of issue 14); at c=32 more than half of it is
# refused at once (503 busy), and those refusals cost CPU too.
# The flood's own answers are not the measure.
FLOOD_ROWS=()
others() { local rate; read -r rate _ _ < <(SECONDS_PER_RUN=$PAIR_SECONDS measure 1 -s "$WORK/others.lua" "$API/v1/auth/login"); echo "$rate"; }
flooded() {  # $1 the flood's connections
    wrk -t1 -c"$1" -d"$((PAIR_SECONDS + 2))s" -s "$WORK/flood.lua" "$API/v1/auth/login" > "$WORK/flood.txt" 2>&1 &
    FLOOD_PID=$!
    sleep 1
    others
    wait "$FLOOD_PID" || true
    FLOOD_PID=
}
for FLOOD in 16 32; do
    ALONE=() FLOODED=()
    ALONE+=("$(others)"); FLOODED+=("$(flooded "$FLOOD")")
    FLOODED+=("$(flooded "$FLOOD")"); ALONE+=("$(others)")
    FLOOD_RATE=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$WORK/flood.txt")
    FLOOD_REFUSED=$(awk '/Non-2xx/ { print $5 }' "$WORK/flood.txt")
    TARGET=""; [ "$FLOOD" != 16 ] || TARGET=" (target ≥ 50 %)"
    FLOOD_ROWS+=("| logins from other addresses (c=1) while one address floods valid logins (c=$FLOOD), alone / flooded, AB BA of ${PAIR_SECONDS}s | $(IFS=/; echo "${ALONE[*]}") / $(IFS=/; echo "${FLOODED[*]}") per s; the flood: $FLOOD_RATE answers/s, ${FLOOD_REFUSED:-0} not 2xx (503 busy, 429) in its last run | $(ratio "$(sum "${FLOODED[@]}")" "$(sum "${ALONE[@]}")") of the unloaded rate$TARGET |")
done

# Imports (a database of their own), and what a check of an imported hash
# costs beside memberd's own, on one thread while memberd idles.
IMPORT_ROW=$(BENCH_BUILT=1 bash bench/import.sh)
# Moderation writes against pgbench -N, the staff queue, the feed (a
# database of its own; memberd above idles meanwhile).
MODERATION_ROWS=$(BENCH_BUILT=1 BENCH_SECONDS=$SECONDS_PER_RUN bash bench/moderation.sh)
LEGACY_HASHES=$(./target/release/examples/bench_legacy_hashes 3 \
    | awk -F'\t' 'NR > 1 { printf "%s%s %s ms (%s×)", sep, $1, $2, $3; sep = "; " } NR == 1 { base = $2 } END { printf " | memberd argon2id %s ms", base }')

cat <<TABLE

memberd benchmark — $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), ${SECONDS_PER_RUN}s per run, wrk on loopback
| measurement | result | ratio / target |
|---|---|---|
| hello ceiling (c=$CONNECTIONS) | $HELLO req/s, p99 $HELLO_P99 ms | 100 % |
| status, service key, member with 0 sanctions (c=$CONNECTIONS) | $LIGHT req/s, p99 $LIGHT_P99 ms | $(ratio "$LIGHT" "$HELLO") of ceiling (target ≥ 70 %) |
| status at about half that rate ($PACED_CONNECTIONS connections, 1 ms pause each) | $PACED req/s, p99 $PACED_P99 ms | target p99 ≤ 2 ms |
| status, member with 10,000 past sanctions (c=$CONNECTIONS) | $HEAVY req/s, p99 $HEAVY_P99 ms | $(ratio "$HEAVY" "$HELLO") of ceiling |
| status latency, one connection: 0 vs 10,000 sanctions | p50 $LIGHT1_P50 / $HEAVY1_P50 ms, p99 $LIGHT1_P99 / $HEAVY1_P99 ms | target: the same |
| GET /v1/members/me with an access JWT of aal 2 (c=$CONNECTIONS) | $ME req/s, p99 $ME_P99 ms | $(ratio "$ME" "$HELLO") of ceiling (target ≥ 40 %) |
| POST /v1/status/batch of 1,000, one connection | median $BATCH_P50 ms (client-measured, loopback) | target ≤ 5 ms |
| directory prefix search, 1,000,000 members (c=4) | p99 $SEARCH_P99 ms | target ≤ 10 ms |
| hello ceiling (c=4), for the paging rows | $HELLO4 req/s, p99 $HELLO4_P99 ms | 100 % |
$(printf '%s\n' "${PAGING_ROWS[@]}")
| logins (c=8) vs bare argon2 verifies on 2 threads, 6 alternating pairs of ${PAIR_SECONDS}s | $(IFS=/; echo "${LOGINS[*]}") vs $(IFS=/; echo "${ARGONS[*]}") per s | $(ratio "$LOGIN_TOTAL" "$ARGON_TOTAL") of the totals, pairs $PAIR_RATIOS (target ≥ 90 %) |
| logins without / with a second factor (password, then a TOTP code; c=8), 6 alternating pairs of ${PAIR_SECONDS}s | $(IFS=/; echo "${PLAIN[*]}") / $(IFS=/; echo "${SECOND[*]}") logins per s | a login with TOTP costs $(python3 -c "print(f'{$(sum "${PLAIN[@]}") / $(sum "${SECOND[@]}"):.3f}')")× one without (target ≤ 1.05×) |
| logins by passkey alone (options, assertion, login; 8 clients signing on the same cores) / by password (c=8), alternating AB BA in runs of ${PAIR_SECONDS}s | $(IFS=/; echo "${PASSKEY[*]}") / $(IFS=/; echo "${BESIDE_PASSKEYS[*]}") logins per s | $(python3 -c "print(f'{$(sum "${PASSKEY[@]}") / $(sum "${BESIDE_PASSKEYS[@]}"):.1f}')")× password logins (target ≥ 10×) |
| status p99 while logins saturate the CPU (c=4) | $UNDER_LOGIN_P99 ms | target ≤ 10 ms |
| memberd peak resident memory: status, /me, batch, search and paging runs (GLIBC_TUNABLES=${TUNABLES:-unset}) | $RSS_READS MiB | target ≤ 64 MiB |
| memberd peak resident memory, with logins saturating hashing | $RSS_PEAK MiB (now $RSS_NOW MiB) | target ≤ 64 MiB, two 19 MiB argon2 blocks included |
$(printf '%s\n' "${FLOOD_ROWS[@]}")
$IMPORT_ROW
$MODERATION_ROWS
| a password check against an imported Django hash, one thread, ms per check (× memberd's argon2id) | $LEGACY_HASHES; cheaper checks are padded with one argon2id |

Hello, status (but the paced row) and /me: means of two ${HALF_SECONDS}s runs each, in the order H S Z M M Z S H.
Paced rows are closed-loop (wrk's delay()), not a constant-rate generator like wrk2, which Debian does not package.
Paging rows: ${PAGING_SECONDS}s each, after one request of the same URL.
TABLE
if [ -s "$WORK/failed" ]; then
    echo "Runs with non-2xx/3xx answers (their numbers do not count): $(tr '\n' ' ' < "$WORK/failed")"
    exit 1
fi
