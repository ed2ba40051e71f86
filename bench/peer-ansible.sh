#!/usr/bin/env bash
# Peer benchmark: sparkform against tuned Ansible, side by side in one run, on two identical fresh
# 20-host labs with the same desired state (3 sysctls live + /etc/sysctl.d, NVMe read-ahead live +
# udev rule), at 0 and 25 ms one-way latency between this machine and the hosts:
#   cold apply            sparkform apply            vs  ansible-playbook (first run)
#   no-op plan            sparkform plan             vs  ansible-playbook --check --diff
#   no-op apply           sparkform apply            vs  ansible-playbook (rerun)
# then a no-op plan of a 100-host lab (skip with NO_100=1). Prints times and ratios, and the load
# average (1 min) when each row was measured: on a shared machine the figures move with it.
# Both tools are warmed up first without touching a host (sparkform validate, ansible-playbook
# --syntax-check), so neither pays for reading its own program from disk; each lab is fresh.
#
# Ansible is Debian's ansible-core + ansible (ansible.posix.sysctl), tuned: forks = 20,
# pipelining, ControlMaster/ControlPersist (reruns reuse the connections), no fact gathering.
# Needs root (the lab). Usage: bench/peer-ansible.sh   (LATENCIES="0 25ms" to choose, SPARKFORM=bin
# to measure another sparkform binary, e.g. an older commit's).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
export NO_COLOR=1

latencies=${LATENCIES:-"0 25ms"}
n=20
work=$(mktemp -d /tmp/sparkform-peer-XXXXXX)
log=$work/bench.log
labs=()
cleanup() {
  for d in "${labs[@]}"; do "$sf" lab down -dir "$d" >>"$log" 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

sf=${SPARKFORM:-}
if [ -z "$sf" ]; then
  sf=$work/sparkform
  go build -o "$sf" ./cmd/sparkform
fi
command -v ansible-playbook >/dev/null || { echo "needs ansible-playbook (apt-get install ansible-core ansible)" >&2; exit 1; }

# ms runs a command, sending its output to the log, and prints its wall time in milliseconds.
ms() {
  local s e
  s=$(date +%s%N)
  if ! "$@" >>"$log" 2>&1; then
    echo "failed: $*" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}
secs() { awk -v m="$1" 'BEGIN { printf "%.2f s", m / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1fx", b / a; else print "-" }'; }
load1() { cut -d' ' -f1 /proc/loadavg; }

labup() { # dir subnet latency hosts
  labs+=("$1")
  if ! "$sf" lab up -dir "$1" -subnet "$2" -n "$4" -latency "$3" >>"$log" 2>&1; then
    echo "failed: lab up -dir $1 -subnet $2" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}
labdown() {
  "$sf" lab down -dir "$1" >>"$log" 2>&1
  rm -rf "$1"
}

sparkform_config() { # labdir -> config dir
  local c=$work/sf-$RANDOM
  mkdir -p "$c"
  cp "$1/hosts.hcl" "$c/"
  cat >"$c/main.hcl" <<'EOF'
sysctl "bench" {
  values = { "vm.swappiness" = 10, "vm.dirty_ratio" = 10, "vm.max_map_count" = 1048576 }
}

readahead "nvme" {
  device = "nvme0n1"
  kb     = 8192
}
EOF
  echo "$c"
}

ansible_config() { # labdir -> ansible dir
  local a=$work/an-$RANDOM
  mkdir -p "$a/cp"
  "$sf" lab status -dir "$1" | awk -v key="$1/id_ed25519" 'NR > 1 { printf "%s ansible_host=%s ansible_user=root ansible_ssh_private_key_file=%s\n", $1, $2, key }' >"$a/inventory.ini"
  cat >"$a/ansible.cfg" <<EOF
[defaults]
inventory = $a/inventory.ini
forks = 20
gathering = explicit
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False

[ssh_connection]
pipelining = True
control_path_dir = $a/cp
ssh_args = -o ControlMaster=auto -o ControlPersist=120s -o IdentitiesOnly=yes -o UserKnownHostsFile=$1/known_hosts -o StrictHostKeyChecking=yes
EOF
  cat >"$a/site.yml" <<'EOF'
- hosts: all
  gather_facts: false
  tasks:
    - name: sysctl live and in /etc/sysctl.d
      ansible.posix.sysctl:
        name: "{{ item.key }}"
        value: "{{ item.value }}"
        sysctl_file: /etc/sysctl.d/90-bench.conf
        sysctl_set: true
        reload: false
      loop:
        - { key: vm.swappiness, value: "10" }
        - { key: vm.dirty_ratio, value: "10" }
        - { key: vm.max_map_count, value: "1048576" }
    - name: read-ahead udev rule
      ansible.builtin.copy:
        dest: /etc/udev/rules.d/60-bench-readahead.rules
        content: "ACTION==\"add|change\", SUBSYSTEM==\"block\", KERNEL==\"nvme0n1\", ATTR{queue/read_ahead_kb}=\"8192\"\n"
        mode: "0644"
    - name: live read-ahead (read)
      ansible.builtin.command: cat /sys/block/nvme0n1/queue/read_ahead_kb
      register: ra
      changed_when: false
      check_mode: false
    - name: live read-ahead (set)
      ansible.builtin.shell: echo 8192 > /sys/block/nvme0n1/queue/read_ahead_kb
      when: ra.stdout != "8192"
EOF
  echo "$a"
}

av=$(ansible --version 2>/dev/null || true)
echo "sparkform vs tuned Ansible (${av%%$'\n'*}), $n fresh lab hosts each, same run"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n| one-way latency | what | sparkform | Ansible | ratio | load |\n|---|---|---|---|---|---|\n'
warm=
subnet=201
for lat in $latencies; do
  a=$work/lab-sf-$subnet
  b=$work/lab-an-$subnet
  labup "$a" "$subnet" "$lat" "$n"
  labup "$b" "$((subnet + 1))" "$lat" "$n"
  c=$(sparkform_config "$a")
  an=$(ansible_config "$b")
  export ANSIBLE_CONFIG=$an/ansible.cfg
  if [ -z "$warm" ]; then
    ms "$sf" validate "$c" >/dev/null
    ms ansible-playbook --syntax-check "$an/site.yml" >/dev/null
    warm=1
  fi
  l1=$(load1)
  s1=$(ms "$sf" apply -auto-approve "$c")
  a1=$(ms ansible-playbook "$an/site.yml")
  l2=$(load1)
  s2=$(ms "$sf" plan "$c")
  a2=$(ms ansible-playbook --check --diff "$an/site.yml")
  l3=$(load1)
  s3=$(ms "$sf" apply -auto-approve "$c")
  a3=$(ms ansible-playbook "$an/site.yml")
  # both ended in the desired state
  for d in "$a" "$b"; do
    h=$("$sf" lab status -dir "$d" | awk 'NR == 2 { print $2 }')
    got=$(ssh -F /dev/null -i "$d/id_ed25519" -o IdentitiesOnly=yes -o UserKnownHostsFile="$d/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes "root@$h" \
      'cat /proc/sys/vm/swappiness /proc/sys/vm/dirty_ratio /proc/sys/vm/max_map_count /sys/block/nvme0n1/queue/read_ahead_kb' | tr '\n' ' ')
    [ "$got" = "10 10 1048576 8192 " ] || { echo "lab $d not in the desired state: $got" >&2; exit 1; }
  done
  l=$lat
  [ "$l" = 0 ] && l="0 (loopback-like)"
  printf '| %s | cold apply | %s | %s | %s | %s |\n' "$l" "$(secs "$s1")" "$(secs "$a1")" "$(ratio "$s1" "$a1")" "$l1"
  printf '| %s | no-op plan vs --check --diff | %s | %s | %s | %s |\n' "$l" "$(secs "$s2")" "$(secs "$a2")" "$(ratio "$s2" "$a2")" "$l2"
  printf '| %s | no-op apply vs rerun | %s | %s | %s | %s |\n' "$l" "$(secs "$s3")" "$(secs "$a3")" "$(ratio "$s3" "$a3")" "$l3"
  labdown "$a"
  labdown "$b"
  subnet=$((subnet + 2))
done

if [ "${NO_100:-}" != 1 ]; then
  d=$work/lab-100
  labup "$d" 210 0 100
  c=$(sparkform_config "$d")
  ms "$sf" apply -auto-approve "$c" >/dev/null
  best=
  for _ in 1 2 3; do
    t=$(ms "$sf" plan "$c")
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  printf '\nno-op plan of 100 lab hosts (best of 3): %s (load %s)\n' "$(secs "$best")" "$(load1)"
  labdown "$d"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
