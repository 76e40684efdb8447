#!/usr/bin/env bash
# The import benchmark:  bash bench/import.sh   (bench/run.sh runs it too)
#
# Generates a Zeste de Savoir dump of 100,000 members, 20,000 bans and
# 50,000 karma notes (bench/zds_dump.py), imports it into a fresh database
# with the release binary, timing it and reading its peak memory, and
# compares it with a bare COPY of the same rows into the same tables of
# another fresh database, in the same run on the same server. Prints a
# markdown row.
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=memberd_import_bench
MEMBERS=${BENCH_IMPORT_MEMBERS:-100000}
BANS=${BENCH_IMPORT_BANS:-20000}
NOTES=${BENCH_IMPORT_NOTES:-50000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; for d in $DB ${DB}_copy; do psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done' EXIT

[ -n "${BENCH_BUILT:-}" ] || cargo build --release --quiet --bin memberd
python3 bench/zds_dump.py "$WORK" "$MEMBERS" "$BANS" "$NOTES"
DUMP_MIB=$(du -m "$WORK/zds.json" | cut -f1)

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
export DATABASE_URL="$PG/$DB?sslmode=disable" RUST_LOG=warn MEMBERD_MAIL_DIR=$WORK/mail
./target/release/memberd migrate

# Elapsed seconds and peak resident KiB of a command.
timed() { /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$WORK/out.txt"; cat "$WORK/time"; }
read -r IMPORT_S IMPORT_KIB < <(timed ./target/release/memberd import zds "$WORK/zds.json")
grep -q "took" "$WORK/out.txt"
read -r AGAIN_S AGAIN_KIB < <(timed ./target/release/memberd import zds "$WORK/zds.json")
grep -q "auth.user *$MEMBERS *0 *0 *$MEMBERS" "$WORK/out.txt" || { echo "the re-run changed something:" >&2; cat "$WORK/out.txt" >&2; exit 1; }

# The floor: the same rows COPY'd into the same tables (their indexes,
# constraints and triggers) of another fresh database.
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS ${DB}_copy WITH (FORCE)" >/dev/null
DATABASE_URL="$PG/${DB}_copy?sslmode=disable" ./target/release/memberd migrate
cat > "$WORK/copy.sql" <<SQL
\\copy members (legacy_id, username, username_skeleton, email, email_key, password_hash, is_active, is_staff, is_superuser, date_joined, last_login_at, last_visit_at, biography, website, avatar_url, signature, show_email, show_signature, hover_menus, email_on_private_message) FROM '$WORK/members.csv' WITH (FORMAT csv, FORCE_NOT_NULL (website, avatar_url, signature))
\\copy sanctions (legacy_id, member_id, kind, reason, duration_seconds, moderator_id, created_at, ended_kind, ended_at, ended_by, end_reason, starts_at, ends_at, expiry_recorded) FROM '$WORK/sanctions.csv' WITH (FORMAT csv)
\\copy karma_notes (legacy_id, member_id, author_id, note, karma, created_at) FROM '$WORK/karma_notes.csv' WITH (FORMAT csv)
SQL
read -r COPY_S _ < <(timed psql "$PG/${DB}_copy" -q -v ON_ERROR_STOP=1 -f "$WORK/copy.sql")

mib() { python3 -c "print(f'{$1 / 1024:.0f}')"; }
echo "| import of a Zeste de Savoir dump ($DUMP_MIB MiB): $MEMBERS members, $BANS bans, $NOTES karma notes, one transaction | $IMPORT_S s, peak $(mib "$IMPORT_KIB") MiB; the same file again (nothing changes) $AGAIN_S s, $(mib "$AGAIN_KIB") MiB | bare COPY of the same rows into the same tables $COPY_S s: the import runs at $(python3 -c "print(f'{$COPY_S / $IMPORT_S * 100:.0f}')") % of its speed (target ≥ 33 %); targets ≤ 60 s, ≤ 256 MiB |"
