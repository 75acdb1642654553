# shellcheck shell=bash disable=SC2153
# sockit benchmarks, sourced by bench/run.sh: issue 10's port forwarding
# figures. Uses run.sh's helpers (next_port, wait_port, rec, note, say,
# fail, stop, rotate, proc_cpu, kv, need, $LG, $ZC, $SOCKIT, $QUICK,
# $REPS, $LIMIT, $WORK, $CONN_SECS).
#
#   9. forward: every forwarder between the same two ends, in one run,
#      tools taken in turn (rotating order), medians in the report:
#        file   a TPUT_MIB file: zcprobe send -> FORWARDER -> zcprobe recv
#               (sendfile in, splice to /dev/null out: the ends cost
#               nothing, the forwarder is what is measured)
#        conn64 connections per second: loadgen connrate -s 64 (connect,
#               64 B, wait for 64 B back, half-close, wait for the close)
#               -> FORWARDER -> loadgen echo, 4 at a time; then sockit,
#               fwdprobe and socat again at 1 and 16 at a time
#      fwdprobe (bench/fwdprobe.c) is the machine's limit for conn64, as
#      zcprobe is for bytes: the least a correct forwarder does per
#      connection, sharing the two cores with loadgen as every tool does.
#      Forwarders: sockit -l --to, socat TCP-LISTEN,fork, haproxy (mode
#      tcp), rinetd, ncat -k --sh-exec "ncat ...". sockit is never
#      skipped: until `--to` exists its runs fail, loudly.
#      Target (issue 10): throughput >= 1.5x haproxy and >= 2x socat;
#      connection rate >= haproxy's and >= 5x socat's.
#      The forwarder's time in conn64 is ~90 % kernel: its lever is the
#      system calls per connection, budgeted in docs/design.md ("The
#      call budget of a forwarded connection", 28.4). To count them:
#        strace -f -c -p FORWARDER_PID  (or, at full speed, perf stat -p
#        PID -e raw_syscalls:sys_enter) around one loadgen connrate run,
#      divided by its connects=.

FWD_TOOLS=(sockit socat haproxy rinetd ncat)
FWD_CONN_TOOLS=("${FWD_TOOLS[@]}" fwdprobe)
FWD_SWEEP_TOOLS=(sockit fwdprobe socat)
FWD_SWEEP_CONC=(1 16)
# haproxy and rinetd live in /usr/sbin, not in every user's PATH
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin ;; esac

# Starts forwarder TOOL on 127.0.0.1:$2 to 127.0.0.1:$3; sets FPID.
fwd_start() {
  local tool=$1 port=$2 target=$3 cfg cmd=()
  case $tool in
  sockit) cmd=("$SOCKIT" -l --to "127.0.0.1:$target" 127.0.0.1 "$port") ;;
  socat)
    # backlog: socat's default of 5 drops SYNs at 16 under way at once
    cmd=(socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr,backlog=4096"
      "TCP:127.0.0.1:$target") ;;
  haproxy)
    cfg=$WORK/haproxy.cfg
    cat >"$cfg" <<EOF
global
    maxconn 4000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fwd
    bind 127.0.0.1:$port
    default_backend target
backend target
    server t 127.0.0.1:$target
EOF
    cmd=(haproxy -f "$cfg" -db) ;;
  rinetd)
    cfg=$WORK/rinetd.conf
    printf '127.0.0.1 %s 127.0.0.1 %s\n' "$port" "$target" >"$cfg"
    cmd=(rinetd -f -c "$cfg") ;;
  ncat)
    cmd=(ncat -l -k -m 10000 127.0.0.1 "$port"
      --sh-exec "exec ncat 127.0.0.1 $target") ;;
  fwdprobe) cmd=("$FWDP" 127.0.0.1 "$port" 127.0.0.1 "$target") ;;
  esac
  "${cmd[@]}" </dev/null >/dev/null 2>"$WORK/fwd.err" &
  FPID=$!
  PIDS+=("$FPID")
}

# Waits for the forwarder on port; fails (loudly) when it does not listen.
fwd_ready() {
  local tool=$1 what=$2 port=$3
  wait_port "$port" tcp "$FPID" && return 0
  fail "forward $what $tool: the forwarder did not listen: $(head -c 300 "$WORK/fwd.err")"
  stop "$FPID"
  return 1
}

# One file through one forwarder; records MiB/s and the forwarder's CPU.
fwd_file_one() {
  local tool=$1 rep=$2 rpid tport fport t0 t1 c0 c1 rc i
  next_port; tport=$P
  "$LG" run "$WORK/fwdrecv.time" -- "$ZC" recv 127.0.0.1 "$tport" \
    </dev/null >/dev/null 2>"$WORK/fwdrecv.err" &
  rpid=$!
  PIDS+=("$rpid")
  if ! wait_port "$tport" tcp "$rpid"; then
    fail "forward file $tool: the receiver did not listen: $(head -c 200 "$WORK/fwdrecv.err")"
    stop "$rpid"
    return
  fi
  next_port; fport=$P
  fwd_start "$tool" "$fport" "$tport"
  fwd_ready "$tool" file "$fport" || { stop "$rpid"; return; }
  c0=$(proc_cpu "$FPID")
  t0=$EPOCHREALTIME
  timeout -k 2 "$LIMIT" "$ZC" send 127.0.0.1 "$fport" "$FWD_INPUT" \
    >/dev/null 2>"$WORK/fwdsend.err"
  rc=$?
  for ((i = 0; i < 500; i++)); do # the forwarder's last bytes, then FIN
    kill -0 "$rpid" 2>/dev/null || break
    sleep 0.01
  done
  c1=$(proc_cpu "$FPID")
  stop "$FPID"
  if kill -0 "$rpid" 2>/dev/null; then
    stop "$rpid"
    fail "forward file $tool: the receiver saw no end 5 s after the sender (FIN not forwarded?)"
    return
  fi
  wait "$rpid"
  local rr=$?
  if [ $rc != 0 ] || [ $rr != 0 ]; then
    fail "forward file $tool: sender exit $rc: $(head -c 200 "$WORK/fwdsend.err") $(head -c 200 "$WORK/fwdrecv.err")"
    return
  fi
  local want=$((FWD_MIB * 1048576)) got
  got=$(awk '{print $3}' "$WORK/fwdrecv.err")
  if [ "$got" != "$want" ]; then
    fail "forward file $tool: received $got bytes, sent $want"
    return
  fi
  [ -n "${FWD_WARMUP:-}" ] && return
  t1=$(kv end "$(cat "$WORK/fwdrecv.time")")
  local secs mibs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')
  mibs=$(awk -v m="$FWD_MIB" -v s="$secs" 'BEGIN {printf "%.0f", m / s}')
  rec forward file "$tool" mibs "$mibs"
  rec forward file "$tool" fwd_cpu_s "$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.3f", b - a}')"
  say "  forward file $tool #$rep: $mibs MiB/s"
}

# Connections per second through one forwarder, 64 B each way, CONC at
# a time (default 4, recorded as conn64; else as conn64_cCONC).
fwd_conn_one() {
  local tool=$1 rep=$2 conc=${3:-4} epid tport fport line c0 c1 n alive=1
  local what=conn64
  [ "$conc" = 4 ] || what=conn64_c$conc
  next_port; tport=$P
  "$LG" echo 127.0.0.1 "$tport" </dev/null >/dev/null 2>"$WORK/fwdecho.err" &
  epid=$!
  PIDS+=("$epid")
  if ! wait_port "$tport" tcp "$epid"; then
    fail "forward $what $tool: the echo server did not listen: $(head -c 200 "$WORK/fwdecho.err")"
    stop "$epid"
    return
  fi
  next_port; fport=$P
  fwd_start "$tool" "$fport" "$tport"
  fwd_ready "$tool" "$what" "$fport" || { stop "$epid"; return; }
  c0=$(proc_cpu "$FPID")
  line=$(timeout -k 2 30 "$LG" connrate 127.0.0.1 "$fport" -t "$CONN_SECS" \
    -c "$conc" -s 64 2>>"$WORK/fwd.err")
  c1=$(proc_cpu "$FPID")
  kill -0 "$FPID" 2>/dev/null || alive=0
  stop "$FPID" "$epid"
  n=$(kv connects "$line")
  if [ $alive = 0 ] || [ -z "$n" ] || [ "$n" = 0 ] ||
    [ "$(kv failed "$line")" != 0 ]; then
    fail "forward $what $tool: $line (forwarder alive: $alive) $(head -c 200 "$WORK/fwd.err")"
    return
  fi
  rec forward "$what" "$tool" rate "$(kv rate "$line")"
  rec forward "$what" "$tool" p50_us "$(kv p50_us "$line")"
  rec forward "$what" "$tool" p99_us "$(kv p99_us "$line")"
  rec forward "$what" "$tool" cpu_us_per_conn \
    "$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {printf "%.1f", (b - a) * 1e6 / n}')"
  say "  forward $what $tool #$rep: $line"
}

# System calls per forwarded connection, sockit against fwdprobe, at 1
# and 4 under way (perf stat on the syscalls tracepoints, divided by the
# connections): the profile of what sockit does that the limit does not.
FWD_SYSCALLS="accept4 socket connect getpeername epoll_wait epoll_ctl ioctl
splice read write shutdown close"
fwd_syscalls_one() {
  local tool=$1 conc=$2 epid tport fport ppid line n s ev="raw_syscalls:sys_enter"
  for s in $FWD_SYSCALLS; do ev+=",syscalls:sys_enter_$s"; done
  next_port; tport=$P
  "$LG" echo 127.0.0.1 "$tport" </dev/null >/dev/null 2>"$WORK/fwdecho.err" &
  epid=$!
  PIDS+=("$epid")
  wait_port "$tport" tcp "$epid" || { fail "forward syscalls: no echo server"; stop "$epid"; return; }
  next_port; fport=$P
  fwd_start "$tool" "$fport" "$tport"
  fwd_ready "$tool" syscalls "$fport" || { stop "$epid"; return; }
  # a fixed span that holds the whole run: perf stat ignores the SIGINT
  # of a background job
  perf stat -x, -e "$ev" -p "$FPID" -o "$WORK/fstat.$tool" -- \
    sleep "$(awk -v s="$CONN_SECS" 'BEGIN {print s + 0.6}')" 2>/dev/null &
  ppid=$!
  PIDS+=("$ppid")
  sleep 0.3 # perf attached
  line=$(timeout -k 2 30 "$LG" connrate 127.0.0.1 "$fport" -t "$CONN_SECS" \
    -c "$conc" -s 64 2>>"$WORK/fwd.err")
  wait "$ppid"
  stop "$FPID" "$epid"
  n=$(kv connects "$line")
  [ -n "$n" ] && [ "$n" -gt 0 ] || { fail "forward syscalls $tool: $line"; return; }
  rec_syscalls_per_conn "$WORK/fstat.$tool" "$n" forward "syscalls_c$conc" "$tool"
}

scenario_forward() {
  need socat haproxy rinetd ncat
  FWD_MIB=$([ "$QUICK" = 1 ] && echo 16 || echo 1024)
  say "[9] port forwarding: $FWD_MIB MiB through, and connections/s (64 B each way)"
  note forward file haproxy "$(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3)"
  FWD_INPUT=$WORK/fwd.input
  head -c "$((FWD_MIB * 1048576))" /dev/urandom >"$FWD_INPUT" ||
    { fail "forward: cannot write $FWD_INPUT"; return; }
  local rep tool reps=$REPS
  if [ "$QUICK" = 0 ]; then
    [ "$reps" -lt 5 ] && reps=5 # a transfer takes a second or two
    FWD_WARMUP=1 fwd_file_one haproxy 0
  fi
  for ((rep = 0; rep < reps; rep++)); do
    for tool in $(rotate $rep "${FWD_TOOLS[@]}"); do
      fwd_file_one "$tool" $((rep + 1))
    done
  done
  rm -f "$FWD_INPUT"
  for ((rep = 0; rep < REPS; rep++)); do
    for tool in $(rotate $rep "${FWD_CONN_TOOLS[@]}"); do
      fwd_conn_one "$tool" $((rep + 1))
    done
  done
  local conc
  if perf_works; then
    for conc in 1 4; do
      fwd_syscalls_one sockit $conc
      fwd_syscalls_one fwdprobe $conc
    done
  else
    say "  forward syscalls: perf cannot count here (install linux-perf); skipped"
  fi
  for conc in "${FWD_SWEEP_CONC[@]}"; do
    for ((rep = 0; rep < REPS; rep++)); do
      for tool in $(rotate $rep "${FWD_SWEEP_TOOLS[@]}"); do
        fwd_conn_one "$tool" $((rep + 1)) "$conc"
      done
    done
  done
}
