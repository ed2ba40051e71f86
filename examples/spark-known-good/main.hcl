# A known-good DGX Spark setup for fast model loading: every resource type sparkform has.
# Host blocks live in a separate file (hosts.hcl): `sparkform lab up` writes one for the lab;
# for real Sparks write your own (README, "host"). lab.sfvars adapts this file to the lab.

variable "kernel_line" {
  type        = string
  default     = "6.17"
  description = "NVIDIA kernel line: 6.17 loads gpt-oss-120b in 22 s without mmap (56 s on the stock 6.11); 7.0 (hwe) breaks RoCE."
}

variable "swappiness" {
  type    = number
  default = 10
}

variable "read_ahead_kb" {
  type        = number
  default     = 8192
  description = "NVMe read-ahead; 8192 KiB speeds up sequential model loads from the default 128."
}

variable "wheelhouse" {
  type        = list(string)
  default     = []
  description = "Local wheel directories (pip --find-links --no-index) for fleets without internet; empty: PyPI."
}

variable "llama_source" {
  type    = string
  default = "https://github.com/ggml-org/llama.cpp.git"
}

variable "llama_ref" {
  type    = string
  default = "b6800"
}

variable "vllm_version" {
  type    = string
  default = "0.11.0"
}

rollout {
  batch_size   = "50%"
  max_failures = 0
  pause        = "5s"
}

# The kernel line, held, other lines blocked by an apt pin; a change reboots the host once
# into the new kernel and only makes it the default when the host came back on it.
kernel "nvidia" {
  line           = var.kernel_line
  hold           = true
  reboot_timeout = "10m"
}

# Kernel parameters that matter for loading large models on unified memory.
sysctl "loading" {
  values = {
    "vm.swappiness"    = var.swappiness
    "vm.dirty_ratio"   = 10
    "vm.max_map_count" = 1048576
  }
}

# Read-ahead of the NVMe disk holding the models (the Spark's root disk).
readahead "nvme" {
  device = "nvme0n1"
  kb     = var.read_ahead_kb
}

# vLLM loads safetensors several times faster with fastsafetensors (--load-format fastsafetensors).
python_venv "vllm" {
  path       = "/opt/sparkform/vllm"
  python     = "python3"
  packages   = ["vllm==${var.vllm_version}", "fastsafetensors==0.3.2"]
  find_links = var.wheelhouse
  verify     = ["vllm", "fastsafetensors"]
}

# llama.cpp built with CUDA for GB10 (sm_121).
llama_cpp "cuda" {
  source      = var.llama_source
  ref         = var.llama_ref
  dir         = "/opt/sparkform/llama.cpp"
  cmake_flags = { GGML_CUDA = "ON", CMAKE_CUDA_ARCHITECTURES = "121a-real" }
  targets     = ["llama-server"]
}

# After every change, time a cold model load in both modes; fail the host if it got slow,
# and after a kernel change go back to the previous kernel.
smoke_test "gpt-oss" {
  command        = "${llama_cpp.cuda.bin_dir}/llama-server -m /models/gpt-oss-120b.gguf -ngl 999"
  modes          = ["mmap", "no-mmap"]
  drop_caches    = true
  repeat         = 3
  timeout        = "5m"
  max_seconds    = { "no-mmap" = 30 }
  max_regression = "20%"
  on_failure     = "rollback"
}

# The forum's vLLM table on every host: lazy (mmap) safetensors, eager reads, fastsafetensors.
# No --port: each run gets a free port of its own, beside any production server on 8000.
smoke_test "qwen3-next" {
  command     = "${python_venv.vllm.path}/bin/vllm serve /models/qwen3-next-80b-fp8 --max-model-len 8192"
  modes       = ["default", "eager", "fastsafetensors"]
  timeout     = "15m"
  max_seconds = { fastsafetensors = 60 }
}
