#!/usr/bin/env bash
# pg.sh - a throwaway PostgreSQL cluster for the tests and benchmarks of the
# postgres backend: initdb into a temporary directory, listening on
# 127.0.0.1 only (a free port) and on a socket inside that directory, trust
# authentication for the one user `tract`, a database `tract`.
#
#   scripts/pg.sh start [DIR]     create and start a cluster in DIR (default: a
#                                 new temporary directory); prints the exports
#                                 below as shell code (eval "$(... start)")
#   scripts/pg.sh env DIR         print those exports again
#   scripts/pg.sh restart DIR     pg_ctl restart -m fast (the fault test)
#   scripts/pg.sh stop DIR        stop the cluster and remove DIR
#   scripts/pg.sh run [--] CMD... start a cluster, run CMD with the exports in
#                                 its environment, stop and remove the cluster;
#                                 exits with CMD's status
#
# Exports: TRACT_TEST_PG_URI (postgresql://tract@127.0.0.1:PORT/tract, what
# the tests and bench/bench_pg use) and TRACT_PG_DIR (the cluster's
# directory, for `restart`).
#
# The server comes from Debian's postgresql package (scripts/install-deps.sh);
# the newest /usr/lib/postgresql/N/bin is used, or the directory in
# PG_BINDIR. PostgreSQL refuses to run as root: as root the cluster belongs
# to the unprivileged `postgres` system user (created by the package) and
# initdb / pg_ctl run as that user through runuser; otherwise they run as
# the caller. Exit status 3 from `start`: no server binaries here.
set -euo pipefail

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

say() { printf 'pg.sh: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

usage() {
	sed -n '2,25p' "$self" | sed 's/^# \{0,1\}//'
}

find_bindir() {
	local d
	if [ -n "${PG_BINDIR:-}" ]; then
		[ -x "$PG_BINDIR/pg_ctl" ] || return 1
		printf '%s\n' "$PG_BINDIR"
		return 0
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] || return 1
	printf '%s\n' "$d"
}

# Run a server program as the cluster's owner.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

print_env() {
	local dir=$1 port
	port=$(cat "$dir/port")
	printf 'export TRACT_TEST_PG_URI=%q\n' "postgresql://tract@127.0.0.1:$port/tract"
	printf 'export TRACT_PG_DIR=%q\n' "$dir"
}

cmd_start() {
	local dir=${1:-} bindir port try ok=0
	bindir=$(find_bindir) || {
		say "no PostgreSQL server binaries (install the postgresql package)"
		exit 3
	}
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		say "running as root and there is no 'postgres' user to run the server as"
		exit 3
	fi
	if [ -z "$dir" ]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/tract-pg.XXXXXX")
	else
		mkdir -p "$dir"
		dir=$(cd "$dir" && pwd)
	fi
	[ ! -e "$dir/data" ] || die "$dir already holds a cluster"
	mkdir -p "$dir/sock"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$dir"
	fi
	chmod 700 "$dir"
	printf '%s\n' "$bindir" >"$dir/bindir"
	# --no-sync: the cluster is thrown away; the server itself runs with
	# its default durability (fsync on), so benchmark figures are real.
	as_owner "$bindir/initdb" -D "$dir/data" -U tract -A trust -E UTF8 --locale=C \
		--no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		die "initdb failed"
	}
	for try in 1 2 3 4 5; do
		port=$(free_port)
		if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock" start \
			>"$dir/pg_ctl.log" 2>&1; then
			ok=1
			break
		fi
		say "start on port $port failed (try $try), retrying"
	done
	if [ "$ok" -ne 1 ]; then
		tail -n 20 "$dir/server.log" >&2 || true
		die "could not start the server (log: $dir/server.log)"
	fi
	printf '%s\n' "$port" >"$dir/port"
	"$bindir/createdb" -h 127.0.0.1 -p "$port" -U tract tract ||
		die "createdb failed"
	print_env "$dir"
}

check_dir() {
	[ -n "${1:-}" ] && [ -f "$1/bindir" ] && [ -d "$1/data" ] ||
		die "${1:-(no directory)} is not a cluster made by pg.sh start"
}

cmd_stop() {
	local dir=${1:-} bindir
	check_dir "$dir"
	bindir=$(cat "$dir/bindir")
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}

cmd_restart() {
	local dir=${1:-} bindir
	check_dir "$dir"
	bindir=$(cat "$dir/bindir")
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart \
		>>"$dir/pg_ctl.log" 2>&1 || die "restart failed (log: $dir/server.log)"
}

cmd_run() {
	local dir status
	[ "${1:-}" != "--" ] || shift
	[ $# -gt 0 ] || die "run: no command given"
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tract-pg.XXXXXX")
	eval "$(cmd_start "$dir")"
	trap 'cmd_stop "$dir"' EXIT
	set +e
	"$@"
	status=$?
	set -e
	exit "$status"
}

case "${1:-}" in
start) cmd_start "${2:-}" ;;
env)
	check_dir "${2:-}"
	print_env "$2"
	;;
restart) cmd_restart "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
run)
	shift
	cmd_run "$@"
	;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
