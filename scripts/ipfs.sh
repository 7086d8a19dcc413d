#!/usr/bin/env bash
# A local IPFS node for zkFL's IPFS store: js-ipfs (npm `ipfs`, pinned in tools/ipfs/, installed by
# `make setup`), offline, its HTTP RPC API (the Kubo API) on 127.0.0.1 only, no swarm, gateway or gRPC.
#
#   scripts/ipfs.sh start  [--dir DIR] [--port PORT]   start (or find running) and print the API URL
#   scripts/ipfs.sh status [--dir DIR]                 print the API URL if it answers, else exit 1
#   scripts/ipfs.sh stop   [--dir DIR]                 stop it (SIGTERM: js-ipfs closes its repo), then forget it
#
# DIR (default .zkfl-ipfs/ in the repository) holds the IPFS repository (repo/, kept between runs:
# the store's blocks live there), the daemon's log and its PID. PORT defaults to 5001, the usual
# RPC port, so that a workspace that names the URL finds it again; 0 picks a free port. Use the
# URL as a workspace's store: `zkfl init DIR --ipfs-api URL`, or `make demo STORE=ipfs`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jsipfs="$root/tools/ipfs/node_modules/.bin/jsipfs"

usage() { sed -n '5,7p' "$0" | sed 's/^# *//' >&2; exit 2; }
[ $# -ge 1 ] || usage
command="$1"; shift
case "$command" in start|status|stop) ;; *) usage ;; esac
dir="$root/.zkfl-ipfs"
port=5001
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        *) usage ;;
    esac
done
[ "$command" = start ] && mkdir -p "$dir"
[ -d "$dir" ] && dir="$(cd "$dir" && pwd)"
export IPFS_PATH="$dir/repo"
pid_file="$dir/daemon.pid"
log_file="$dir/daemon.log"

# the API URL the running daemon wrote (repo/api holds a multiaddr: /ip4/127.0.0.1/tcp/PORT/http)
api_url() {
    [ -f "$IPFS_PATH/api" ] || return 1
    local address
    address="$(cat "$IPFS_PATH/api")"
    [[ "$address" =~ ^/ip4/([0-9.]+)/tcp/([0-9]+) ]] || return 1
    echo "http://${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"
}

answers() {
    node -e 'fetch(process.argv[1] + "/api/v0/version", {method: "POST"})
        .then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
}

# the daemon's PID, if it still runs: a live process with this repository's IPFS_PATH (not another
# process that reused a stale PID)
running_pid() {
    [ -f "$pid_file" ] || return 1
    local pid
    pid="$(cat "$pid_file")"
    kill -0 "$pid" 2>/dev/null || return 1
    { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "IPFS_PATH=$IPFS_PATH" || return 1
    echo "$pid"
}

case "$command" in
start)
    [ -x "$jsipfs" ] || { echo "js-ipfs is not installed in tools/ipfs/: run \`make setup\`" >&2; exit 1; }
    if running_pid >/dev/null && url="$(api_url)" && answers "$url"; then
        echo "$url"
        exit 0
    fi
    if [ ! -f "$IPFS_PATH/config" ]; then
        # -e: an empty repository (no welcome files); the test profile: no bootstrap peers, no MDNS
        "$jsipfs" init -e --profile test >"$log_file" 2>&1 || { cat "$log_file" >&2; exit 1; }
    fi
    rm -rf "$IPFS_PATH/api" "$IPFS_PATH/repo.lock"  # a killed daemon's leftovers (the lock is a directory)
    # the API on loopback only; no swarm, gateway or gRPC listener, no peers to find
    node -e '
        const fs = require("fs"), [path, port] = process.argv.slice(1);
        const config = JSON.parse(fs.readFileSync(path, "utf8"));
        Object.assign(config.Addresses, {API: `/ip4/127.0.0.1/tcp/${port}`, Swarm: [], Gateway: "", RPC: "", Delegates: []});
        config.Bootstrap = [];
        config.Discovery = {MDNS: {Enabled: false}, webRTCStar: {Enabled: false}};
        fs.writeFileSync(path + ".tmp", JSON.stringify(config, null, 2));
        fs.renameSync(path + ".tmp", path);' "$IPFS_PATH/config" "$port"
    # its own session, so that it outlives this script and a Ctrl-C in the caller's terminal
    setsid "$jsipfs" daemon --offline --enable-preload=false >>"$log_file" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pid_file"
    deadline=$((SECONDS + 60))  # js-ipfs is ready in about 6 s; allow a minute on a busy machine
    while [ "$SECONDS" -lt "$deadline" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file"
            echo "the IPFS node exited while starting (log: $log_file):" >&2
            tail -n 20 "$log_file" >&2
            exit 1
        fi
        if url="$(api_url)" && answers "$url"; then
            echo "$url"
            exit 0
        fi
        sleep 0.25
    done
    echo "the IPFS node (PID $pid) did not answer within 60 s; log: $log_file" >&2
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$pid_file"
    exit 1
    ;;
status)
    if running_pid >/dev/null && url="$(api_url)" && answers "$url"; then
        echo "$url"
        exit 0
    fi
    echo "no IPFS node is running for $dir" >&2
    exit 1
    ;;
stop)
    if pid="$(running_pid)"; then
        kill -TERM "$pid"
        for _ in $(seq 1 80); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "the IPFS node (PID $pid) did not stop within 20 s of SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pid_file"
    ;;
*)
    usage
    ;;
esac
