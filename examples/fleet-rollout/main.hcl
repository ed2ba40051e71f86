# Roll a kernel line and tuning across a fleet, two racks at a time, stopping at the first
# failure. Host blocks (with labels rack = "a" / "b") live in hosts.hcl.

rollout {
  batch_size   = "25%" # a quarter of the hosts that have changes, per batch
  max_failures = 0     # one failed or rolled-back host stops the rollout
  pause        = "30s" # watch the first batch before the next starts
}

variable "kernel_line" {
  type    = string
  default = "6.17"
}

kernel "nvidia" {
  line           = var.kernel_line
  hold           = true
  reboot_timeout = "10m"
}

# Rack a holds the inference nodes: lower swappiness there only.
sysctl "inference" {
  values = { "vm.swappiness" = 1 }
  labels = { rack = "a" }
}

sysctl "common" {
  values = { "vm.dirty_ratio" = 10, "vm.max_map_count" = 1048576 }
}

readahead "models" {
  device = "nvme0n1"
  kb     = 8192
}
