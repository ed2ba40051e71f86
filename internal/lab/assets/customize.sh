#!/bin/bash
# sparkform lab: turns a fresh mmdebstrap root ($1) into the lab's host image. The stand-in files
# were already copied in; this does what needs the image's own tools (chroot). Artifacts in $2.
set -eu
R=$1
A=$2
STOCK=$3
rm -f "$R"/etc/ssh/ssh_host_*
: > "$R/etc/apt/sources.list"
rm -f "$R"/etc/apt/sources.list.d/*.sources
mkdir -p "$R/srv/repo" "$R/srv/wheels" "$R/srv/git" "$R/models" "$R/boot/grub"
sed -i 's|^Subsystem|#Subsystem|' "$R/etc/ssh/sshd_config"
chroot "$R" useradd -m -u 1000 -s /bin/bash deploy
chroot "$R" usermod -p '*' deploy      # '!' (locked) is refused by sshd when UsePAM=no
chmod 440 "$R/etc/sudoers.d/deploy"
echo /usr/local/lib/sparkform-lab/uname-shim.so > "$R/etc/ld.so.preload"
# the stock kernel, installed the normal way (its postinst runs update-grub)
cp "$A/repo/${STOCK}"_*.deb "$R/tmp/"
chroot "$R" sh -c 'dpkg -i /tmp/*.deb' >/dev/null
rm -f "$R"/tmp/*.deb
chroot "$R" grub-set-default 0
rm -rf "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* "$R"/var/log/*.log
