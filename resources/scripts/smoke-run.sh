# smoke-run: times a server's model load on the host (POSIX sh; dash on Debian and Ubuntu).
# Arguments: READY DROP TIMEOUT_MS PORT HEALTH_PATH HEALTH_HOST -- ARGV...
#   READY        extended regular expression; the server is ready when its output matches it
#   DROP         1: sync and drop the page cache first (a cold load)
#   TIMEOUT_MS   give up after this many milliseconds
#   PORT         "" passes no port; "pick" picks a port no socket uses and appends --port N;
#                a number is the port the command sets itself
#   HEALTH_PATH  "" polls nothing; else the server is also ready when GET http://HOST:PORT/PATH is 200
#   HEALTH_HOST  the address the server answers on
# It starts ARGV in its own session (so its whole process group can be stopped), waits for
# readiness, exit or timeout, stops the group and prints: status, ms, via, port, tail (base64).
ready=$1 drop=$2 timeout_ms=$3 port=$4 hpath=$5 hhost=$6
shift 7

# port_used N: is TCP port N bound by any socket of this network namespace (IPv4 or IPv6)?
port_used() {
  hex=$(printf '%04X' "$1")
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r _ local _; do
      case $local in *:"$hex") return 0 ;; esac
    done <"$f"
  done
  return 1
}

if [ "$port" = pick ]; then
  # Below the kernel's ephemeral range (32768-60999 by default), so no outgoing connection holds it.
  tries=0
  while :; do
    read -r u </proc/sys/kernel/random/uuid
    port=$((0x${u%%-*} % 12000 + 20000))
    port_used "$port" || break
    tries=$((tries + 1))
    if [ "$tries" -ge 100 ]; then
      echo "sparkform: found no free port between 20000 and 31999" >&2
      exit 1
    fi
  done
  set -- "$@" --port "$port"
fi

# healthy: one GET of the health URL answered 200 (curl if the host has it, else bash's /dev/tcp).
hcheck=
if [ -n "$hpath" ] && [ -n "$port" ]; then
  if command -v curl >/dev/null 2>&1; then
    hcheck=curl
  elif command -v bash >/dev/null 2>&1; then
    hcheck=bash
  fi
fi
case $hhost in *:*) uhost="[$hhost]" ;; *) uhost=$hhost ;; esac
healthy() {
  case $hcheck in
  curl) curl -fsS -o /dev/null --max-time 2 "http://$uhost:$port$hpath" 2>/dev/null ;;
  bash) bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$3" "$1" >&3
IFS= read -r -t 2 l <&3 || exit 1
case $l in "HTTP/1."?" 200"*) exit 0 ;; esac
exit 1' health "$hhost" "$port" "$hpath" 2>/dev/null ;;
  *) return 1 ;;
  esac
}

log=$(mktemp /tmp/sparkform-smoke.XXXXXX) || exit 1
if [ "$drop" = 1 ]; then
  sync
  echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || echo 'sparkform: could not drop caches' >&2
fi
start=$(date +%s%N)
setsid -- "$@" >"$log" 2>&1 </dev/null &
pid=$!
status=timeout
via=
i=0
while :; do
  if grep -Eq -- "$ready" "$log"; then status=ready via=output; break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    status="exited-$?"
    break
  fi
  i=$((i + 1))
  # The health URL every 10th turn (~0.25 s): a poll is a process, the output check is cheap.
  if [ -n "$hcheck" ] && [ $((i % 10)) -eq 0 ] && healthy; then status=ready via=health; break; fi
  now=$(date +%s%N)
  if [ $(((now - start) / 1000000)) -ge "$timeout_ms" ]; then break; fi
  sleep 0.02
done
end=$(date +%s%N)
kill -TERM -"$pid" 2>/dev/null
i=0
while kill -0 -"$pid" 2>/dev/null && [ $i -lt 100 ]; do
  sleep 0.05
  i=$((i + 1))
done
kill -KILL -"$pid" 2>/dev/null
wait "$pid" 2>/dev/null
printf 'status %s\n' "$status"
printf 'ms %s\n' $(((end - start) / 1000000))
printf 'via %s\n' "$via"
printf 'port %s\n' "$port"
printf 'tail %s\n' "$(tail -n 20 "$log" | base64 -w0)"
rm -f "$log"
