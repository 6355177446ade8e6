#!/usr/bin/env bash
# tidb.sh builds TiDB's tidb-server from its Go module, runs it as one process
# with its embedded store (unistore) on 127.0.0.1, and runs the store's
# TiDB tests (server_tidb_test.go) against it. CI does not run TiDB (the build takes
# about 5 minutes and 2.3 GiB); run this by hand and record the result in the
# engines table of COMPATIBILITY.md.
#
# Usage:
#   tidb.sh build    build tidb-server into $TIDB_DIR/bin (once; kept as a cache)
#   tidb.sh start    build if needed, start on 127.0.0.1:$TIDB_PORT, wait, create database test
#   tidb.sh stop     stop the server started by start
#   tidb.sh status   say whether it runs; print the DSN
#   tidb.sh dsn      print the DSN (mysql://root@127.0.0.1:4000/test)
#   tidb.sh test     start, run go test -race -run TiDB . with SQLSTORE_TIDB_DSN, stop
#   tidb.sh clean    stop and remove $TIDB_DIR (binary, data and logs)
#
# Environment: TIDB_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/sqlstore-tidb),
# TIDB_PORT (4000), TIDB_STATUS_PORT (10080), TIDB_VERSION and
# TIDB_PARSER_VERSION (the module versions below: the Go module proxy serves
# TiDB only by pseudo-version; its v8.x tags and @latest are refused).
set -euo pipefail

die() { echo "tidb.sh: $*" >&2; exit 1; }

TIDB_DIR=${TIDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlstore-tidb}
TIDB_PORT=${TIDB_PORT:-4000}
TIDB_STATUS_PORT=${TIDB_STATUS_PORT:-10080}
TIDB_VERSION=${TIDB_VERSION:-v1.1.0-beta.0.20251126154744-e4e814fdc0af}
TIDB_PARSER_VERSION=${TIDB_PARSER_VERSION:-v0.0.0-20251126154744-e4e814fdc0af}

bin=$TIDB_DIR/bin/tidb-server
pidfile=$TIDB_DIR/tidb.pid
dsn="mysql://root@127.0.0.1:$TIDB_PORT/test"
repo=$(cd "$(dirname "$0")/.." && pwd)

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

sql() { mysql_client --protocol=tcp -h127.0.0.1 -P"$TIDB_PORT" -uroot "$@"; }
mysql_client() {
	if command -v mariadb >/dev/null 2>&1; then mariadb --no-defaults "$@"
	elif command -v mysql >/dev/null 2>&1; then mysql --no-defaults "$@"
	else return 127; fi
}

build() {
	if [ -x "$bin" ] && [ "$(cat "$TIDB_DIR/bin/version" 2>/dev/null)" = "$TIDB_VERSION" ]; then
		return 0
	fi
	command -v go >/dev/null 2>&1 || die "go not found"
	mkdir -p "$TIDB_DIR/bin"
	local tmp
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" RETURN
	echo "tidb.sh: building tidb-server $TIDB_VERSION in $tmp (about 5 minutes, 2.3 GiB)" >&2
	(
		cd "$tmp"
		export GOFLAGS=-mod=mod
		go mod init sqlstore-tidb-build >/dev/null 2>&1
		# TiDB's own go.mod replaces these; replace lines do not carry over
		# to a module that requires it, so the wrapper repeats them.
		go mod edit \
			-replace=github.com/go-ldap/ldap/v3=github.com/YangKeao/ldap/v3@v3.4.5-0.20230421065457-369a3bab1117 \
			-replace=sourcegraph.com/sourcegraph/appdash=github.com/sourcegraph/appdash@v0.0.0-20190731080439-ebfcffb1b5c0 \
			-replace=sourcegraph.com/sourcegraph/appdash-data=github.com/sourcegraph/appdash-data@v0.0.0-20151005221446-73f23eafcf67
		go get -tool "github.com/pingcap/tidb/cmd/tidb-server@$TIDB_VERSION" \
			"github.com/pingcap/tidb/pkg/parser@$TIDB_PARSER_VERSION"
		go mod tidy
		go build -trimpath -o "$bin.tmp" github.com/pingcap/tidb/cmd/tidb-server
	) || die "build failed"
	mv "$bin.tmp" "$bin"
	echo "$TIDB_VERSION" >"$TIDB_DIR/bin/version"
	echo "tidb.sh: built $bin" >&2
}

start() {
	if running; then
		echo "tidb.sh: already running (pid $(cat "$pidfile"))" >&2
		return 0
	fi
	build
	mkdir -p "$TIDB_DIR/data" "$TIDB_DIR/log"
	# -host and -status-host keep it on loopback (the default is 0.0.0.0);
	# -log-slow-query keeps the slow log out of the working directory.
	(
		cd "$TIDB_DIR"
		setsid "$bin" -store=unistore -path="$TIDB_DIR/data" \
			-host=127.0.0.1 -P "$TIDB_PORT" \
			-status-host=127.0.0.1 -status "$TIDB_STATUS_PORT" \
			-log-file="$TIDB_DIR/log/tidb.log" -log-slow-query="$TIDB_DIR/log/slow.log" \
			>"$TIDB_DIR/log/stdout.log" 2>&1 </dev/null &
		echo $! >"$pidfile"
	)
	for _ in $(seq 120); do
		if ! running; then
			die "tidb-server exited: $(tail -n 5 "$TIDB_DIR/log/stdout.log" "$TIDB_DIR/log/tidb.log" 2>/dev/null)"
		fi
		if sql -e 'SELECT 1' >/dev/null 2>&1; then
			sql -e 'CREATE DATABASE IF NOT EXISTS test'
			echo "tidb.sh: tidb-server (pid $(cat "$pidfile")) ready: $dsn" >&2
			return 0
		fi
		sleep 1
	done
	die "tidb-server not ready after 120s; see $TIDB_DIR/log"
}

stop() {
	running || { rm -f "$pidfile"; return 0; }
	local pid
	pid=$(cat "$pidfile")
	kill "$pid"
	for _ in $(seq 60); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
		sleep 1
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}

case ${1:-} in
build) build ;;
start) start; echo "$dsn" ;;
stop) stop ;;
status)
	if running; then echo "running (pid $(cat "$pidfile")): $dsn"; else echo "not running"; exit 1; fi
	;;
dsn) echo "$dsn" ;;
test)
	was_running=
	running && was_running=1
	start
	rc=0
	(cd "$repo" && SQLSTORE_TIDB_DSN=$dsn go test -race -count=1 -run 'TiDB' -v . 2>&1 | tee "$TIDB_DIR/log/test.log") || rc=$?
	[ -n "$was_running" ] || stop
	exit "$rc"
	;;
clean) stop; rm -rf "$TIDB_DIR" ;;
*) die "usage: $0 build|start|stop|status|dsn|test|clean" ;;
esac
