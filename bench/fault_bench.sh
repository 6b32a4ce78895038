#!/usr/bin/env bash
# The load faults against the standard tools, in one run (a benchmark run by hand, never a
# test): http.load req/s vs wrk against the same local nginx at the same concurrency, with
# one load thread against `wrk -t1` and two against `wrk -t2`; http.load at a constant rate
# (2,000 and 20,000 req/s) counted by nginx's own access log; cpu.stress accuracy vs
# `stress-ng --cpu-load`; disk.fill 1 GiB vs `fallocate` on a tmpfs this script mounts.
# firedrill is driven through `firedrill run` with small drills generated here. Loopback
# only; every run is bounded; nginx, the tmpfs and the temporary directory go on exit,
# however the script ends. A comparison that fails (a drill refused or failed) is reported
# as failed, with firedrill's output, and the others still run; the exit status is then 1.
#
# Usage: bench/fault_bench.sh [BUILD_DIR]   (default: build; root for the tmpfs)
# Knobs (environment): ROUNDS=3 CONCURRENCY=32 HTTP_SECS=5 HTTP_THREADS="1 2" CPU_SECS=6
#   CPU_LOADS="50 80" RATES="2000 20000" RATE_SECS=10 PERF=1 (perf stat around each
#   http.load run) RESULTS_OUT=FILE (append the figures there as key=value lines)
# shellcheck disable=SC2059  # printf "$W": the table's row format, shared by its rows
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
[[ "$BUILD" == /* ]] || BUILD="$PWD/$BUILD"
FD="$BUILD/firedrill"
ROUNDS="${ROUNDS:-3}"
CONCURRENCY="${CONCURRENCY:-32}"
HTTP_SECS="${HTTP_SECS:-5}"
HTTP_THREADS="${HTTP_THREADS:-1 2}"
CPU_SECS="${CPU_SECS:-6}"
CPU_LOADS="${CPU_LOADS:-50 80}"
RATES="${RATES:-2000 20000}"
RATE_SECS="${RATE_SECS:-10}"
PERF="${PERF:-0}"
RESULTS_OUT="${RESULTS_OUT:-}"

[ -x "$FD" ] || { echo "no $FD: build first (scripts/build)" >&2; exit 2; }
for tool in nginx wrk stress-ng fallocate python3; do
  command -v "$tool" >/dev/null || {
    echo "missing $tool: apt-get install nginx wrk stress-ng util-linux python3" >&2
    exit 2
  }
done
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then
  echo "PERF=1 but no perf: apt-get install linux-perf" >&2
  exit 2
fi

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
failed=0

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# A figure for bench/run (RESULTS_OUT): one `key=value` line, the value to the line's end.
result() {
  if [ -n "$RESULTS_OUT" ]; then printf '%s=%s\n' "$1" "$2" >>"$RESULTS_OUT"; fi
}

# The detail of the first `fault.rolled_back` (or any TYPE) line of a report.
detail_of() {
  python3 - "$1" "${2:-fault.rolled_back}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(next((e["detail"] for e in r["timeline"] if e["type"] == sys.argv[2]), ""))
PY
}

# faults[0].figures of a report, flattened (`latency_ms.p50 0.42`), one a line, into FILE;
# `fig FILE KEY` prints one, or "—" when the report does not have it.
figures_of() {  # figures_of REPORT FILE
  python3 - "$1" >"$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
figs = r["faults"][0].get("figures", {}) if r.get("faults") else {}
def walk(prefix, v):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(f"{prefix}{k}.", x)
    elif isinstance(v, float):
        print(f"{prefix[:-1]} {round(v, 3):g}")
    else:
        print(f"{prefix[:-1]} {v}")
walk("", figs)
PY
}
fig() { awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print "—" }' "$1"; }
# "p50 0.42, p90 0.61, ... ms" from a figures file, for KIND latency_ms or intended_latency_ms
lat_of() {
  local f="$1" kind="$2" out="" p v
  for p in p50 p90 p99 p999 max; do
    v=$(fig "$f" "$kind.$p")
    out+="${out:+, }$p $v"
  done
  echo "$out ms"
}

# Runs a drill whose only fault is $1 (YAML flow map), with a steady state that always
# holds; with PERF=1 and a name starting "http", under `perf stat` (its CSV in perf-NAME).
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
  local wrap=()
  if [ "$PERF" = 1 ] && [[ "$name" == http* ]]; then
    wrap=(perf stat -x "," -o "$work/perf-$name" -e "task-clock,context-switches" --)
  fi
  "${wrap[@]}" "$FD" run -q "$work/$name.yaml" --report-dir "$work/report-$name" >"$work/$name.out" 2>&1 || {
    echo "firedrill run $name failed:" >&2
    cat "$work/$name.out" >&2
    return 1
  }
}

# nginx, one process (`master_process off`, one worker), `return 200` on a free loopback
# port; with a second argument, an unbuffered access log there (`$msec $status $uri`).
start_nginx() {  # start_nginx DIR [ACCESS_LOG] -> sets port, nginx_pid
  local dir="$1" log="${2:-}"
  port="$(free_port)"
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  log_format t '\$msec \$status \$uri';
  access_log ${log:-off}${log:+ t};
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { return 200 "ok\n"; }
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
  nginx_pid=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.05
  done
}
stop_nginx() {
  kill "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
  nginx_pid=""
}

# "task-clock 5012.3 ms, 1234 context switches" from a perf stat CSV (-x,).
perf_of() {
  awk -F, '$3 ~ /^task-clock/ { t = $1 } $3 ~ /^context-switches/ { c = $1 }
    END { printf "perf: task-clock %s ms, %s context switches", t, c }' "$1"
}

# ---------------------------------------------------------------- http.load vs wrk
start_nginx "$work/nginx"
url="http://127.0.0.1:$port/"

# One pair: `wrk -tT` against http.load with `threads: T` (T = 1: the field left out, its
# default, so that builds without it compare too), alternating, ROUNDS rounds.
# CPU time per request: wrk's whole process (user + sys, from bash's `time`); firedrill's
# load threads' own CPU clocks, which the fault reports (cpu_us_per_request), so that
# nothing here samples /proc while firedrill runs and wrk does not.
http_pair() {  # http_pair THREADS
  local t="$1" r w wn wl wu d f fu ft with wrk_cmd
  with="url: \"$url\", rate: 0, concurrency: $CONCURRENCY"
  [ "$t" = 1 ] || with+=", threads: $t"
  wrk_cmd="wrk -t$t -c$CONCURRENCY -d${HTTP_SECS}s --latency $url"
  local fault="{name: load, at: 0s, action: http.load, with: {$with}, duration: ${HTTP_SECS}s}"
  echo "http.load ($t thread(s)) vs wrk -t$t: $url, $CONCURRENCY connections, ${HTTP_SECS}s, $ROUNDS rounds (alternating)" >&2
  result "http.t$t.wrk_cmd" "$wrk_cmd"
  result "http.t$t.fd_fault" "$fault"
  fd_rates="" wrk_rates="" fd_lat="" wrk_lat="" fd_us="" wrk_us=""
  TIMEFORMAT='%U %S'
  for r in $(seq "$ROUNDS"); do
    { time $wrk_cmd >"$work/wrk.out"; } 2>"$work/wrk.time"
    w=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")
    wn=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
    wl=$(awk '$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } END { print "p50 " p50 ", p99 " p99 }' "$work/wrk.out")
    wu=$(tail -1 "$work/wrk.time" | awk -v n="$wn" '{ printf "%.1f", 1e6 * ($1 + $2) / n }')
    if ! run_drill "http$t" "$fault"; then
      echo "  round $r: wrk $w req/s; firedrill: the drill failed (above)" >&2
      result "http.t$t.error" "firedrill run failed: $(grep -m1 -v '^$' "$work/http$t.out" | cut -c1-300)"
      return 1
    fi
    figures_of "$work/report-http$t/report.json" "$work/http$t.figs"
    d="$(detail_of "$work/report-http$t/report.json")"
    f=$(fig "$work/http$t.figs" rate)
    # Builds without figures: from the detail ("stopped: 1,234 requests ... (567.8 req/s)").
    [ "$f" != — ] || f=$(sed -nE 's/.*\(([0-9.]+) req\/s\).*/\1/p' <<<"$d")
    fu=$(fig "$work/http$t.figs" cpu_us_per_request)
    ft=$(fig "$work/http$t.figs" threads)
    if [ "$(fig "$work/http$t.figs" latency_ms.p50)" != — ]; then
      fd_lat="p50 $(fig "$work/http$t.figs" latency_ms.p50) ms, p99 $(fig "$work/http$t.figs" latency_ms.p99) ms"
    else
      fd_lat="$(grep -oE 'p50 [^;]*' <<<"$d" || echo —)"
    fi
    local extra=""
    if [ "$PERF" = 1 ] && [ -f "$work/perf-http$t" ]; then extra="; $(perf_of "$work/perf-http$t")"; fi
    echo "  round $r: wrk $w req/s, $wu us CPU/req ($wl); firedrill $f req/s, $fu us CPU/req, $ft load thread(s) ($d)$extra" >&2
    result "http.t$t.round$r" "wrk $w req/s, $wu us/req; firedrill $f req/s, $fu us/req, $ft load threads$extra"
    wrk_rates+=" $w" fd_rates+=" ${f:-0}" wrk_us+=" $wu" wrk_lat="$wl"
    [ "$fu" = — ] || fd_us+=" $fu"
  done
  http_fd=$(median <<<"$fd_rates")
  http_wrk=$(median <<<"$wrk_rates")
  us_fd=$(median <<<"$fd_us")
  us_wrk=$(median <<<"$wrk_us")
  : "${us_fd:=—}"
  result "http.t$t.fd_rps" "$http_fd"
  result "http.t$t.wrk_rps" "$http_wrk"
  result "http.t$t.fd_rounds" "${fd_rates# }"
  result "http.t$t.wrk_rounds" "${wrk_rates# }"
  result "http.t$t.fd_us" "$us_fd"
  result "http.t$t.wrk_us" "$us_wrk"
  result "http.t$t.fd_lat" "$fd_lat"
  result "http.t$t.wrk_lat" "$wrk_lat"
}
http_rows=()
for t in $HTTP_THREADS; do
  if http_pair "$t"; then
    http_rows+=("$t|$http_fd|$http_wrk|$us_fd|$us_wrk|$fd_lat|$wrk_lat")
  else
    http_rows+=("$t|failed")
    failed=1
  fi
done
stop_nginx
result http.nginx "one process (master_process off, worker_processes 1), return 200, the same for every pair"

# ---------------------------------------------------------------- http.load at a constant rate
# http.load with `rate: R` for RATE_SECS against an nginx of its own whose access log (not
# buffered) has a line per request; nginx is stopped before its log is counted. The rate
# nginx saw is its count over the load's `duration_ms` (report.json); "steadiest/worst
# second" are the fullest and emptiest whole seconds from nginx's first stamp.
rate_rows=()
for R in $RATES; do
  echo "http.load at rate $R/s: $CONCURRENCY connections, 1 thread, ${RATE_SECS}s, counted by nginx's access log" >&2
  start_nginx "$work/nginx-rate$R" "$work/nginx-rate$R/access.log"
  fault="{name: load, at: 0s, action: http.load, with: {url: \"http://127.0.0.1:$port/rate\", rate: $R, concurrency: $CONCURRENCY, threads: 1}, duration: ${RATE_SECS}s}"
  result "rate.$R.fd_fault" "$fault"
  if ! run_drill "rate$R" "$fault"; then
    stop_nginx
    echo "  rate $R: the drill failed (above)" >&2
    result "rate.$R.error" "firedrill run failed: $(grep -m1 -v '^$' "$work/rate$R.out" | cut -c1-300)"
    rate_rows+=("$R|failed")
    failed=1
    continue
  fi
  stop_nginx
  f="$work/rate$R.figs"
  figures_of "$work/report-rate$R/report.json" "$f"
  read -r count span nginx_rate dev lo hi <<<"$(python3 - "$work/nginx-rate$R/access.log" "$(fig "$f" duration_ms)" "$R" <<'PY'
import sys, collections
log, dur, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
stamps = []
for line in open(log):
    p = line.split()
    if len(p) >= 3 and p[2] == "/rate":
        stamps.append(float(p[0]))
n = len(stamps)
span = (max(stamps) - min(stamps)) if n > 1 else 0.0
# The load's own duration when the report has it, else nginx's first to last stamp.
secs = float(dur) / 1000.0 if dur not in ("—", "") else span
got = n / secs if secs > 0 else 0.0
per = collections.Counter(int(t - stamps[0]) for t in stamps) if stamps else {}
whole = [per.get(i, 0) for i in range(int(span))]  # whole seconds only
lo, hi = (min(whole), max(whole)) if whole else ("—", "—")
print(n, f"{span:.3f}", f"{got:.1f}", f"{100.0 * (got - rate) / rate:+.2f}", lo, hi)
PY
)"
  own=$(fig "$f" rate)
  lat=$(lat_of "$f" latency_ms)
  ilat=$(lat_of "$f" intended_latency_ms)
  late=$(fig "$f" late)
  unsent=$(fig "$f" unsent)
  echo "  rate $R: nginx counted $count requests (first to last stamp ${span}s) = $nginx_rate/s over the load's $(fig "$f" duration_ms) ms ($dev %); firedrill's rate $own/s, requests $(fig "$f" requests), errors $(fig "$f" errors); seconds $lo..$hi requests" >&2
  echo "    latency: $lat; intended: $ilat; late $late, unsent $unsent" >&2
  result "rate.$R.nginx_count" "$count"
  result "rate.$R.nginx_span_s" "$span"
  result "rate.$R.nginx_rate" "$nginx_rate"
  result "rate.$R.deviation_pct" "$dev"
  result "rate.$R.second_min" "$lo"
  result "rate.$R.second_max" "$hi"
  for k in rate requests errors transport_errors server_errors local_errors connections duration_ms threads late unsent; do
    result "rate.$R.fd.$k" "$(fig "$f" "$k")"
  done
  result "rate.$R.fd.latency_ms" "$lat"
  result "rate.$R.fd.intended_latency_ms" "$ilat"
  rate_rows+=("$R|$nginx_rate|$dev|$own|$lat|$ilat|$late|$unsent|$count|$lo|$hi")
done

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
  fault="{name: burn, at: 0s, action: cpu.stress, with: {workers: 1, load: $load%}, duration: ${CPU_SECS}s}"
  result "cpu.$load.sng_cmd" "stress-ng --cpu 1 --cpu-load $load --timeout ${CPU_SECS}s --quiet"
  result "cpu.$load.fd_fault" "$fault"
  run_drill "cpu$load" "$fault" &
  drill=$!
  tid="" fdpid=""
  for _ in $(seq 1000); do
    fdpid=$(pgrep -f -n "^[^ ]*firedrill run -q $work/cpu$load.yaml" || true)
    if [ -n "$fdpid" ]; then
      tid=$(grep -lx 'fd-cpu-0' /proc/"$fdpid"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5 || true)
    fi
    [ -n "$tid" ] && break
    kill -0 "$drill" 2>/dev/null || break
    sleep 0.01
  done
  if [ -n "$tid" ]; then
    sleep 1
    read -r fd_load fd_wait <<<"$(window_load "/proc/$fdpid/task/$tid/schedstat")"
  fi
  drill_rc=0
  wait "$drill" || drill_rc=$?
  if [ "$drill_rc" -ne 0 ] || [ -z "$tid" ]; then
    why="firedrill run failed (above)"
    [ "$drill_rc" -ne 0 ] || why="no thread fd-cpu-0 found in the firedrill run process"
    echo "  firedrill: $why" >&2
    result "cpu.$load.error" "$why"
    cpu_rows+=("$load failed")
    failed=1
    continue
  fi
  self=$(detail_of "$work/report-cpu$load/report.json" | sed -E 's/.*measured load ([0-9.]+)%.*/\1/')
  echo "  firedrill $fd_load% (its own figure $self%, waited $fd_wait%), stress-ng $sng_load% (waited $sng_wait%)" >&2
  result "cpu.$load.fd" "$fd_load"
  result "cpu.$load.own" "$self"
  result "cpu.$load.fd_wait" "$fd_wait"
  result "cpu.$load.sng" "$sng_load"
  result "cpu.$load.sng_wait" "$sng_wait"
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
  fault="{name: fill, at: 0s, action: disk.fill, with: {path: \"$mnt\", size: 1GiB}, duration: 1s}"
  result disk.fa_cmd "fallocate -l 1GiB MNT/ballast (a 1200 MiB tmpfs)"
  result disk.fd_fault "$fault"
  fa_ms="" fd_ms=""
  for r in $(seq "$ROUNDS"); do
    t0=$(date +%s%N)
    fallocate -l 1GiB "$mnt/ballast"
    t1=$(date +%s%N)
    rm -f "$mnt/ballast"
    fa=$(((t1 - t0) / 1000000))
    if ! run_drill disk "$fault" "$mnt"; then
      disk_line="disk.fill: failed (firedrill run failed, above)"
      failed=1
      break
    fi
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
  if [ -z "$disk_line" ]; then
    disk_fa=$(median <<<"$fa_ms")
    disk_fd=$(median <<<"$fd_ms")
    result disk.fd_ms "$disk_fd"
    result disk.fa_ms "$disk_fa"
    result disk.fd_rounds "${fd_ms# }"
    result disk.fa_rounds "${fa_ms# }"
  fi
fi
[ -z "$disk_line" ] || result disk.skipped "$disk_line"

# ---------------------------------------------------------------- the table
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
result load_start "$load_start"
result load_end "$load_end"
W='%-46s %-24s %-28s %-18s %s\n'
echo
echo "machine: $(nproc) CPUs; load average at start $load_start, at end $load_end"
echo "nginx: one process (master_process off, worker_processes 1), return 200, the same for every pair"
printf "$W" benchmark firedrill reference result goal
for row in "${http_rows[@]}"; do
  IFS='|' read -r t hf hw uf uw lf lw <<<"$row"
  what="http.load req/s (c=$CONCURRENCY, ${HTTP_SECS}s, median)"
  [ "$t" = 1 ] || what="http.load req/s (c=$CONCURRENCY, threads: $t, ${HTTP_SECS}s, median)"
  if [ "$hf" = failed ]; then
    printf "$W" "$what" "failed (see above)" "wrk -t$t" "—" ">= 1.0x"
    continue
  fi
  printf "$W" "$what" "$hf" "wrk -t$t: $hw" \
    "$(python3 -c "print(f'{$hf / $hw:.2f}x')")" ">= 1.0x"
  printf '%-46s %-24s %-28s\n' "  CPU per request (median)" "$uf us" "$uw us"
  printf '%-46s %-24s %-28s\n' "  latency (last round)" "$lf" "$lw"
done
for row in "${rate_rows[@]}"; do
  IFS='|' read -r R nr dev own lat ilat late unsent count lo hi <<<"$row"
  what="http.load at rate $R/s (c=$CONCURRENCY, ${RATE_SECS}s)"
  if [ "$nr" = failed ]; then
    printf "$W" "$what" "failed (see above)" "target $R/s" "—" "within ±1 %"
    continue
  fi
  printf "$W" "$what" "nginx counted $nr/s" "target: $R/s" "$dev %" "within ±1 %"
  printf '%-46s %s\n' "  nginx's count, its whole seconds" "$count requests; $lo..$hi a second"
  printf '%-46s %s\n' "  firedrill's own rate figure" "$own/s"
  printf '%-46s %s\n' "  latency (sent to response)" "$lat"
  printf '%-46s %s\n' "  intended latency (due to response)" "$ilat"
  printf '%-46s %s\n' "  late / unsent" "$late / $unsent"
done
for row in "${cpu_rows[@]}"; do
  read -r load fdl self fdw sngl sngw <<<"$row"
  if [ "$fdl" = failed ]; then
    printf "$W" "cpu.stress $load% (1 worker, 4s window)" "failed (see above)" "stress-ng" "—" "within ±2 pts"
    continue
  fi
  printf "$W" "cpu.stress $load% (1 worker, 4s window)" \
    "$fdl% (own: $self%)" "stress-ng: $sngl%" \
    "$(python3 -c "print(f'{$fdl - $load:+.1f} vs {$sngl - $load:+.1f} pts')")" "within ±2 pts"
  printf '%-46s %-24s %-28s\n' "  waited for a CPU (run queue)" "$fdw%" "$sngw%"
done
if [ -n "$disk_line" ]; then
  echo "$disk_line"
else
  printf "$W" "disk.fill 1GiB on tmpfs (median)" "$disk_fd ms" \
    "fallocate: $disk_fa ms" "$(python3 -c "print(f'{$disk_fd / max($disk_fa, 1):.2f}x')")" "<= 1.5x"
fi
exit "$failed"
