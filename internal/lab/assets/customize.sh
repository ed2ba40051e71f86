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
# GRUB's userland is Debian's (grub2-common, grub-common); only grub-probe is a stand-in, since the
# real one finds no disk under an overlay root. Diverted the dpkg way, so dpkg -S says so.
chroot "$R" dpkg-divert --quiet --local --rename --divert /usr/sbin/grub-probe.real --add /usr/sbin/grub-probe
ln -s /usr/local/lib/sparkform-lab/grub-probe "$R/usr/sbin/grub-probe"
# the stock kernel, installed the normal way (zz-update-grub does nothing yet: no grub.cfg)
cp "$A/repo/${STOCK}"_*.deb "$R/tmp/"
chroot "$R" sh -c 'dpkg -i /tmp/*.deb' >/dev/null
rm -f "$R"/tmp/*.deb
# what installing GRUB to a disk leaves (grub-install, then the first update-grub): the
# environment block and a grub.cfg written by grub-mkconfig from /etc/grub.d (in the environment
# an ssh session gets: no LANG, which 00_header would write into grub.cfg)
chroot "$R" grub-editenv /boot/grub/grubenv create
chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin update-grub 2>/dev/null
chroot "$R" grub-set-default 0
rm -rf "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* "$R"/var/log/*.log
