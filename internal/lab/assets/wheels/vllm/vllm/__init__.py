"""vLLM (sparkform lab STAND-IN): `vllm serve MODEL` really loads the model's safetensors files
the way the load mode says (mapped lazily, read eagerly, or through fastsafetensors), logs
vLLM's lines and serves GET /health. No GPU, no engine, no inference."""
__version__ = "@VERSION@"
