# A known-good DGX Spark setup for fast model loading.
# Host blocks live in a separate file (hosts.hcl): `sparkform lab up` writes one for the lab,
# and for real Sparks you write your own (see README, "host").

variable "swappiness" {
  type        = number
  default     = 10
  description = "Spark community setting: keep model pages in memory instead of swapping them out."
}

variable "read_ahead_kb" {
  type        = number
  default     = 8192
  description = "NVMe read-ahead; 8192 KiB speeds up sequential model loads from the default 128."
}

# Kernel parameters that matter for loading large models on unified memory.
sysctl "loading" {
  values = {
    "vm.swappiness"      = var.swappiness
    "vm.dirty_ratio"     = 10
    "vm.max_map_count"   = 1048576
  }
}

# Read-ahead of the NVMe disk holding the models (the Spark's root disk).
readahead "nvme" {
  device = "nvme0n1"
  kb     = var.read_ahead_kb
}
