#!/usr/bin/env bash
# testdb-instance.sh starts, stops, pauses and removes a PRIVATE PostgreSQL or
# MariaDB server for the fault tests (server_fault_test.go), from the binaries
# installed on the machine. It never touches the machine's own servers: each
# instance lives in its own directory, listens on 127.0.0.1 on the port given,
# and reads no system configuration file.
#
# Usage:
#   testdb-instance.sh check   postgres|mariadb           exit 0 when the binaries are there
#   testdb-instance.sh start   postgres|mariadb DIR PORT  initialize DIR on first use, start, wait until ready
#   testdb-instance.sh stop    postgres|mariadb DIR       clean shutdown, wait until gone
#   testdb-instance.sh pause   postgres|mariadb DIR       SIGSTOP the server and its children (it hangs)
#   testdb-instance.sh resume  postgres|mariadb DIR       SIGCONT them
#   testdb-instance.sh destroy postgres|mariadb DIR       stop (forcefully if need be) and remove DIR
#
# Once started, the DSNs are
#   postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable   (trust)
#   mysql://root@127.0.0.1:PORT/test                              (no password)
#
# As root, PostgreSQL runs as the postgres user (initdb refuses root) and
# MariaDB as mysql; as anyone else both run as the caller. DIR is created by
# the script when missing and must not be shared between instances.
#
# Environment: PG_BINDIR (default: the newest /usr/lib/postgresql/*/bin),
# MARIADBD (default: mariadbd or mysqld on PATH or in /usr/sbin).
set -euo pipefail

die() { echo "testdb-instance: $*" >&2; exit 1; }

cmd=${1:-}; kind=${2:-}; dir=${3:-}; port=${4:-}
[ -n "$cmd" ] && [ -n "$kind" ] || die "usage: $0 check|start|stop|pause|resume|destroy postgres|mariadb [DIR [PORT]]"

pg_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$d" ] && echo "$d"
}

mariadbd_bin() {
	if [ -n "${MARIADBD:-}" ]; then echo "$MARIADBD"; return; fi
	local b
	for b in mariadbd mysqld; do
		if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return; fi
		if [ -x "/usr/sbin/$b" ]; then echo "/usr/sbin/$b"; return; fi
	done
}

# as USER CMD...: run CMD as USER when root, else as the caller.
as() {
	local user=$1; shift
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$user" -- "$@"
	else
		"$@"
	fi
}

owner() { if [ "$(id -u)" = 0 ]; then echo "$1"; else id -un; fi; }

# children PID: the pids of PID's direct children.
children() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true; }

# signal_tree SIG PID: send SIG to PID and its direct children, by pid.
signal_tree() {
	local sig=$1 pid=$2 c
	kill "-$sig" "$pid"
	for c in $(children "$pid"); do kill "-$sig" "$c" 2>/dev/null || true; done
}

# wait_stopped PID: SIGSTOP is asynchronous; wait until every thread of PID
# is stopped (state T), so that no query sent after "pause" gets an answer.
wait_stopped() {
	local pid=$1 st running
	for _ in $(seq 100); do
		running=
		for st in /proc/"$pid"/task/*/stat; do
			[ -r "$st" ] || continue
			case "$(sed 's/^.*) //' "$st" | cut -d' ' -f1)" in
			T | t) ;;
			*) running=1 ;;
			esac
		done
		[ -z "$running" ] && return 0
		sleep 0.05
	done
	die "process $pid did not stop"
}

need_dir() { [ -n "$dir" ] || die "$cmd $kind needs DIR"; }

case "$kind" in
postgres)
	bindir=$(pg_bindir || true)
	case "$cmd" in
	check)
		[ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] || die "PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BINDIR)"
		if [ "$(id -u)" = 0 ]; then id postgres >/dev/null 2>&1 || die "no postgres user to run initdb as"; fi
		echo "$bindir"
		;;
	start)
		need_dir; [ -n "$port" ] || die "start needs PORT"
		[ -n "$bindir" ] || die "PostgreSQL server binaries not found"
		u=$(owner postgres)
		mkdir -p "$dir"; chown "$u" "$dir"; chmod 700 "$dir"
		if [ ! -f "$dir/data/PG_VERSION" ]; then
			as "$u" "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
				die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
		fi
		as "$u" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
			-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=100" \
			start >/dev/null || die "pg_ctl start failed: $(tail -n 5 "$dir/server.log")"
		;;
	stop)
		need_dir
		as "$(owner postgres)" "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
		;;
	pause | resume)
		need_dir
		pid=$(head -n1 "$dir/data/postmaster.pid")
		if [ "$cmd" = pause ]; then
			signal_tree STOP "$pid"
			wait_stopped "$pid"
			for c in $(children "$pid"); do wait_stopped "$c"; done
		else
			signal_tree CONT "$pid"
		fi
		;;
	destroy)
		need_dir
		if [ -f "$dir/data/postmaster.pid" ]; then
			pid=$(head -n1 "$dir/data/postmaster.pid")
			signal_tree CONT "$pid" 2>/dev/null || true
			as "$(owner postgres)" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -rf "$dir"
		;;
	*) die "unknown command $cmd" ;;
	esac
	;;
mariadb | mysql)
	bin=$(mariadbd_bin || true)
	pidfile="$dir/mariadbd.pid"
	sock="$dir/mariadbd.sock"
	admin() { mariadb-admin --no-defaults --socket="$sock" -uroot "$@"; }
	case "$cmd" in
	check)
		[ -n "$bin" ] && [ -x "$bin" ] || die "mariadbd not found (apt-get install mariadb-server, or set MARIADBD)"
		command -v mariadb-install-db >/dev/null 2>&1 || die "mariadb-install-db not found (apt-get install mariadb-server)"
		command -v mariadb-admin >/dev/null 2>&1 || die "mariadb-admin not found (apt-get install mariadb-client)"
		if [ "$(id -u)" = 0 ]; then id mysql >/dev/null 2>&1 || die "no mysql user to run mariadbd as"; fi
		echo "$bin"
		;;
	start)
		need_dir; [ -n "$port" ] || die "start needs PORT"
		[ -n "$bin" ] || die "mariadbd not found"
		u=$(owner mysql)
		mkdir -p "$dir"; chown "$u" "$dir"; chmod 700 "$dir"
		if [ ! -d "$dir/data/mysql" ]; then
			mariadb-install-db --no-defaults --datadir="$dir/data" --user="$u" \
				--auth-root-authentication-method=normal --skip-test-db \
				--skip-name-resolve --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
				>"$dir/install.log" 2>&1 ||
				die "mariadb-install-db failed: $(tail -n 5 "$dir/install.log")"
			chown -R "$u" "$dir/data"
			fresh=1
		fi
		# setsid: the server must not die with the shell that started it.
		setsid "$bin" --no-defaults --datadir="$dir/data" --socket="$sock" --port="$port" \
			--bind-address=127.0.0.1 --pid-file="$pidfile" --log-error="$dir/server.log" \
			--user="$u" --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=32M \
			--innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=2 --max-connections=200 \
			</dev/null >/dev/null 2>&1 &
		for _ in $(seq 1 600); do
			if admin ping >/dev/null 2>&1; then break; fi
			sleep 0.1
		done
		admin ping >/dev/null 2>&1 || die "mariadbd did not start: $(tail -n 5 "$dir/server.log" 2>/dev/null)"
		if [ "${fresh:-0}" = 1 ]; then
			mariadb --no-defaults --socket="$sock" -uroot -e "CREATE DATABASE IF NOT EXISTS test"
		fi
		;;
	stop)
		need_dir
		[ -f "$pidfile" ] || exit 0
		pid=$(cat "$pidfile")
		kill -TERM "$pid"
		for _ in $(seq 1 600); do
			kill -0 "$pid" 2>/dev/null || exit 0
			sleep 0.1
		done
		die "mariadbd $pid did not stop"
		;;
	pause | resume)
		need_dir
		pid=$(cat "$pidfile")
		if [ "$cmd" = pause ]; then
			kill -STOP "$pid"
			wait_stopped "$pid"
		else
			kill -CONT "$pid"
		fi
		;;
	destroy)
		need_dir
		if [ -f "$pidfile" ]; then
			pid=$(cat "$pidfile")
			kill -CONT "$pid" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
			for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
		rm -rf "$dir"
		;;
	*) die "unknown command $cmd" ;;
	esac
	;;
*) die "unknown kind $kind (postgres or mariadb)" ;;
esac
