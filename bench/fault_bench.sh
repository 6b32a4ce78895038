#!/usr/bin/env bash
# The load faults against the standard tools, in one run (a benchmark run by hand, never a
# test): http.load req/s vs wrk against the same local nginx at the same concurrency;
# cpu.stress accuracy vs `stress-ng --cpu-load`; disk.fill 1 GiB vs `fallocate` on a
# tmpfs this script mounts. firedrill is driven through `firedrill run` with small drills
# generated here. Loopback only; every run is bounded; nginx, the tmpfs and the temporary
# directory go on exit, however the script ends.
#
# Usage: bench/fault_bench.sh [BUILD_DIR]   (default: build; root for the tmpfs)
# Knobs (environment): ROUNDS=3 CONCURRENCY=32 HTTP_SECS=5 CPU_SECS=6 CPU_LOADS="50 80"
set -euo pipefail
cd "$(dirname "$0")/.."
FD="$(pwd)/${1:-build}/firedrill"
ROUNDS="${ROUNDS:-3}"
CONCURRENCY="${CONCURRENCY:-32}"
HTTP_SECS="${HTTP_SECS:-5}"
CPU_SECS="${CPU_SECS:-6}"
CPU_LOADS="${CPU_LOADS:-50 80}"

[ -x "$FD" ] || { echo "no $FD: build first (scripts/build)" >&2; exit 2; }
for tool in nginx wrk stress-ng fallocate python3; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: apt-get install nginx wrk stress-ng util-linux python3" >&2
    exit 2
  }
done

work="$(mktemp -d /tmp/firedrill-bench-XXXXXX)"
nginx_pid=""
mnt=""
cleanup() {
  if [ -n "$nginx_pid" ]; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  if [ -n "$mnt" ] && mountpoint -q "$mnt"; then umount "$mnt"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export FIREDRILL_STATE_DIR="$work/state" NO_COLOR=1
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The detail of the first `fault.rolled_back` (or any TYPE) line of a report.
detail_of() {
  python3 - "$1" "${2:-fault.rolled_back}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(next((e["detail"] for e in r["timeline"] if e["type"] == sys.argv[2]), ""))
PY
}

# Runs a drill whose only fault is $1 (YAML flow map), with a steady state that always holds.
run_drill() {  # run_drill NAME FAULT [ALLOW_PATH]
  local name="$1" fault="$2" allow="${3:-}"
  {
    echo "apiVersion: firedrill/v1"
    echo "name: bench-$name"
    echo "settings: {probe_interval: 1s, settle: 5s, timeout: 2m${allow:+, allow_paths: [\"$allow\"]}}"
    echo "steady_state:"
    echo "  - {name: always, probe: {command: {run: \"true\"}}}"
    echo "faults:"
    echo "  - $fault"
    echo "recovery: {within: 1m, steady_for: 1s}"
  } >"$work/$name.yaml"
  rm -rf "$work/report-$name"
  "$FD" run -q "$work/$name.yaml" --report-dir "$work/report-$name" >"$work/$name.out" 2>&1 || {
    echo "firedrill run $name failed:" >&2
    cat "$work/$name.out" >&2
    return 1
  }
}

# ---------------------------------------------------------------- http.load vs wrk
port="$(free_port)"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { return 200 "ok\n"; }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.05
done
url="http://127.0.0.1:$port/"

echo "http.load vs wrk: $url, $CONCURRENCY connections, ${HTTP_SECS}s, $ROUNDS rounds (alternating)" >&2
# CPU time per request: wrk's whole process (user + sys, from bash's `time`); firedrill's
# load thread (fd-http-load) on-CPU time from schedstat over the load's whole life.
fd_rates="" wrk_rates="" fd_lat="" wrk_lat="" fd_us="" wrk_us=""
TIMEFORMAT='%U %S'
for r in $(seq "$ROUNDS"); do
  { time wrk -t1 -c"$CONCURRENCY" -d"${HTTP_SECS}s" --latency "$url" >"$work/wrk.out"; } 2>"$work/wrk.time"
  w=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")
  wn=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
  wl=$(awk '$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } END { print "p50 " p50 ", p99 " p99 }' "$work/wrk.out")
  wu=$(tail -1 "$work/wrk.time" | awk -v n="$wn" '{ printf "%.1f", 1e6 * ($1 + $2) / n }')
  run_drill http "{name: load, at: 0s, action: http.load, with: {url: \"$url\", rate: 0, concurrency: $CONCURRENCY}, duration: ${HTTP_SECS}s}" &
  drill=$!
  tid="" oncpu_ns=0
  while kill -0 "$drill" 2>/dev/null; do
    fdpid=$(pgrep -f -n "firedrill run -q $work/http.yaml" || true)
    if [ -n "$fdpid" ] && [ -z "$tid" ]; then
      tid=$(grep -lx 'fd-http-load' /proc/"$fdpid"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5 || true)
    fi
    if [ -n "$tid" ]; then
      v=$(awk '{ print $1 }' "/proc/$fdpid/task/$tid/schedstat" 2>/dev/null || true)
      [ -n "$v" ] && oncpu_ns=$v
    fi
    sleep 0.05
  done
  wait "$drill"
  d="$(detail_of "$work/report-http/report.json")"
  f=$(sed -E 's/.*\(([0-9.]+) req\/s\).*/\1/' <<<"$d")
  fn=$(sed -E 's/^stopped: ([0-9,]+) requests.*/\1/; s/,//g' <<<"$d")
  # The last sample is at most 50 ms before the thread ended: a slight undercount.
  fu=$(python3 -c "print(f'{$oncpu_ns / 1000 / $fn:.1f}')")
  echo "  round $r: wrk $w req/s, $wu us CPU/req ($wl); firedrill $f req/s, $fu us CPU/req ($d)" >&2
  wrk_rates+=" $w" fd_rates+=" $f" wrk_us+=" $wu" fd_us+=" $fu"
  wrk_lat="$wl" fd_lat="$(grep -oE 'p50 [^;]*' <<<"$d")"
done
kill "$nginx_pid"
wait "$nginx_pid" 2>/dev/null || true
nginx_pid=""
http_fd=$(median <<<"$fd_rates")
http_wrk=$(median <<<"$wrk_rates")
us_fd=$(median <<<"$fd_us")
us_wrk=$(median <<<"$wrk_us")

# ---------------------------------------------------------------- cpu.stress vs stress-ng
# Both measured the same way, from outside: the worker's on-CPU time (/proc/PID/task/TID/
# schedstat, ns) over a 4 s window starting 1 s into a ${CPU_SECS}s run, and the time it
# sat runnable in the run queue (a busy machine: what it asked for but did not get).
window_load() {  # window_load SCHEDSTAT_FILE -> "ONCPU% WAITED%" over 4 s
  local a b t0 t1
  a=$(cat "$1"); t0=$(date +%s%N)
  sleep 4
  b=$(cat "$1"); t1=$(date +%s%N)
  python3 -c "a = '$a'.split(); b = '$b'.split(); d = $t1 - $t0
print(f'{100 * (int(b[0]) - int(a[0])) / d:.1f} {100 * (int(b[1]) - int(a[1])) / d:.1f}')"
}
cpu_rows=()
for load in $CPU_LOADS; do
  echo "cpu.stress vs stress-ng: 1 worker at $load% for ${CPU_SECS}s" >&2
  # stress-ng: one worker process, a child of the stress-ng parent.
  stress-ng --cpu 1 --cpu-load "$load" --timeout "${CPU_SECS}s" --quiet &
  sng=$!
  worker=""
  for _ in $(seq 100); do
    worker=$(pgrep -P "$sng" | head -1 || true)
    [ -n "$worker" ] && break
    sleep 0.01
  done
  sleep 1
  read -r sng_load sng_wait <<<"$(window_load "/proc/$worker/schedstat")"
  wait "$sng" || true

  # firedrill: the fd-cpu-0 thread of the `firedrill run` process.
  run_drill "cpu$load" "{name: burn, at: 0s, action: cpu.stress, with: {workers: 1, load: $load%}, duration: ${CPU_SECS}s}" &
  drill=$!
  tid=""
  for _ in $(seq 1000); do
    fdpid=$(pgrep -f -n "firedrill run -q $work/cpu$load.yaml" || true)
    if [ -n "$fdpid" ]; then
      tid=$(grep -lx 'fd-cpu-0' /proc/"$fdpid"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5 || true)
    fi
    [ -n "$tid" ] && break
    sleep 0.01
  done
  sleep 1
  read -r fd_load fd_wait <<<"$(window_load "/proc/$fdpid/task/$tid/schedstat")"
  wait "$drill"
  self=$(detail_of "$work/report-cpu$load/report.json" | sed -E 's/.*measured load ([0-9.]+)%.*/\1/')
  echo "  firedrill $fd_load% (its own figure $self%, waited $fd_wait%), stress-ng $sng_load% (waited $sng_wait%)" >&2
  cpu_rows+=("$load $fd_load $self $fd_wait $sng_load $sng_wait")
done

# ---------------------------------------------------------------- disk.fill vs fallocate
disk_line=""
if "$FD" faults | grep -q '^disk.fill  \[not built yet\]'; then
  disk_line="disk.fill: skipped (firedrill faults says disk.fill is not built yet)"
elif [ "$(id -u)" -ne 0 ]; then
  disk_line="disk.fill: skipped (mounting a tmpfs needs root)"
else
  mnt="$work/mnt"
  mkdir -p "$mnt"
  mount -t tmpfs -o size=1200m,mode=0700 firedrill-bench "$mnt"
  echo "disk.fill vs fallocate: 1GiB on a tmpfs at $mnt, $ROUNDS rounds" >&2
  fa_ms="" fd_ms=""
  for r in $(seq "$ROUNDS"); do
    t0=$(date +%s%N)
    fallocate -l 1GiB "$mnt/ballast"
    t1=$(date +%s%N)
    rm -f "$mnt/ballast"
    fa=$(((t1 - t0) / 1000000))
    run_drill disk "{name: fill, at: 0s, action: disk.fill, with: {path: \"$mnt\", size: 1GiB}, duration: 1s}" "$mnt"
    # From the start of the fault phase (the fault is due at once) to the injection's end.
    fd=$(python3 - "$work/report-disk/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
phase = next(e["t_ms"] for e in r["timeline"] if e["type"] == "phase" and e["name"] == "faults")
print(r["faults"][0]["injected_at_ms"] - phase)
PY
)
    echo "  round $r: fallocate $fa ms, firedrill $fd ms ($(detail_of "$work/report-disk/report.json" fault.injected))" >&2
    fa_ms+=" $fa" fd_ms+=" $fd"
  done
  umount "$mnt"
  disk_fa=$(median <<<"$fa_ms")
  disk_fd=$(median <<<"$fd_ms")
fi

# ---------------------------------------------------------------- the table
echo
echo "machine: $(nproc) CPUs; load average at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %-24s %-28s %-18s %s\n' benchmark firedrill reference result goal
printf '%-40s %-24s %-28s %-18s %s\n' "http.load req/s (c=$CONCURRENCY, ${HTTP_SECS}s, median)" \
  "$http_fd" "wrk -t1: $http_wrk" \
  "$(python3 -c "print(f'{$http_fd / $http_wrk:.2f}x')")" ">= 1.0x"
printf '%-40s %-24s %-28s\n' "  CPU per request (median)" "$us_fd us" "$us_wrk us"
printf '%-40s %-24s %-28s\n' "  latency (last round)" "$fd_lat" "$wrk_lat"
for row in "${cpu_rows[@]}"; do
  read -r load fdl self fdw sngl sngw <<<"$row"
  printf '%-40s %-24s %-28s %-18s %s\n' "cpu.stress $load% (1 worker, 4s window)" \
    "$fdl% (own: $self%)" "stress-ng: $sngl%" \
    "$(python3 -c "print(f'{$fdl - $load:+.1f} vs {$sngl - $load:+.1f} pts')")" "within ±2 pts"
  printf '%-40s %-24s %-28s\n' "  waited for a CPU (run queue)" "$fdw%" "$sngw%"
done
if [ -n "$disk_line" ]; then
  echo "$disk_line"
else
  printf '%-40s %-24s %-28s %-18s %s\n' "disk.fill 1GiB on tmpfs (median)" "$disk_fd ms" \
    "fallocate: $disk_fa ms" "$(python3 -c "print(f'{$disk_fd / max($disk_fa, 1):.2f}x')")" "<= 1.5x"
fi
