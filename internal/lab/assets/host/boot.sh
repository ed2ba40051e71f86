#!/bin/bash
# sparkform lab: one boot of one host. Runs as PID 1 of fresh mount+uts+pid namespaces (unshare)
# and builds the host's world: overlay root, its own /proc with /proc/sys read-only except a
# writable /proc/sys/vm, fresh /run, private /dev, a /sys with NVMe queue attributes, the lab's
# artifacts read-only, then the kernel the GRUB stand-in picks, a new boot_id, and the host's init.
# Every mount dies with the namespace: nothing is left to undo on the real machine.
set -eu
H=$1
. "$H/host.env"          # NAME IMAGE ART DISKS PANIC_SECS
M=$H/merged
mount -t overlay overlay -o "lowerdir=$IMAGE,upperdir=$H/upper,workdir=$H/work" "$M"
mount -t proc -o nosuid,nodev,noexec proc "$M/proc"
mount --bind "$M/proc/sys" "$M/proc/sys"
mount -o remount,bind,ro "$M/proc/sys"
mount -t tmpfs -o size=1m,mode=755 sparkform-lab-vm "$M/proc/sys/vm"
for f in /proc/sys/vm/*; do
  v=
  IFS= read -r -d '' v 2>/dev/null < "$f" || :   # write-only ones (drop_caches) stay empty
  printf '%s' "$v" > "$M/proc/sys/vm/${f##*/}"
done
mount -t tmpfs -o mode=755,size=16m sparkform-lab-run "$M/run"
mkdir -p "$M/run/sshd" "$M/run/lock" "$M/run/.lab"   # (each command is a fork: boot time is mostly forks)
mount -t tmpfs -o mode=755,size=1m sparkform-lab-dev "$M/dev"
mknod -m 666 "$M/dev/null" c 1 3; mknod -m 666 "$M/dev/zero" c 1 5; mknod -m 666 "$M/dev/full" c 1 7
mknod -m 666 "$M/dev/random" c 1 8; mknod -m 666 "$M/dev/urandom" c 1 9; mknod -m 666 "$M/dev/tty" c 5 0
mkdir "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"; ln -s /proc/self/fd "$M/dev/fd"
ln -s /proc/self/fd/0 "$M/dev/stdin"; ln -s /proc/self/fd/1 "$M/dev/stdout"; ln -s /proc/self/fd/2 "$M/dev/stderr"
mount -t tmpfs -o mode=1777,size=64m sparkform-lab-shm "$M/dev/shm"
mount -t tmpfs -o mode=755,size=1m sparkform-lab-sys "$M/sys"
for d in $DISKS; do
  q=$M/sys/block/$d/queue
  mkdir -p "$q"
  echo 128 > "$q/read_ahead_kb"; echo 0 > "$q/rotational"; echo 1023 > "$q/nr_requests"
  echo '[none] mq-deadline' > "$q/scheduler"; echo 1280 > "$q/max_sectors_kb"
  echo 512 > "$q/logical_block_size"; echo 4096 > "$q/physical_block_size"
done
t=$M/sys/kernel/mm/transparent_hugepage
mkdir -p "$t"
echo 'always [madvise] never' > "$t/enabled"
echo 'always defer defer+madvise [madvise] never' > "$t/defrag"
mount --bind -o ro "$ART/repo" "$M/srv/repo"
mount --bind -o ro "$ART/wheels" "$M/srv/wheels"
mount --bind -o ro "$ART/git" "$M/srv/git"
hostname "$NAME"
KREL=$(chroot "$M" /usr/local/lib/sparkform-lab/grub-boot)
IFS= read -r BOOTID < /proc/sys/kernel/random/uuid
printf 'KERNEL=%s\nBOOT_ID=%s\n' "$KREL" "$BOOTID" > "$H/booted.new"
if [ ! -e "$M/boot/vmlinuz-$KREL" ] || grep -q 'sparkform-lab: fails-to-boot' "$M/boot/vmlinuz-$KREL"; then
  # This kernel "panics" early: no sshd, then a reboot (panic=N), as a real host would.
  echo "STATE=panic" >> "$H/booted.new"; mv "$H/booted.new" "$H/booted"
  echo "Kernel panic - not syncing: VFS: Unable to mount root fs ($KREL); rebooting in ${PANIC_SECS}s"
  sleep "$PANIC_SECS"
  exit 10
fi
mv "$H/booted.new" "$H/booted"
echo "$BOOTID" > "$M/run/.lab/boot_id"
echo "$KREL" > "$M/run/.lab/osrelease"
echo "#1 SMP PREEMPT_DYNAMIC Thu Jan 15 10:00:00 UTC 2026" > "$M/run/.lab/version"
echo "Linux version $KREL (buildd@lab) (gcc (Ubuntu 13.3.0-6ubuntu2~24.04) 13.3.0, GNU ld 2.42) #1 SMP PREEMPT_DYNAMIC Thu Jan 15 10:00:00 UTC 2026" > "$M/run/.lab/proc_version"
mount --bind -o ro "$M/run/.lab/boot_id" "$M/proc/sys/kernel/random/boot_id"
mount --bind -o ro "$M/run/.lab/osrelease" "$M/proc/sys/kernel/osrelease"
mount --bind -o ro "$M/run/.lab/version" "$M/proc/sys/kernel/version"
mount --bind -o ro "$M/run/.lab/proc_version" "$M/proc/version"
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=linux LANG=C.UTF-8 chroot "$M" /sbin/init
