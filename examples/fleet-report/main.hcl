# The forum's table for a fleet: llama.cpp (mmap, no-mmap) and vLLM (default, eager,
# fastsafetensors) timed on every host. examples/fleet-report.sh applies this, then adds a
# readahead block (8192 KB) and applies again, and prints the fleet report and the comparison.

variable "wheelhouse" {
  type    = list(string)
  default = ["/srv/wheels"]
}

variable "llama_source" {
  type    = string
  default = "/srv/git/llama.cpp.git"
}

llama_cpp "cuda" {
  source      = var.llama_source
  ref         = "b10900"
  dir         = "/opt/sparkform/llama.cpp"
  cmake_flags = { GGML_CUDA = "ON", CMAKE_CUDA_ARCHITECTURES = "121a-real" }
  targets     = ["llama-server"]
}

python_venv "vllm" {
  path       = "/opt/sparkform/vllm"
  packages   = ["vllm==0.11.0", "fastsafetensors==0.3.2"]
  find_links = var.wheelhouse
  verify     = ["vllm", "fastsafetensors"]
}

smoke_test "gpt-oss" {
  command     = "${llama_cpp.cuda.bin_dir}/llama-server -m /models/gpt-oss-120b.gguf"
  modes       = ["mmap", "no-mmap"]
  repeat      = 3
  timeout     = "5m"
  max_seconds = { "no-mmap" = 30 }
}

smoke_test "qwen3-next" {
  command = "${python_venv.vllm.path}/bin/vllm serve /models/qwen3-next-80b-fp8 --max-model-len 8192"
  modes   = ["default", "eager", "fastsafetensors"]
  timeout = "15m"
}
