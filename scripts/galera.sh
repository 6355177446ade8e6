#!/usr/bin/env bash
# galera.sh runs a 3-node MariaDB Galera cluster on 127.0.0.1 for
# server_galera_test.go, from Debian's packages (mariadb-server, galera-4, rsync;
# installed with apt-get when absent and the caller is root). Every node has
# its own directory under $GALERA_DIR (data, socket, pid, logs, my.cnf) and
# its own ports, and reads no system configuration file: the machine's own
# MariaDB (port 3306) is never touched.
#
# Usage:
#   galera.sh start    install packages if needed, create the cluster afresh,
#                      wait until every node reports wsrep_cluster_size=3 and
#                      Synced, create database test, print the DSNs
#   galera.sh stop     shut the nodes down (last node first)
#   galera.sh status   each node's cluster size and state; exit 1 unless all are Synced
#   galera.sh dsns     print SQLSTORE_GALERA_DSNS: the nodes' mysql:// URLs, comma-separated
#   galera.sh destroy  stop and remove $GALERA_DIR
#
# Typical use:
#   bash scripts/galera.sh start
#   export SQLSTORE_GALERA_DSNS=$(bash scripts/galera.sh dsns)
#   go test -race -run Galera .
#   bash scripts/galera.sh stop
#
# Ports of node i (1..3): SQL 3310+i, group communication 4570+i, IST 4580+i,
# SST (rsync) 4590+i. The cluster is created afresh on every start: its data
# is test data. About 130 MB a node; synced in about 15 s.
#
# Environment: GALERA_DIR (default /tmp/sqlstore-galera), GALERA_PROVIDER
# (default /usr/lib/galera/libgalera_smm.so), MARIADBD (default mariadbd).
set -euo pipefail

die() { echo "galera.sh: $*" >&2; exit 1; }
say() { echo "galera.sh: $*" >&2; }

GALERA_DIR=${GALERA_DIR:-/tmp/sqlstore-galera}
GALERA_PROVIDER=${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}
NODES=(1 2 3)

sql_port() { echo $((3310 + $1)); }
node_dir() { echo "$GALERA_DIR/node$1"; }
sock() { echo "$(node_dir "$1")/mariadbd.sock"; }
pidfile() { echo "$(node_dir "$1")/mariadbd.pid"; }

# q NODE SQL...: run SQL on a node over its socket, tab-separated, no headers.
q() {
	local n=$1
	shift
	mariadb --no-defaults --socket="$(sock "$n")" -uroot -N -B -e "$*"
}

mariadbd_bin() {
	if [ -n "${MARIADBD:-}" ]; then echo "$MARIADBD"; return; fi
	local b
	for b in mariadbd mysqld; do
		if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return; fi
		if [ -x "/usr/sbin/$b" ]; then echo "/usr/sbin/$b"; return; fi
	done
	return 1
}

# as_server CMD...: run CMD as the mysql user when root, else as the caller.
as_server() {
	if [ "$(id -u)" = 0 ]; then runuser -u mysql -- "$@"; else "$@"; fi
}

ensure_packages() {
	local missing=() p
	for p in mariadb-server galera-4 rsync; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: run apt-get install ${missing[*]} as root"
	say "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The package's own scripts try to start the system MariaDB: with no
	# init system they fail harmlessly, and this script never uses it.
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

write_cnf() {
	local n=$1 d
	d=$(node_dir "$n")
	cat >"$d/my.cnf" <<EOF
[mariadbd]
$([ "$(id -u)" = 0 ] && echo "user = mysql")
datadir = $d/data
socket = $d/mariadbd.sock
pid-file = $d/mariadbd.pid
log-error = $d/error.log
port = $(sql_port "$n")
bind-address = 127.0.0.1
performance_schema = OFF
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
innodb_flush_log_at_trx_commit = 2
max_connections = 300
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
wsrep_on = ON
wsrep_provider = $GALERA_PROVIDER
wsrep_cluster_name = sqlstore_test
wsrep_cluster_address = gcomm://127.0.0.1:4571,127.0.0.1:4572,127.0.0.1:4573
wsrep_node_name = node$n
wsrep_node_address = 127.0.0.1:$((4570 + n))
wsrep_node_incoming_address = 127.0.0.1:$(sql_port "$n")
wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:$((4570 + n));ist.recv_addr=127.0.0.1:$((4580 + n));gcache.size=64M"
wsrep_sst_method = rsync
wsrep_sst_receive_address = 127.0.0.1:$((4590 + n))
wsrep_slave_threads = 2
EOF
}

running() {
	local pf
	pf=$(pidfile "$1")
	[ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

# state NODE: "SIZE STATE", e.g. "3 Synced", or nothing when unreachable.
state() {
	q "$1" "SELECT MAX(IF(VARIABLE_NAME='WSREP_CLUSTER_SIZE', VARIABLE_VALUE, NULL)), MAX(IF(VARIABLE_NAME='WSREP_LOCAL_STATE_COMMENT', VARIABLE_VALUE, NULL)) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('WSREP_CLUSTER_SIZE','WSREP_LOCAL_STATE_COMMENT')" 2>/dev/null | tr '\t' ' ' || true
}

# wait_synced NODE SIZE SECONDS
wait_synced() {
	local n=$1 size=$2 secs=$3 s=""
	for _ in $(seq $((secs * 2))); do
		running "$n" || die "node$n exited; last lines of $(node_dir "$n")/error.log:
$(tail -n 20 "$(node_dir "$n")/error.log" 2>/dev/null)"
		s=$(state "$n")
		if [ "$s" = "$size Synced" ]; then return 0; fi
		sleep 0.5
	done
	die "node$n not Synced in a cluster of $size after ${secs}s (state: ${s:-unreachable}); see $(node_dir "$n")/error.log"
}

start_node() {
	local n=$1
	shift
	local bin
	bin=$(mariadbd_bin) || die "mariadbd not found (apt-get install mariadb-server, or set MARIADBD)"
	say "starting node$n on 127.0.0.1:$(sql_port "$n")"
	# exec: no shell stays behind holding the caller's stdout (a pipe, say).
	(cd "$(node_dir "$n")" && exec setsid "$bin" --defaults-file="$(node_dir "$n")/my.cnf" "$@" \
		>>"$(node_dir "$n")/stdout.log" 2>&1 </dev/null) &
	for _ in $(seq 60); do
		[ -f "$(pidfile "$n")" ] && return 0
		sleep 0.5
	done
	die "node$n wrote no pid file in 30s; see $(node_dir "$n")/error.log"
}

stop_node() {
	local n=$1 pid
	running "$n" || return 0
	pid=$(cat "$(pidfile "$n")")
	mariadb-admin --no-defaults --socket="$(sock "$n")" -uroot shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	for _ in $(seq 120); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.5
	done
	say "node$n ($pid) did not stop in 60s: killing it"
	kill -9 "$pid" 2>/dev/null || true
}

dsns() {
	local out="" n
	for n in "${NODES[@]}"; do
		out+="${out:+,}mysql://root@127.0.0.1:$(sql_port "$n")/test"
	done
	echo "$out"
}

all_synced() {
	local n
	for n in "${NODES[@]}"; do
		[ "$(state "$n")" = "3 Synced" ] || return 1
	done
}

start() {
	if all_synced; then
		say "already running and Synced"
		dsns
		return 0
	fi
	ensure_packages
	[ -f "$GALERA_PROVIDER" ] || die "no Galera provider at $GALERA_PROVIDER (apt-get install galera-4)"
	command -v rsync >/dev/null 2>&1 || die "rsync not found (apt-get install rsync)"
	command -v mariadb-install-db >/dev/null 2>&1 || die "mariadb-install-db not found (apt-get install mariadb-server)"
	local n p
	for p in 3311 3312 3313 4571 4572 4573 4581 4582 4583 4591 4592 4593; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			die "port $p is in use: stop what holds it (galera.sh stop?) first"
		fi
	done
	for n in "${NODES[@]}"; do stop_node "$n"; done
	rm -rf "$GALERA_DIR"
	mkdir -p "$GALERA_DIR"
	for n in "${NODES[@]}"; do
		mkdir -p "$(node_dir "$n")/data"
		write_cnf "$n"
	done
	if [ "$(id -u)" = 0 ]; then chown -R mysql:mysql "$GALERA_DIR"; fi
	for n in "${NODES[@]}"; do
		as_server mariadb-install-db --no-defaults --datadir="$(node_dir "$n")/data" \
			--auth-root-authentication-method=socket --skip-test-db \
			>"$(node_dir "$n")/install.log" 2>&1 ||
			die "mariadb-install-db failed: $(tail -n 5 "$(node_dir "$n")/install.log")"
	done
	start_node 1 --wsrep-new-cluster
	wait_synced 1 1 60
	# root may log in over TCP with an empty password (as on the shared
	# server); the joiners receive this with the rest of the data (SST).
	q 1 "ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
		CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED BY '';
		GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;
		CREATE DATABASE IF NOT EXISTS test;"
	# One joiner at a time: an rsync donor serves one state transfer.
	start_node 2
	wait_synced 2 2 120
	start_node 3
	wait_synced 3 3 120
	for n in "${NODES[@]}"; do wait_synced "$n" 3 30; done
	say "cluster Synced: 3 nodes"
	dsns
}

stop() {
	local n
	for n in 3 2 1; do stop_node "$n"; done
}

status() {
	local n s ok=0
	for n in "${NODES[@]}"; do
		s=$(state "$n")
		echo "node$n 127.0.0.1:$(sql_port "$n") ${s:-down}"
		[ "$s" = "3 Synced" ] || ok=1
	done
	return $ok
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
dsns) dsns ;;
destroy) stop; rm -rf "$GALERA_DIR" ;;
*) die "usage: $0 start|stop|status|dsns|destroy" ;;
esac
