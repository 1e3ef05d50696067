#!/usr/bin/env bash
# Back up the production database with pg_dump, restore it into a scratch database, and check
# that the restore is complete: the same tables with the same row counts and the same
# migration revision. Exit status 0 only when everything matches.
#
#   DATABASE_URL=postgresql://user@host/db scripts/backup_check.sh [backup-dir]
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database to back up}"
dir="${1:-backups}"
mkdir -p "$dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
file="$dir/tracker-$stamp.dump"
url="${DATABASE_URL/postgresql+psycopg:/postgresql:}"
scratch="tracker_restore_check_$$"

pg_dump --format=custom --no-owner --file "$file" "$url"
echo "备份完成：$file ($(du -h "$file" | cut -f1))"

base="${url%/*}"
psql "$base/postgres" -qc "CREATE DATABASE \"$scratch\""
trap 'psql "$base/postgres" -qc "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)"' EXIT
pg_restore --no-owner --dbname "$base/$scratch" "$file"

counts() {
  psql "$1" -At -c "SELECT string_agg(format('%s=%s', table_name, (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I', table_name), false, true, '')))[1]::text), ' ' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
}
src=$(counts "$url"); dst=$(counts "$base/$scratch")
rev_src=$(psql "$url" -At -c "SELECT version_num FROM alembic_version")
rev_dst=$(psql "$base/$scratch" -At -c "SELECT version_num FROM alembic_version")
if [ "$src" != "$dst" ] || [ "$rev_src" != "$rev_dst" ]; then
  echo "恢复校验失败：" >&2
  diff <(tr ' ' '\n' <<<"$src") <(tr ' ' '\n' <<<"$dst") >&2 || true
  exit 1
fi
echo "恢复校验通过：$(wc -w <<<"$src") 张表行数一致，迁移版本 $rev_src。"
