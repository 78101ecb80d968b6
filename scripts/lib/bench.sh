# Shared by scripts/bench-backfill and scripts/bench-compare (sourced, not run).
#
# Defines: BIN (the release binary, built unless BENCH_NO_BUILD=1 or
# BENCH_BIN names one), WORK (a
# temporary directory removed at exit, with the cleanups registered through
# `on_exit`), `timed` (a command under GNU time: "<seconds> <peak RSS KiB>"),
# `pg_admin` / `pg_create` (fresh PostgreSQL databases, dropped at exit).

ADMIN_URL="${SWITCHYARD_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_SERVER="${ADMIN_URL%/*}"

# Installs Debian packages when missing (as root, or through sudo).
apt_install() {
  echo "installing $*" >&2
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

[ -x /usr/bin/time ] || apt_install time
command -v psql >/dev/null || { echo "psql is needed (apt-get install postgresql-client)" >&2; exit 2; }

# BENCH_BIN=path runs that binary (another build, to compare); BENCH_NO_BUILD=1
# uses the one already built.
if [ -n "${BENCH_BIN:-}" ]; then
  BIN="$BENCH_BIN"
else
  [ "${BENCH_NO_BUILD:-0}" = 1 ] || cargo build --release -p switchyard-identity-cli --quiet
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/switchyard"
fi
WORK="$(mktemp -d)"
EXIT_HOOKS=()
on_exit() { EXIT_HOOKS+=("$1"); }
run_exit_hooks() {
  local hook
  for hook in "${EXIT_HOOKS[@]}"; do eval "$hook" || true; done
  rm -rf "$WORK"
}
trap run_exit_hooks EXIT

pg_admin() { psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -q -c "$1" >/dev/null; }

# Creates a fresh PostgreSQL database (byte-order collation, as the tests
# use), dropped at exit.
pg_create() {
  pg_admin "CREATE DATABASE \"$1\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
  on_exit "pg_admin 'DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)'"
}

# Runs a step under GNU time; prints "<elapsed seconds> <peak RSS KiB>"
# (for a pipeline run through `bash -c`: the largest process's peak).
timed() {
  local log="$WORK/time.log"
  /usr/bin/time -v -o "$log" "$@" >"$WORK/out" 2>"$WORK/err" || {
    cat "$WORK/err" >&2
    return 1
  }
  local rss elapsed
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" |
    awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  echo "$elapsed $rss"
}
