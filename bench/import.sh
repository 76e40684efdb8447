#!/usr/bin/env bash
# The import benchmark:  bash bench/import.sh   (bench/run.sh runs it too)
#
# Generates a Zeste de Savoir dump of 100,000 members, 20,000 bans and
# 50,000 karma notes (bench/zds_dump.py), imports it into a fresh database
# with the release binary, timing it and reading its peak memory, and
# compares it with a bare COPY of the same rows into tables without indexes
# or triggers, in the same run on the same server. Prints markdown rows.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=memberd_import_bench
MEMBERS=${BENCH_IMPORT_MEMBERS:-100000}
BANS=${BENCH_IMPORT_BANS:-20000}
NOTES=${BENCH_IMPORT_NOTES:-50000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

[ -n "${BENCH_BUILT:-}" ] || cargo build --release --quiet --bin memberd
python3 bench/zds_dump.py "$WORK" "$MEMBERS" "$BANS" "$NOTES"
DUMP_MIB=$(du -m "$WORK/zds.json" | cut -f1)

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
export DATABASE_URL="$PG/$DB?sslmode=disable" RUST_LOG=warn MEMBERD_MAIL_DIR=$WORK/mail MEMBERD_IP_RETENTION_DAYS=36500
./target/release/memberd migrate

# Elapsed seconds and peak resident KiB of a command.
timed() { /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$WORK/out.txt"; cat "$WORK/time"; }
read -r IMPORT_S IMPORT_KIB < <(timed ./target/release/memberd import zds "$WORK/zds.json")
grep -q "took" "$WORK/out.txt"
read -r AGAIN_S AGAIN_KIB < <(timed ./target/release/memberd import zds "$WORK/zds.json")
grep -q "auth.user *$MEMBERS *0 *0 *$MEMBERS" "$WORK/out.txt" || { echo "the re-run changed something:" >&2; cat "$WORK/out.txt" >&2; exit 1; }

psql "$PG/$DB" -q <<'SQL'
CREATE TABLE copy_members (legacy_id text, username text, username_skeleton text, email text, email_key text,
    password_hash text, is_active bool, is_staff bool, is_superuser bool, date_joined timestamptz,
    last_login_at timestamptz, last_visit_at timestamptz, biography text, website text, avatar_url text,
    signature text, show_email bool, show_signature bool, hover_menus bool, email_on_private_message bool);
CREATE TABLE copy_sanctions (legacy_id text, member_id bigint, kind text, reason text, duration_seconds bigint,
    moderator_id bigint, created_at timestamptz, ended_kind text, ended_at timestamptz, ended_by bigint,
    end_reason text, starts_at timestamptz, ends_at timestamptz, expiry_recorded bool);
CREATE TABLE copy_karma_notes (legacy_id text, member_id bigint, author_id bigint, note text, karma int,
    created_at timestamptz);
SQL
cat > "$WORK/copy.sql" <<SQL
\\copy copy_members FROM '$WORK/members.csv' WITH (FORMAT csv)
\\copy copy_sanctions FROM '$WORK/sanctions.csv' WITH (FORMAT csv, NULL '')
\\copy copy_karma_notes FROM '$WORK/karma_notes.csv' WITH (FORMAT csv)
SQL
read -r COPY_S _ < <(timed psql "$PG/$DB" -q -v ON_ERROR_STOP=1 -f "$WORK/copy.sql")

mib() { python3 -c "print(f'{$1 / 1024:.0f}')"; }
echo "| import of a Zeste de Savoir dump ($DUMP_MIB MiB): $MEMBERS members, $BANS bans, $NOTES karma notes, one transaction | $IMPORT_S s, peak $(mib "$IMPORT_KIB") MiB; the same file again (nothing changes) $AGAIN_S s, $(mib "$AGAIN_KIB") MiB | bare COPY of the same rows $COPY_S s: the import runs at $(python3 -c "print(f'{$COPY_S / $IMPORT_S * 100:.0f}')") % of its speed (target ≥ 33 %); targets ≤ 60 s, ≤ 256 MiB |"
