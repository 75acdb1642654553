#!/usr/bin/env bash
# Turns one benchmark run (bench/run.sh) into OUT/latest.md, OUT/latest.tsv
# and the gnuplot PNGs. Can be rerun on a kept latest.tsv:
#   bench/report.sh bench/results/latest.tsv bench/results/latest-notes.tsv \
#     /dev/null bench/results
# RAW lines: scenario case tool metric value; NOTES: scenario case tool
# text, among them "meta run date|commit|elapsed|reps" of the run.
set -uo pipefail

RAW=$1 NOTES=$2 FAILS=$3 OUT=$4
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SOCKIT=${SOCKIT:-$ROOT/build/sockit}
mkdir -p "$OUT"
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT

meta() { awk -F '\t' -v k="$1" '$1 == "meta" && $3 == k {v = $4} END {print v}' "$NOTES"; }
RUN_DATE=$(meta date) COMMIT=$(meta commit) ELAPSED=$(meta elapsed) REPS=$(meta reps)

[ "$RAW" -ef "$OUT/latest.tsv" ] || cp "$RAW" "$OUT/latest.tsv"
[ "$NOTES" -ef "$OUT/latest-notes.tsv" ] || cp "$NOTES" "$OUT/latest-notes.tsv"

# scenario case tool metric -> n median min max
AGG=$TMP/agg.tsv
sort -t "$(printf '\t')" -k1,1 -k2,2 -k3,3 -k4,4 -k5,5g "$RAW" |
  awk -F '\t' -v OFS='\t' '
    function out() {
      m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      print key, n, m, v[1], v[n]
    }
    { k = $1 OFS $2 OFS $3 OFS $4
      if (k != key) { if (n) out(); key = k; n = 0 }
      v[++n] = $5 }
    END { if (n) out() }' >"$AGG"

# g SCENARIO CASE TOOL METRIC [n|med|min|max]: one figure, or empty
g() {
  awk -F '\t' -v s="$1" -v c="$2" -v t="$3" -v m="$4" -v f="${5:-med}" '
    $1 == s && $2 == c && $3 == t && $4 == m {
      print (f == "n" ? $5 : f == "med" ? $6 : f == "min" ? $7 : $8); exit }' "$AGG"
}

# An integer with thousands separators; "–" when there is no figure.
num() {
  [ -z "${1:-}" ] && { printf '–'; return; }
  awk -v x="$1" -v d="${2:-0}" 'BEGIN {
    s = sprintf("%.*f", d, x); i = index(s, "."); frac = ""
    if (i) { frac = substr(s, i); s = substr(s, 1, i - 1) }
    neg = s ~ /^-/; if (neg) s = substr(s, 2)
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    printf "%s%s%s%s", neg ? "-" : "", s, r, frac }'
}
# a / b as "2.31x", or "–"
ratio() {
  if [ -z "${1:-}" ] || [ -z "${2:-}" ]; then printf '–'; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) printf "–"; else printf "%.2fx", a / b}'
}
range() {
  [ -z "${1:-}" ] && { printf '–'; return; }
  printf '%s–%s' "$(num "$1" "${3:-0}")" "$(num "$2" "${3:-0}")"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }

version_of() {
  case $1 in
  nc) dpkg-query -W -f='netcat-openbsd ${Version}' netcat-openbsd 2>/dev/null ;;
  ncat) ncat --version 2>&1 | sed -n 's/^Ncat: \(Version [^ ]*\).*/ncat \1/p' ;;
  socat) socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p' ;;
  iperf3) iperf3 --version 2>/dev/null | head -1 | cut -d' ' -f1-2 ;;
  sockit) "$SOCKIT" --version 2>/dev/null ;;
  esac
}

# the fan-out sizes of this run, measured or failed
FAN_NS=$(awk -F '\t' '$1 == "fanout" {print $2}' "$RAW" "$NOTES" | sort -un)

# ---------------------------------------------------------------- plots
plot_tput() {
  local t i=0 data=$TMP/tput.dat
  for t in zcprobe iperf3 sockit sockit-nosplice nc ncat socat; do
    [ -n "$(g tput file $t mibs)" ] || continue
    printf '%d "%s" %s %s %s\n' $i "$t" "$(g tput file $t mibs)" \
      "$(g tput file $t mibs min)" "$(g tput file $t mibs max)" >>"$data"
    i=$((i + 1))
  done
  [ -s "$data" ] || return 0
  gnuplot <<EOF
set terminal pngcairo size 900,500 font "sans,10"
set output "$OUT/tput.png"
set title "TCP throughput, 1 GiB file from tmpfs to /dev/null over 127.0.0.1 (median, min-max)"
set ylabel "MiB/s"
set style fill solid 0.7 border -1
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:$i - 0.4]
set grid ytics
set xtics rotate by -20
unset key
plot "$data" using 1:3:4:5:(0.3):xtic(2) with boxerrorbars lc rgb "#3572a5", \
     "" using 1:(\$3):(sprintf("%d", \$3)) with labels offset 0,1 notitle
EOF
}

plot_fanout() {
  local srv n data any=0
  for srv in sockit-broker sockit-chat ncat-broker ncat-chat; do
    data=$TMP/fan-$srv.dat
    : >"$data"
    for n in $FAN_NS; do
      [ -n "$(g fanout $n $srv rate)" ] && any=1 &&
        printf '%s %s %s %s\n' $n "$(g fanout $n $srv rate)" \
          "$(g fanout $n $srv rate min)" "$(g fanout $n $srv rate max)" >>"$data"
    done
  done
  [ $any = 1 ] || return 0
  gnuplot <<EOF
set terminal pngcairo size 900,550 font "sans,10"
set output "$OUT/fanout.png"
set title "Broker fan-out: every client sends 64-byte lines (ncat aborts past FD_SETSIZE)" noenhanced
set xlabel "clients"
set ylabel "lines delivered per second"
set logscale xy
set format y "10^{%T}"
set xrange [7:14000]
set grid xtics ytics mxtics mytics
set key top right
$(awk -F '\t' '$1 == "fanout" && $3 ~ /^ncat/ {n = $2} END {if (n) printf "set label \"ncat aborts once it holds ~1,020 clients\\n(FD_SETSIZE 1024; tried with %d)\" at %d, 3e5 center noenhanced tc rgb \"#cc4125\"", n, n}' "$NOTES")
plot "$TMP/fan-sockit-broker.dat" using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb "#3572a5" title "sockit --broker", \
     "$TMP/fan-sockit-chat.dat" using 1:2:3:4 with yerrorlines lw 2 pt 5 lc rgb "#6aa84f" title "sockit --chat", \
     "$TMP/fan-ncat-broker.dat" using 1:2:3:4 with yerrorlines lw 2 pt 9 dt 2 lc rgb "#cc4125" title "ncat --broker", \
     "$TMP/fan-ncat-chat.dat" using 1:2:3:4 with yerrorlines lw 2 pt 11 dt 2 lc rgb "#e69138" title "ncat --chat"
EOF
}

# g, or NaN for gnuplot when there is no figure
gn() { local x; x=$(g "$@"); printf '%s' "${x:-NaN}"; }

# Scenario 9: forwarders side by side, throughput and connections/s.
plot_forward() {
  local t i=0 data=$TMP/forward.dat
  for t in sockit haproxy rinetd socat ncat fwdprobe; do
    [ -n "$(g forward file $t mibs)" ] || [ -n "$(g forward conn64 $t rate)" ] || continue
    printf '%d "%s" %s %s %s %s %s %s\n' $i "$t" \
      "$(gn forward file $t mibs)" "$(gn forward file $t mibs min)" "$(gn forward file $t mibs max)" \
      "$(gn forward conn64 $t rate)" "$(gn forward conn64 $t rate min)" "$(gn forward conn64 $t rate max)" >>"$data"
    i=$((i + 1))
  done
  [ -s "$data" ] || return 0
  gnuplot <<EOF
set terminal pngcairo size 1000,450 font "sans,10"
set output "$OUT/forward.png"
set multiplot layout 1,2 title "Port forwarding over 127.0.0.1 (median, min-max)"
set style fill solid 0.7 border -1
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:$i - 0.4]
set grid ytics
unset key
set title "1 GiB file through the forwarder"
set ylabel "MiB/s"
plot "$data" using 1:3:4:5:(0.3):xtic(2) with boxerrorbars lc rgb "#3572a5"
set title "connections/s, 64 B each way"
set ylabel "connections/s"
plot "$data" using 1:6:7:8:(0.3):xtic(2) with boxerrorbars lc rgb "#6aa84f"
unset multiplot
EOF
}

# ---------------------------------------------------------------- report
{
  echo "# sockit benchmarks: the latest run"
  echo
  echo "Made by \`make bench\` (\`bench/run.sh\`); the method, and how to rerun"
  echo "one scenario, are in [docs/performance.md](../../docs/performance.md)."
  echo "Each figure is the median of the runs (n), with the lowest and highest;"
  echo "the tools took turns, in a rotating order. Ratios are sockit ÷ tool:"
  echo "above 1 is better for sockit (for throughput and rates)."
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| date | ${RUN_DATE:-?} |"
  echo "| sockit | $(version_of sockit), commit ${COMMIT:-?} |"
  echo "| machine | $(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), loopback only |"
  echo "| kernel | $(uname -sr) |"
  echo "| peers | $(version_of nc), $(version_of ncat), $(version_of socat), $(version_of iperf3) |"
  echo "| limits | RLIMIT_NOFILE $(ulimit -Hn), somaxconn $(cat /proc/sys/net/core/somaxconn) |"
  echo "| run | ${REPS:-?} repetitions (throughput: 5 after one not counted; request/response: 7), ${ELAPSED:-?} s in all |"
  echo "| load average | $(meta load) before the run, $(meta load_end) after it (ours included; anything else running on the machine shows here) |"
  echo

  # ---- targets
  sk=$(g tput file sockit mibs)
  nc=$(g tput file nc mibs)
  so=$(g tput file socat mibs)
  ip=$(g tput file iperf3 mibs)
  b1=$(g fanout 1000 sockit-broker rate)
  n1=$(g fanout 1000 ncat-broker rate)
  r10=$(g fanout 10000 sockit-broker rss_per_client_b)
  c10=$(g fanout 10000 sockit-chat rss_per_client_b)
  verdict() { # value goal -> met / NOT met
    if [ -z "$1" ]; then printf 'not measured'; elif ge "$1" "$2"; then printf 'met'; else printf '**NOT met**'; fi
  }
  echo "## Targets"
  echo
  echo "| target | measured | |"
  echo "|---|---|---|"
  rnc=$(awk -v a="${sk:-0}" -v b="${nc:-0}" 'BEGIN {if (b) printf "%.2f", a / b}')
  rso=$(awk -v a="${sk:-0}" -v b="${so:-0}" 'BEGIN {if (b) printf "%.2f", a / b}')
  rip=$(awk -v a="${sk:-0}" -v b="${ip:-0}" 'BEGIN {if (b) printf "%.0f", 100 * a / b}')
  rbr=$(awk -v a="${b1:-0}" -v b="${n1:-0}" 'BEGIN {if (b) printf "%.1f", a / b}')
  echo "| TCP throughput at least 1.5x nc | ${rnc:-–}x ($(num "$sk") vs $(num "$nc") MiB/s) | $(verdict "$rnc" 1.5) |"
  echo "| TCP throughput at least 2x socat | ${rso:-–}x ($(num "$sk") vs $(num "$so") MiB/s) | $(verdict "$rso" 2) |"
  echo "| TCP throughput at least 80% of iperf3 | ${rip:-–}% ($(num "$sk") vs $(num "$ip") MiB/s) | $(verdict "$rip" 80) |"
  echo "| broker at 1,000 clients at least 3x ncat --broker | ${rbr:-–}x ($(num "$b1") vs $(num "$n1") lines/s) | $(verdict "$rbr" 3) |"
  held=""
  [ -n "$r10" ] && held=$(awk -v a="$r10" -v b="${c10:-0}" 'BEGIN {m = a > b ? a : b; print 4096 - m}')
  echo "| 10,000 clients held, at most 4 KiB VmRSS per idle client | --broker $(num "$r10") B, --chat $(num "$c10") B per client | $(verdict "$held" 0) |"
  # issue 11 (bench/tls.sh)
  tsk=$(g tls file sockit mibs) hsk=$(g tls handshake sockit rate)
  for t in ncat:3 socat:2; do
    m=$(g tls file "${t%:*}" mibs)
    x=$(awk -v a="${tsk:-0}" -v b="${m:-0}" 'BEGIN {if (a && b) printf "%.2f", a / b}')
    echo "| TLS throughput at least ${t#*:}x ${t%:*} | ${x:-–}x ($(num "$tsk") vs $(num "$m") MiB/s) | $(verdict "$x" "${t#*:}") |"
  done
  m=$(g tls handshake stunnel4 rate)
  x=$(awk -v a="${hsk:-0}" -v b="${m:-0}" 'BEGIN {if (a && b) printf "%.2f", a / b}')
  echo "| TLS handshakes per second at least stunnel4's | ${x:-–}x ($(num "$hsk") vs $(num "$m")/s) | $(verdict "$x" 1) |"
  m=$(g tls idle10000 sockit rss_per_client_b)
  x=$([ -n "$m" ] && awk -v a="$m" 'BEGIN {print 49152 - a}')
  echo "| an idle TLS chat client at most 48 KiB (10,000 clients) | $(num "$m") B per client | $(verdict "$x" 0) |"
  echo

  # ---- 1. throughput
  if [ -n "$sk" ]; then
    plot_tput
    echo "## 1. TCP throughput"
    echo
    echo "A 1 GiB file of random bytes on /dev/shm, sent by a client to a"
    echo "listener on 127.0.0.1 that writes to /dev/null; MiB/s over the wall"
    echo "time from starting the client until both ends have exited; CPU is"
    echo "user + system seconds of both processes. iperf3 sends from memory"
    echo "(\`-n 1G\`); zcprobe (bench/zcprobe.c) is sendfile + splice and"
    echo "nothing else, the reference for what this machine can do. socat runs"
    echo "with its default \`-b 8192\`."
    echo
    echo "![TCP throughput](tput.png)"
    echo
    echo "| tool | MiB/s | min–max | CPU s, both ends | sender / receiver CPU s | sockit ÷ tool | n |"
    echo "|---|--:|--:|--:|--:|--:|--:|"
    for t in sockit sockit-nosplice nc ncat socat iperf3 zcprobe; do
      m=$(g tput file $t mibs)
      [ -n "$m" ] || continue
      label=$t
      [ $t = sockit-nosplice ] && label="sockit --no-splice"
      [ $t = socat ] && label="socat (-b 8192)"
      echo "| $label | $(num "$m") | $(range "$(g tput file $t mibs min)" "$(g tput file $t mibs max)") | $(num "$(g tput file $t cpu_s)" 2) | $(num "$(g tput file $t send_cpu_s)" 2) / $(num "$(g tput file $t recv_cpu_s)" 2) | $([ $t = sockit ] && echo – || ratio "$sk" "$m") | $(g tput file $t mibs n) |"
    done
    self=$(g tput file iperf3 self_mibs)
    [ -n "$self" ] && echo && echo "iperf3's own figure (its receiver, without process start and control exchange): $(num "$self") MiB/s."
    echo
  fi

  # ---- 2. request/response
  if [ -n "$(g rr 64B direct rate)$(g rr 64B sockit rate)" ]; then
    skr=$(g rr 64B sockit rate)
    echo "## 2. TCP request/response"
    echo
    echo "64 bytes, then wait for the same 64 bytes back, one at a time, for"
    echo "1 s, 7 times: \`loadgen rr\` -> TOOL -l -> fifo -> TOOL (client) -> \`loadgen echo\`,"
    echo "and back the same way: the netcat relay idiom, identical for each"
    echo "tool. *direct* is the client on the echo server, no relay; *socat"
    echo "native* is \`socat TCP-LISTEN TCP\`, one process."
    echo
    echo "| path | round trips/s | min–max | p50 µs | p99 µs | sockit ÷ tool | n |"
    echo "|---|--:|--:|--:|--:|--:|--:|"
    for t in direct sockit sockit-nosplice nc ncat socat socat-native; do
      m=$(g rr 64B $t rate)
      [ -n "$m" ] || continue
      label=$t
      [ $t = sockit-nosplice ] && label="sockit --no-splice"
      [ $t = socat-native ] && label="socat native"
      rt=$(ratio "$skr" "$m")
      [ $t = sockit ] || [ $t = direct ] && rt=–
      echo "| $label | $(num "$m") | $(range "$(g rr 64B $t rate min)" "$(g rr 64B $t rate max)") | $(num "$(g rr 64B $t p50_us)" 1) | $(num "$(g rr 64B $t p99_us)" 1) | $rt | $(g rr 64B $t rate n) |"
    done
    echo
  fi

  # ---- 3. UDP
  if [ -n "$(awk -F '\t' '$1 == "udp"' "$AGG")" ]; then
    echo "## 3. UDP"
    echo
    echo "\`loadgen udp\` sends datagrams to TOOL -u -l (receive only), whose"
    echo "stdout is counted by \`loadgen sink\`: *max* sends 1,000,000 (64 B) or"
    echo "300,000 (1400 B) as fast as one sender can (sendmmsg), *paced* sends"
    echo "100,000 at 100,000/s. Received/s is counted from the first to the"
    echo "last byte out of the tool; loss is 1 - received ÷ sent. socat"
    echo "receives with \`UDP-RECV\`, nc with \`-u -l -d\`, sockit with"
    echo "\`-u -l --recv-only\`."
    echo
    echo "| size | sender | tool | sent/s | received/s | min–max | loss % | sockit ÷ tool | n |"
    echo "|---|---|---|--:|--:|--:|--:|--:|--:|"
    for c in 64B-max 64B-paced 1400B-max 1400B-paced; do
      skr=$(g udp $c sockit rate)
      for t in sockit nc socat; do
        m=$(g udp $c $t rate)
        [ -n "$m" ] || continue
        echo "| ${c%-*} | ${c#*-} | $t | $(num "$(g udp $c $t sent_rate)") | $(num "$m") | $(range "$(g udp $c $t rate min)" "$(g udp $c $t rate max)") | $(num "$(g udp $c $t loss_pct)" 1) | $([ $t = sockit ] && echo – || ratio "$skr" "$m") | $(g udp $c $t rate n) |"
      done
    done
    echo
  fi

  # ---- 4. fan-out
  if [ -n "$(awk -F '\t' '$1 == "fanout"' "$AGG")" ]; then
    plot_fanout
    echo "## 4. Broker fan-out"
    echo
    echo "\`loadgen fanout\` connects N clients (never more than 8 ahead of the"
    echo "server's accept), waits until the server holds them all and is"
    echo "quiet; then the clients send in turn, one 64-byte line per write,"
    echo "while at most max(65,536, 64 x (N-1)) deliveries are owed; 1 s"
    echo "warm-up, 3 s measured. A delivery is one line received by one"
    echo "client. ncat runs with \`-m 20000\` (its default is 100). Chat rooms"
    echo "of 5,000 and more are run once (joining takes up to a minute)."
    echo
    echo "![fan-out](fanout.png)"
    echo
    echo "| clients | sockit --broker | ncat --broker | sockit ÷ ncat | sockit --chat | ncat --chat | sockit ÷ ncat |"
    echo "|--:|--:|--:|--:|--:|--:|--:|"
    for n in $FAN_NS; do
      sb=$(g fanout $n sockit-broker rate) nb=$(g fanout $n ncat-broker rate)
      sc=$(g fanout $n sockit-chat rate) nch=$(g fanout $n ncat-chat rate)
      [ -n "$sb$nb$sc$nch" ] || [ -n "$(awk -F '\t' -v n=$n '$1 == "fanout" && $2 == n' "$NOTES")" ] || continue
      cell() { # median (n) or failed
        local v
        v=$(g fanout "$1" "$2" rate)
        if [ -n "$v" ]; then
          printf '%s (%s)' "$(num "$v")" "$(g fanout "$1" "$2" rate n)"
        elif awk -F '\t' -v n="$1" -v s="$2" '$1 == "fanout" && $2 == n && $3 == s {f = 1} END {exit !f}' "$NOTES"; then
          printf 'failed'
        elif awk -F '\t' -v n="$1" -v s="$2" '$1 == "fanout" && $2 < n && $3 == s {f = 1} END {exit !f}' "$NOTES"; then
          printf 'not run'
        else
          printf '–'
        fi
      }
      echo "| $(num $n) | $(cell $n sockit-broker) | $(cell $n ncat-broker) | $(ratio "$sb" "$nb") | $(cell $n sockit-chat) | $(cell $n ncat-chat) | $(ratio "$sc" "$nch") |"
    done
    echo
    echo "Lines delivered per second, median (runs). Server and load generator"
    echo "CPU (cores busy during the measured seconds):"
    echo
    echo "| clients | sockit --broker | ncat --broker | sockit --chat | ncat --chat |"
    echo "|--:|--:|--:|--:|--:|"
    for n in $FAN_NS; do
      row=""
      for srv in sockit-broker ncat-broker sockit-chat ncat-chat; do
        v=$(g fanout $n $srv server_cpu)
        if [ -n "$v" ]; then
          row+=" | $(num "$v" 2) / $(num "$(g fanout $n $srv loadgen_cpu)" 2)"
        else
          row+=" | –"
        fi
      done
      [ "$row" = " | – | – | – | –" ] && continue
      echo "| $(num $n)$row |"
    done
    echo
    lost=$(awk -F '\t' '$1 == "fanout" && $4 == "lost" {n++; s += $5} END {if (n) print s}' "$RAW")
    dropped=$(awk -F '\t' '$1 == "fanout" && $4 == "dropped" {s += $5} END {print s + 0}' "$RAW")
    if [ -n "$lost" ]; then
      echo "Lines owed but never delivered, all runs together (each run waits"
      echo "up to 3 s after the measured seconds for the last ones): $(num "$lost");"
      echo "clients a server dropped: $(num "$dropped")."
      echo
    fi
    echo "### Memory per idle client"
    echo
    echo "VmRSS of the server after all N clients are connected and quiet,"
    echo "minus VmRSS before the first one, divided by N (the kernel's socket"
    echo "buffers are not in VmRSS). Median of the runs above. VmRSS grows by"
    echo "whole 4 KiB pages, so with 10 or 100 clients a page or two of the"
    echo "allocator's make up most of the figure."
    echo
    echo "| clients | sockit --broker | sockit --chat | ncat --broker | ncat --chat |"
    echo "|--:|--:|--:|--:|--:|"
    for n in $FAN_NS; do
      row=""
      for srv in sockit-broker sockit-chat ncat-broker ncat-chat; do
        v=$(g fanout $n $srv rss_per_client_b)
        row+=" | $([ -n "$v" ] && printf '%s B' "$(num "$v")" || printf '–')"
      done
      [ "$row" = " | – | – | – | –" ] && continue
      echo "| $(num $n)$row |"
    done
    echo
    echo "Connecting (s, median), which for --chat includes announcing every"
    echo "join to everybody already there:"
    echo
    echo "| clients | sockit --broker | ncat --broker | sockit --chat | ncat --chat |"
    echo "|--:|--:|--:|--:|--:|"
    for n in $FAN_NS; do
      row=""
      for srv in sockit-broker ncat-broker sockit-chat ncat-chat; do
        v=$(g fanout $n $srv connect_s)
        row+=" | $([ -n "$v" ] && num "$v" 2 || printf '–')"
      done
      [ "$row" = " | – | – | – | –" ] && continue
      echo "| $(num $n)$row |"
    done
    echo
    if awk -F '\t' '$1 == "fanout" {f = 1} END {exit !f}' "$NOTES"; then
      echo "### How the failed runs failed"
      echo
      awk -F '\t' '$1 == "fanout" {printf "- %s, %s clients: %s\n", $3, $2, $4}' "$NOTES"
      echo
      echo "A server that failed at N clients is not run at more."
      echo
    fi
  fi

  # ---- 5. connection rate
  if [ -n "$(g connrate c4 sockit rate)$(g connrate c4 ncat rate)" ]; then
    skc=$(g connrate c4 sockit rate)
    echo "## 5. Connection rate"
    echo
    echo "\`loadgen connrate\`: 4 connections at a time, each one connected,"
    echo "half-closed by the client, closed by the server once it read the"
    echo "EOF, for 3 s. Waiting for the server's close makes the figure the"
    echo "server's, not the kernel's accept queue's. Servers: \`sockit -k -l"
    echo "--recv-only\`, \`ncat -k -l --recv-only -m 10000\`, \`socat -u"
    echo "TCP-LISTEN:P,fork STDOUT\`. Server CPU includes socat's children."
    echo "Near $(awk '{printf "%d", ($2 - $1 + 1) / 2}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)/s the client is the limit:"
    echo "connect() on one address pair takes even local ports and reuses one"
    echo "only a second after its TIME_WAIT began (tcp_tw_reuse on loopback);"
    echo "there the server CPU per connection tells the servers apart."
    echo
    echo "| server | connections/s | min–max | server CPU µs per connection | p50 µs | p99 µs | sockit ÷ tool | n |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|"
    for t in sockit ncat socat; do
      m=$(g connrate c4 $t rate)
      [ -n "$m" ] || continue
      echo "| $t | $(num "$m") | $(range "$(g connrate c4 $t rate min)" "$(g connrate c4 $t rate max)") | $(num "$(g connrate c4 $t cpu_us_per_conn)" 1) | $(num "$(g connrate c4 $t p50_us)") | $(num "$(g connrate c4 $t p99_us)") | $([ $t = sockit ] && echo – || ratio "$skc" "$m") | $(g connrate c4 $t rate n) |"
    done
    echo
  fi

  # ---- 5b. chat join storm
  if [ -n "$(g joinstorm 1000 sockit-chat first_line_s)" ]; then
    echo "## 5b. Chat join storm"
    echo
    echo "\`loadgen joinstorm\`: N clients connect to a chat server at once"
    echo "(no pacing); when every one has its welcome line, the last sends"
    echo "one line. Seconds from the first connect until all were welcomed,"
    echo "and until that line reached every other client. Target (issue"
    echo "12): 10,000 clients within 2 s."
    echo
    echo "| server | clients | all joined, s | first line everywhere, s | min–max | n |"
    echo "|---|--:|--:|--:|--:|--:|"
    for n in 1000 10000; do
      for t in sockit-chat; do
        m=$(g joinstorm $n $t first_line_s)
        [ -n "$m" ] || continue
        echo "| $t | $(num $n) | $(num "$(g joinstorm $n $t joined_s)" 2) | $(num "$m" 2) | $(range "$(g joinstorm $n $t first_line_s min)" "$(g joinstorm $n $t first_line_s max)" 2) | $(g joinstorm $n $t first_line_s n) |"
      done
    done
    echo
  fi

  # ---- 5d. the chat in a browser (WebSocket) against its TCP side
  if [ -n "$(awk -F '\t' '$1 == "web"' "$AGG")" ]; then
    echo "## 5d. Chat over WebSocket (--web) against TCP"
    echo
    echo "\`bench/web.py\`: N idle clients of one \`sockit --chat -l --web\`"
    echo "server, all WebSocket or all TCP, then the same with \`--ssl\`"
    echo "(tls: the chat port, wss: the web port); VmRSS per idle client, then"
    echo "every client receiving a burst of 64-byte lines (deliveries/s; the"
    echo "Python WebSocket client limits the WebSocket figure as much as the"
    echo "server does)."
    echo
    echo "| side | clients | VmRSS per idle client, B | deliveries/s | n |"
    echo "|---|--:|--:|--:|--:|"
    for n in $(awk -F '\t' '$1 == "web" {print $2}' "$AGG" | sort -un); do
      for t in tcp websocket tls wss; do
        m=$(g web $n $t rate)
        [ -n "$m" ] || continue
        echo "| $t | $(num $n) | $(num "$(g web $n $t rss_per_client_b)") | $(num "$m") | $(g web $n $t rate n) |"
      done
    done
    echo
  fi

  # ---- 5c. federation through Redis
  if [ -n "$(awk -F '\t' '$1 == "federate"' "$AGG")" ]; then
    echo "## 5c. Chat federation through Redis"
    echo
    echo "N clients all in #lobby: dealt over three chat servers federated"
    echo "through one redis-server, or all on one server. *Saturated*: every"
    echo "client sends while 1,000 lines are owed to each (\`loadgen fanout"
    echo "--also --window\`): deliveries/s end to end, and Redis's CPU then."
    echo "*Offered*: open-loop loads below saturation, one run for each rate"
    echo "of a sweep going up on the same servers: lines/s from all the clients"
    echo "(\`--rate\`) plus 10 probe lines/s; deliveries/s then (each line goes"
    echo "to every client), and the latency of a probe line from a client on A"
    echo "to clients on B and C (\`loadgen lat\`; on one server, to two other"
    echo "clients of it), 150 probes. The probe's receivers join last, and a"
    echo "pass writes members in join order, so they are among the last a line"
    echo "reaches (a member the pass had written before the line came gets it"
    echo "in the next pass, after a gathering wait of a few ms when passes"
    echo "carry several lines). Target (issue 13): three"
    echo "servers at least one server's saturated rate, p99 under 50 ms."
    echo
    echo "| shape | clients | saturated deliveries/s | min–max | Redis CPU (cores) | n |"
    echo "|---|--:|--:|--:|--:|--:|"
    for t in sockit-chat-three sockit-chat-one; do
      for c in $(awk -F '\t' -v t=$t '$1 == "federate" && $3 == t && $2 !~ /@/ {print $2}' "$AGG" | sort -u); do
        echo "| $t | $(num $c) | $(num "$(g federate $c $t rate)") | $(range "$(g federate $c $t rate min)" "$(g federate $c $t rate max)") | $(num "$(g federate $c $t redis_cpu)" 2) | $(g federate $c $t rate n) |"
      done
    done
    echo
    echo "| shape | clients | offered lines/s | deliveries/s then | p50 ms | p99 ms | p99 min–max | n |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|"
    FED_BEST=()
    for t in sockit-chat-three sockit-chat-one; do
      best="" held=1
      for c in $(awk -F '\t' -v t=$t '$1 == "federate" && $3 == t && $2 ~ /@/ {print $2}' "$AGG" | sort -t @ -k1,1n -k2,2n -u); do
        p99=$(g federate "$c" $t p99_ms)
        echo "| $t | $(num "${c%@*}") | $(num "${c#*@}") | $(num "$(g federate "$c" $t paced_rate)") | $(num "$(g federate "$c" $t p50_ms)" 2) | $(num "$p99" 2) | $(range "$(g federate "$c" $t p99_ms min)" "$(g federate "$c" $t p99_ms max)" 2) | $(g federate "$c" $t p99_ms n) |"
        # the highest rate with p99 under 50 ms and at every rate below it
        if [ $held = 1 ] && [ -n "$p99" ] && awk -v x="$p99" 'BEGIN {exit !(x < 50)}'; then
          best="$(num "${c#*@}") lines/s offered to $(num "${c%@*}") clients"
        else
          held=0
        fi
      done
      [ -n "$(awk -F '\t' -v t=$t '$1 == "federate" && $3 == t && $2 ~ /@/' "$AGG")" ] &&
        FED_BEST+=("- $t: median p99 under 50 ms $([ -n "$best" ] && echo "up to $best" || echo "at none of the rates offered, not even the lowest")")
    done
    echo
    printf '%s\n' "${FED_BEST[@]}"
    echo
  fi

  # ---- 7. ping -f and 8. the UDP target (bench/ping.sh)
  if [ -n "$(awk -F '\t' '$1 == "ping"' "$AGG")" ]; then
    echo "## 7. ping -f"
    echo
    echo "\`TOOL ping -f -q -c 100000\` on loopback (root): replies per second"
    echo "over the wall time of the whole run, sockit against iputils ping."
    echo
    echo "| host | tool | replies/s | min–max | loss % | sockit ÷ iputils | n |"
    echo "|---|---|--:|--:|--:|--:|--:|"
    for c in flood-v4 flood-v6; do
      skr=$(g ping $c sockit rate)
      for t in sockit iputils; do
        m=$(g ping $c $t rate)
        [ -n "$m" ] || continue
        echo "| ${c#flood-} | $t | $(num "$m") | $(range "$(g ping $c $t rate min)" "$(g ping $c $t rate max)") | $(num "$(g ping $c $t loss_pct)" 1) | $([ $t = sockit ] && echo – || ratio "$skr" "$m") | $(g ping $c $t rate n) |"
      done
    done
    echo
  fi
  if [ -n "$(awk -F '\t' '$1 == "udptarget"' "$AGG")" ]; then
    echo "## 8. UDP target: 1,000,000 × 64 B into TOOL -u -l"
    echo
    echo "One sender at its full rate (sendmmsg); the loss is the rise of the"
    echo "kernel's Udp RcvbufErrors (/proc/net/snmp) over the run, so it counts"
    echo "what the receiving socket could not take, whatever the tool says."
    echo "The counter is the namespace's: anything else dropping UDP meanwhile"
    echo "counts too. *devnull*: the tool writes to /dev/null (scenario 8);"
    echo "*pipe*: to a pipe read by \`loadgen sink\` (the 64 B max runs of"
    echo "scenario 3). Target (issue 14): sockit loses at most 1% in both."
    echo
    echo "| output | tool | kernel drops % | min–max | target ≤ 1% | n |"
    echo "|---|---|--:|--:|---|--:|"
    for c in 64B-devnull 64B-pipe; do
      for t in sockit nc socat; do
        m=$(g udptarget $c $t kernel_drop_pct)
        [ -n "$m" ] || continue
        ok=–
        [ $t = sockit ] && { ge 1 "$m" && ok=met || ok="**not met**"; }
        echo "| ${c#64B-} | $t | $(num "$m" 2) | $(range "$(g udptarget $c $t kernel_drop_pct min)" "$(g udptarget $c $t kernel_drop_pct max)" 2) | $ok | $(g udptarget $c $t kernel_drop_pct n) |"
      done
    done
    echo
  fi

  # ---- 9. port forwarding (bench/forward.sh)
  if [ -n "$(awk -F '\t' '$1 == "forward"' "$AGG")" ]; then
    plot_forward
    echo "## 9. Port forwarding"
    echo
    echo "Each forwarder listens on 127.0.0.1 and connects to a target on"
    echo "127.0.0.1, started fresh for each run: \`sockit -l --to\`, \`socat"
    echo "TCP-LISTEN,fork,reuseaddr,backlog=4096 TCP:...\`, haproxy (mode tcp, \`-db\`), rinetd"
    echo "(\`-f\`) and \`ncat -l -k --sh-exec \"ncat ...\"\`. *file*: a 1 GiB file"
    echo "sent by zcprobe (sendfile) through the forwarder to zcprobe (splice to"
    echo "/dev/null), MiB/s from starting the sender to the receiver's exit;"
    echo "CPU is the forwarder's (children included). *conn64*: loadgen"
    echo "connrate -s 64 against loadgen echo behind the forwarder: connect,"
    echo "64 B, wait for the 64 B echo, half-close, wait for the close; 4 at"
    echo "a time. Target (issue 10): throughput at least 1.5x haproxy and 2x"
    echo "socat; connection rate at least haproxy's and 5x socat's. fwdprobe"
    echo "(bench/fwdprobe.c) is this machine's limit for conn64, as zcprobe is"
    echo "for bytes: a correct forwarder doing the least per connection (one"
    echo "edge-triggered epoll registration per socket, read/write, FIN passed"
    echo "on, close when both ways ended), on the same two cores as loadgen."
    echo "rinetd closes both ways at the client's FIN, dropping what the"
    echo "target still sends: a round trip less than a correct forwarder."
    echo
    echo "![port forwarding](forward.png)"
    echo
    fsk=$(g forward file sockit mibs) csk=$(g forward conn64 sockit rate)
    fwd_goal() { # ratio goal
      if [ -z "$1" ]; then printf 'not measured'; elif ge "$1" "$2"; then printf 'met'; else printf '**NOT met**'; fi
    }
    rr() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN {if (a && b) printf "%.2f", a / b}'; }
    echo "| target | measured | |"
    echo "|---|---|---|"
    x=$(rr "$fsk" "$(g forward file haproxy mibs)")
    echo "| throughput at least 1.5x haproxy | ${x:+${x}x} | $(fwd_goal "$x" 1.5) |"
    x=$(rr "$fsk" "$(g forward file socat mibs)")
    echo "| throughput at least 2x socat | ${x:+${x}x} | $(fwd_goal "$x" 2) |"
    x=$(rr "$csk" "$(g forward conn64 haproxy rate)")
    echo "| connection rate at least haproxy's | ${x:+${x}x} | $(fwd_goal "$x" 1) |"
    x=$(rr "$csk" "$(g forward conn64 socat rate)")
    echo "| connection rate at least 5x socat's | ${x:+${x}x} | $(fwd_goal "$x" 5) |"
    x=$(rr "$(g forward conn64 fwdprobe rate)" "$(g forward conn64 socat rate)")
    echo "| *the limit: fwdprobe ÷ socat* | ${x:+${x}x} | $(fwd_goal "$x" 5) for any forwarder here |"
    x=$(rr "$csk" "$(g forward conn64 fwdprobe rate)")
    echo "| *sockit ÷ fwdprobe* | ${x:+${x}x} | |"
    echo
    echo "| tool | MiB/s | min–max | forwarder CPU s | sockit ÷ tool | n |"
    echo "|---|--:|--:|--:|--:|--:|"
    for t in sockit haproxy rinetd socat ncat; do
      m=$(g forward file $t mibs)
      [ -n "$m" ] || { [ $t = sockit ] && echo "| sockit | – | – | – | – | 0 |"; continue; }
      echo "| $t | $(num "$m") | $(range "$(g forward file $t mibs min)" "$(g forward file $t mibs max)") | $(num "$(g forward file $t fwd_cpu_s)" 2) | $([ $t = sockit ] && echo – || ratio "$fsk" "$m") | $(g forward file $t mibs n) |"
    done
    echo
    echo "| tool | connections/s | min–max | CPU µs/conn | p50 µs | p99 µs | sockit ÷ tool | n |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|"
    for t in sockit haproxy rinetd socat ncat fwdprobe; do
      m=$(g forward conn64 $t rate)
      [ -n "$m" ] || { [ $t = sockit ] && echo "| sockit | – | – | – | – | – | – | 0 |"; continue; }
      echo "| $t | $(num "$m") | $(range "$(g forward conn64 $t rate min)" "$(g forward conn64 $t rate max)") | $(num "$(g forward conn64 $t cpu_us_per_conn)" 1) | $(num "$(g forward conn64 $t p50_us)") | $(num "$(g forward conn64 $t p99_us)") | $([ $t = sockit ] && echo – || ratio "$csk" "$m") | $(g forward conn64 $t rate n) |"
    done
    echo
    if [ -n "$(g forward conn64_c16 sockit rate)" ]; then
      echo "Connections/s by how many are under way at once (4 is the table"
      echo "above); socat forks a process per connection, and its rate is at"
      echo "its best near 4:"
      echo
      echo "| at once | sockit | fwdprobe | socat | sockit ÷ socat | fwdprobe ÷ socat | sockit ÷ fwdprobe |"
      echo "|--:|--:|--:|--:|--:|--:|--:|"
      for c in 1 4 16; do
        k=conn64_c$c
        [ $c = 4 ] && k=conn64
        a=$(g forward $k sockit rate) b=$(g forward $k fwdprobe rate) z=$(g forward $k socat rate)
        echo "| $c | $(num "$a") | $(num "$b") | $(num "$z") | $(ratio "$a" "$z") | $(ratio "$b" "$z") | $(ratio "$a" "$b") |"
      done
      echo
    fi
    if [ -n "$(g forward syscalls_c1 sockit all)" ]; then
      echo "What sockit does per connection that fwdprobe does not: system"
      echo "calls per forwarded connection (perf stat on the syscalls"
      echo "tracepoints, one run each, divided by its connections). The extra"
      echo "epoll_ctl and ioctl are libuv's uv_poll (docs/design.md, \"The call"
      echo "budget of a forwarded connection\"); at 1 under way they are on"
      echo "every connection's path, at 4 the cores are shared with loadgen"
      echo "and they cost no rate:"
      echo
      echo "| system call | sockit, 1 | fwdprobe, 1 | sockit, 4 | fwdprobe, 4 |"
      echo "|---|--:|--:|--:|--:|"
      for sc in all accept4 socket connect getpeername epoll_wait epoll_ctl ioctl splice read write shutdown close; do
        a=$(g forward syscalls_c1 sockit $sc) b=$(g forward syscalls_c1 fwdprobe $sc)
        c=$(g forward syscalls_c4 sockit $sc) d=$(g forward syscalls_c4 fwdprobe $sc)
        ge "${a:-0}" 0.01 || ge "${b:-0}" 0.01 || ge "${c:-0}" 0.01 || ge "${d:-0}" 0.01 || continue
        echo "| $sc | $(num "$a" 2) | $(num "$b" 2) | $(num "$c" 2) | $(num "$d" 2) |"
      done
      echo
    fi
  fi

  # ---- 10. TLS throughput (bench/tls.sh)
  if [ -n "$(awk -F '\t' '$1 == "tls"' "$AGG")" ]; then
    echo "## 10. TLS throughput: 1 GiB through TOOL over TLS"
    echo
    echo "From /dev/shm, client -> TLS -> listener -> /dev/null on loopback, one"
    echo "certificate (EC P-256) for all; stunnel4 is a pair (nc -> stunnel"
    echo "client -> TLS -> stunnel server -> nc), ncat's listener sends (its"
    echo "client loses the end of a file it sends). All take OpenSSL 3's"
    echo "defaults. Targets (issue 11): sockit >= 3x ncat, >= 2x socat."
    nego=$(awk -F '\t' '$1 == "tls" && $3 == "sockit" {v = $4} END {print v}' "$NOTES")
    [ -n "$nego" ] && echo "sockit -v: $nego."
    echo
    echo "CPU: user and system seconds of every process that carried the"
    echo "bytes (both ends; stunnel4's two proxies and nc ends), per GiB:"
    echo "less is better, and it moves less than MiB/s with the machine's load."
    echo
    echo "| tool | MiB/s | min–max | sockit is | target | CPU s per GiB | min–max | n |"
    echo "|---|--:|--:|--:|---|--:|--:|--:|"
    skt=$(g tls file sockit mibs)
    for t in sockit ncat socat stunnel4; do
      m=$(g tls file $t mibs)
      [ -n "$m" ] || continue
      tgt=–
      case $t in
      ncat) ge "$skt" "$(awk -v m="$m" 'BEGIN {print 3 * m}')" && tgt="3x: met" || tgt="3x: **not met**" ;;
      socat) ge "$skt" "$(awk -v m="$m" 'BEGIN {print 2 * m}')" && tgt="2x: met" || tgt="2x: **not met**" ;;
      esac
      echo "| $t | $(num "$m") | $(range "$(g tls file $t mibs min)" "$(g tls file $t mibs max)") | $([ $t = sockit ] && echo – || ratio "$skt" "$m") | $tgt | $(num "$(g tls file $t cpu_s_per_gib)" 2) | $(range "$(g tls file $t cpu_s_per_gib min)" "$(g tls file $t cpu_s_per_gib max)" 2) | $(g tls file $t mibs n) |"
    done
    for a in aes-128-gcm aes-256-gcm; do
      m=$(g tls cipher "$a" mibs)
      [ -n "$m" ] && echo "| cipher limit, one core: \`openssl speed -evp $a\` (16 KiB) | $(num "$m") | | $(ratio "$skt" "$m") | | | | 1 |"
    done
    echo
  fi

  # ---- 10b. TLS handshakes per second, idle TLS chat clients
  if [ -n "$(g tls handshake sockit rate)" ]; then
    echo "## 10b. TLS handshakes per second on a listener that keeps listening"
    echo
    echo "\`openssl s_time -new\`: a full handshake per connection (TLS 1.3,"
    echo "X25519, the EC P-256 certificate of 10), one connection at a time,"
    echo "then close; the client's CPU shares the machine. sockit -k --ssl,"
    echo "ncat -l -k --ssl, socat OPENSSL-LISTEN,fork (a process per"
    echo "connection), stunnel4 in front of an echo server. Target (issue"
    echo "11): at least stunnel's."
    echo
    nego=$(awk -F '\t' '$1 == "tls" && $2 == "handshake" {printf "%s%s %s", (n++ ? "; " : ""), $3, substr($4, 13)}' "$NOTES")
    [ -n "$nego" ] && echo "Negotiated with OpenSSL's default client: $nego." && echo
    echo "Server CPU: the listener's (and its reaped children's) CPU time"
    echo "during the run, per handshake; less is better, and it moves less"
    echo "than the rate with the load on the machine."
    echo
    echo "| tool | handshakes/s | min–max | sockit is | target | server CPU µs each | min–max | n |"
    echo "|---|--:|--:|--:|---|--:|--:|--:|"
    skt=$(g tls handshake sockit rate)
    for t in sockit ncat socat stunnel4; do
      m=$(g tls handshake $t rate)
      [ -n "$m" ] || continue
      tgt=–
      [ $t = stunnel4 ] && { ge "$skt" "$m" && tgt="1x: met" || tgt="1x: **not met**"; }
      echo "| $t | $(num "$m") | $(range "$(g tls handshake $t rate min)" "$(g tls handshake $t rate max)") | $([ $t = sockit ] && echo – || ratio "$skt" "$m") | $tgt | $(num "$(g tls handshake $t cpu_us)") | $(range "$(g tls handshake $t cpu_us min)" "$(g tls handshake $t cpu_us max)") | $(g tls handshake $t rate n) |"
    done
    echo
  fi
  if [ -n "$(awk -F '\t' '$1 == "tls" && $2 ~ /^(idle|keep)/' "$AGG")" ]; then
    echo "## 10c. VmRSS per idle TLS chat client"
    echo
    echo "sockit --chat -l --ssl; bench/tlsidle.py connects N TLS clients (Python's"
    echo "ssl), waits until all have their welcome and the room is quiet:"
    echo "(VmRSS(N) - VmRSS(0)) / N. Target (issue 11): at most 48 KiB."
    echo
    echo "The -k row: every client sent 64 KiB before going idle, so its"
    echo "record buffers were used and must have been given back."
    echo
    echo "| server | clients | bytes per client | seconds to join all | target |"
    echo "|---|--:|--:|--:|---|"
    for k in idle keep; do
      for c in $(awk -F '\t' -v k="$k" '$1 == "tls" && index($2, k) == 1 {print substr($2, 5)}' "$AGG" | sort -nu); do
        m=$(g tls "$k$c" sockit rss_per_client_b)
        tgt="**not met**"
        ge 49152 "${m:-999999}" && tgt=met
        echo "| $([ $k = idle ] && echo "--chat" || echo "-k, 64 KiB sent") | $(num "$c") | $(num "$m") | $(num "$(g tls "$k$c" sockit join_s)" 1) | 48 KiB: $tgt |"
      done
    done
    echo
  fi

  # ---- where sockit is not ahead: every comparison it loses, listed
  behind=$TMP/behind.md
  : >"$behind"
  lose() { # what sockit-figure peer-figure unit [lower-is-better]
    [ -n "$2" ] && [ -n "$3" ] || return 0
    local worse # how much worse sockit is, in percent of the peer
    if [ -n "${5:-}" ]; then
      worse=$(awk -v a="$2" -v b="$3" 'BEGIN {printf "%.0f", (b > 0 ? 100 * (a - b) / b : 0)}')
    else
      worse=$(awk -v a="$2" -v b="$3" 'BEGIN {printf "%.0f", (b > 0 ? 100 * (b - a) / b : 0)}')
    fi
    [ "$worse" -gt 3 ] || return 0
    printf -- '- %s: sockit %s against %s %s (%s%% %s)\n' "$1" "$(num "$2")" \
      "$(num "$3")" "$4" "$worse" "$([ -n "${5:-}" ] && echo more || echo less)" >>"$behind"
  }
  for t in nc ncat socat iperf3 zcprobe; do
    lose "TCP throughput vs $t" "$(g tput file sockit mibs)" "$(g tput file $t mibs)" MiB/s
  done
  for t in nc ncat socat; do # socat native is another path: one process
    lose "request/response vs $t" "$(g rr 64B sockit rate)" "$(g rr 64B $t rate)" "round trips/s"
    lose "request/response p99 vs $t" "$(g rr 64B sockit p99_us)" "$(g rr 64B $t p99_us)" "µs" lower
  done
  for c in 64B-max 64B-paced 1400B-max 1400B-paced; do
    for t in nc socat; do
      lose "UDP $c vs $t" "$(g udp $c sockit rate)" "$(g udp $c $t rate)" "received/s"
    done
  done
  for c in flood-v4 flood-v6; do
    lose "ping -f $c vs iputils" "$(g ping $c sockit rate)" "$(g ping $c iputils rate)" "replies/s"
  done
  for c in 64B-devnull 64B-pipe; do
    for t in nc socat; do
      lose "UDP kernel drops ($c) vs $t" "$(g udptarget $c sockit kernel_drop_pct)" "$(g udptarget $c $t kernel_drop_pct)" "%" lower
    done
  done
  for n in $FAN_NS; do
    for m in broker chat; do
      lose "fan-out --$m at $n clients vs ncat" "$(g fanout "$n" sockit-$m rate)" "$(g fanout "$n" ncat-$m rate)" "lines/s"
      lose "memory per idle client, --$m at $n clients, vs ncat" "$(g fanout "$n" sockit-$m rss_per_client_b)" "$(g fanout "$n" ncat-$m rss_per_client_b)" "bytes" lower
    done
  done
  for t in ncat socat stunnel4; do
    lose "TLS throughput vs $t" "$(g tls file sockit mibs)" "$(g tls file $t mibs)" MiB/s
    lose "TLS handshakes vs $t" "$(g tls handshake sockit rate)" "$(g tls handshake $t rate)" "handshakes/s"
  done
  for t in ncat socat; do
    lose "connection rate vs $t" "$(g connrate c4 sockit rate)" "$(g connrate c4 $t rate)" "connections/s"
    lose "server CPU per connection vs $t" "$(g connrate c4 sockit cpu_us_per_conn)" "$(g connrate c4 $t cpu_us_per_conn)" "µs" lower
  done
  for t in haproxy rinetd socat ncat; do
    lose "forwarding throughput vs $t" "$(g forward file sockit mibs)" "$(g forward file $t mibs)" MiB/s
  done
  for t in haproxy rinetd socat ncat fwdprobe; do
    lose "forwarding connection rate vs $t" "$(g forward conn64 sockit rate)" "$(g forward conn64 $t rate)" "connections/s"
  done
  for c in 1 16; do
    for t in fwdprobe socat; do
      lose "forwarding connection rate, $c under way, vs $t (section 9's system calls)" \
        "$(g forward conn64_c$c sockit rate)" "$(g forward conn64_c$c $t rate)" "connections/s"
    done
  done
  if [ -s "$behind" ]; then
    echo "## Where sockit is not ahead"
    echo
    echo "Every comparison above that sockit loses by more than 3%, medians"
    echo "against medians; read each with its min–max, which often overlap"
    echo "at this noise."
    echo
    cat "$behind"
    echo
  fi

  # ---- profiles
  if [ -n "$(g profile syscalls_per_conn sockit all)" ] || ls "$OUT"/profile-*.txt >/dev/null 2>&1; then
    echo "## Profiles"
    echo
    echo "From scenario 6 of the same run (alone: \`bench/run.sh --only profile\`),"
    echo "with perf; it runs when perf can record here (linux-perf)."
    echo
    if [ -n "$(g profile syscalls_per_conn sockit all)" ]; then
      echo "System calls per connection under the connection-rate load"
      echo "(perf stat on the syscalls tracepoints, divided by the connections):"
      echo
      echo "| system call | sockit -k | ncat -k |"
      echo "|---|--:|--:|"
      for s in all accept4 accept epoll_wait pselect6 epoll_ctl ioctl fcntl setsockopt read recvfrom shutdown close; do
        a=$(g profile syscalls_per_conn sockit "$s") b=$(g profile syscalls_per_conn ncat "$s")
        ge "${a:-0}" 0.01 || ge "${b:-0}" 0.01 || continue
        echo "| $s | $(num "$a" 2) | $(num "$b" 2) |"
      done
      echo
    fi
    w=$(g profile broker1000_syscalls sockit writev)
    if [ -n "$w" ]; then
      echo "sockit --broker with 1,000 clients sending, one run: $(num "$(g profile broker1000_syscalls sockit deliveries)") lines delivered with"
      echo "$(num "$w") writev, $(num "$(g profile broker1000_syscalls sockit epoll_ctl)") epoll_ctl, $(num "$(g profile broker1000_syscalls sockit read)") read and $(num "$(g profile broker1000_syscalls sockit epoll_wait)") epoll_wait calls."
      echo
    fi
    for f in "$OUT"/profile-*.txt; do
      [ -f "$f" ] || continue
      echo "\`$(basename "$f")\`:"
      echo
      echo '```'
      cat "$f"
      echo '```'
      echo
    done
  fi

  if [ -s "$FAILS" ]; then
    echo "## Failures in this run"
    echo
    sed 's/^/- /' "$FAILS"
    echo
  fi
  if [ -s "$OUT/findings.md" ]; then
    cat "$OUT/findings.md"
  fi
} >"$OUT/latest.md"
