#!/bin/bash
# sparkform lab: the "power supply" of one host. Boots it (BOOT as PID 1 of new mount+uts+pid
# namespaces) again and again: after a reboot or a crash it waits DELAY and boots again; after a
# power-off it stays off; when HOSTDIR/stop exists (lab down) it stops. Started detached (setsid).
H=$1
BOOT=$2
echo $$ > "$H/supervisor.pid"
rm -f "$H/poweredoff"
. "$H/host.env"
stopping=
sp=
trap 'stopping=1; [ -n "$sp" ] && kill "$sp" 2>/dev/null' TERM
while [ -z "$stopping" ] && [ ! -e "$H/stop" ]; do
  unshare --mount --uts --pid --fork --propagation private "$BOOT" "$H" >>"$H/console.log" 2>&1 </dev/null &
  u=$!
  echo "$u" > "$H/unshare.pid"
  while :; do
    wait "$u"; rc=$?
    kill -0 "$u" 2>/dev/null || break   # wait was interrupted by a signal: unshare still runs
  done
  rm -f "$H/unshare.pid"
  echo "$(date -u +%FT%T.%3NZ) PID 1 exited rc=$rc" >> "$H/console.log"
  [ -n "$stopping" ] || [ -e "$H/stop" ] && break
  if [ "$rc" = 11 ]; then touch "$H/poweredoff"; break; fi
  sleep "$DELAY" & sp=$!
  wait "$sp"; sp=
done
rm -f "$H/supervisor.pid" "$H/unshare.pid"
