"""`vllm` console script of the sparkform lab's vLLM STAND-IN (see the package docstring)."""
import argparse
import glob
import json
import mmap
import os
import socket
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from vllm import __version__

LOAD_FORMATS = ["auto", "pt", "safetensors", "npcache", "dummy", "tensorizer", "sharded_state", "gguf",
                "bitsandbytes", "mistral", "runai_streamer", "runai_streamer_sharded", "fastsafetensors"]
PAGE = mmap.PAGESIZE
PID = os.getpid()

# Like vLLM since 0.10: plain --help lists the groups; --help=all lists every flag.
SHORT_HELP = """usage: vllm serve [model_tag] [options]

Launch a local OpenAI-compatible API server to serve LLM
completions via HTTP.

Search by keyword: --help=<keyword> to search options whose name or description contains it
  Use --help=all to show all available flags at once.

Config Groups:
  ModelConfig           Configuration for the model.
  LoadConfig            Configuration for loading the model weights.
  ParallelConfig        Configuration for the distributed execution.
  Frontend              Arguments for the OpenAI-compatible frontend server.
"""

FULL_HELP = """usage: vllm serve [model_tag] [options]

positional arguments:
  model_tag             The model tag to serve (optional if specified in config)

options:
  -h, --help            show this help message and exit

Frontend:
  --host HOST           Host name. (default: None)
  --port PORT           Port number. (default: 8000)
  --served-model-name SERVED_MODEL_NAME
                        The model name(s) used in the API. (default: None)

ModelConfig:
  --model MODEL         Name or path of the Hugging Face model to use. (default: Qwen/Qwen3-0.6B)
  --dtype {auto,bfloat16,float,float16,float32,half}
                        Data type for model weights and activations. (default: auto)
  --max-model-len MAX_MODEL_LEN
                        Model context length. (default: None)
  --trust-remote-code, --no-trust-remote-code
                        Trust remote code (e.g., from HuggingFace). (default: False)
  --enforce-eager, --no-enforce-eager
                        Whether to always use eager-mode PyTorch. (default: False)

LoadConfig:
  --load-format LOAD_FORMAT
                        The format of the model weights to load: "auto", "pt", "safetensors",
                        "npcache", "dummy", "tensorizer", "runai_streamer", "bitsandbytes",
                        "sharded_state", "gguf", "mistral", "fastsafetensors" will load the
                        Safetensors weights using the fastsafetensors library. (default: auto)
  --safetensors-load-strategy SAFETENSORS_LOAD_STRATEGY
                        Specifies the loading strategy for safetensors weights. "lazy"
                        (default): weights are memory-mapped from the file, pages load on
                        demand. "eager": the entire file is read into CPU memory upfront.
                        (default: lazy)

ParallelConfig:
  --tensor-parallel-size TENSOR_PARALLEL_SIZE, -tp TENSOR_PARALLEL_SIZE
                        Number of tensor parallel groups. (default: 1)
  --gpu-memory-utilization GPU_MEMORY_UTILIZATION
                        The fraction of GPU memory to be used. (default: 0.9)
"""


def log(who, msg, where="api_server.py:1839"):
    stamp = time.strftime("%m-%d %H:%M:%S")
    prefix = "(%s pid=%d) " % (who, PID) if who else ""
    sys.stdout.write("%sINFO %s [%s] %s\n" % (prefix, stamp, where, msg))
    sys.stdout.flush()


def uvicorn(msg):
    sys.stderr.write("(APIServer pid=%d) INFO:     %s\n" % (PID, msg))
    sys.stderr.flush()


def fail(kind, msg):
    sys.stderr.write("(APIServer pid=%d) Traceback (most recent call last):\n  ...\n%s: %s\n" % (PID, kind, msg))
    sys.stderr.flush()
    return 1


def header(fd):
    raw = os.pread(fd, 8, 0)
    (n,) = struct.unpack("<Q", raw)
    head = json.loads(os.pread(fd, n, 8))
    head.pop("__metadata__", None)
    return 8 + n, head


def load_lazy(files):
    """safetensors' safe_open: the file is mapped; each tensor's pages fault in when it is used."""
    s = 0
    for f in files:
        with open(f, "rb") as fh:
            start, head = header(fh.fileno())
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            for meta in head.values():
                b, e = meta["data_offsets"]
                for off in range(start + b, start + e, PAGE):
                    s += mm[off]
            mm.close()
    return s


def load_eager(files):
    """--safetensors-load-strategy eager: each file is read into memory whole, then split."""
    s = 0
    for f in files:
        with open(f, "rb") as fh:
            start, head = header(fh.fileno())
            data = fh.read()  # the whole file (the header was read with pread: the offset is 0)
            for meta in head.values():
                b, e = meta["data_offsets"]
                for off in range(start + b, start + e, PAGE):
                    s += data[off]
    return s


def load_fastsafetensors(files):
    from fastsafetensors import SafeTensorsFileLoader, SingleGroup

    loader = SafeTensorsFileLoader(SingleGroup(), "cpu", nogds=True)
    loader.add_filenames({0: files})
    fb = loader.copy_files_to_device()
    s = 0
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            _, head = header(fd)
        finally:
            os.close(fd)
        for key in head:
            t = fb.get_tensor(key)
            for off in range(0, len(t), PAGE):
                s += t[off]
    fb.close()
    loader.close()
    return s


class Health(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/health":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            body = b'{"detail":"Not Found"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, fmt, *args):
        uvicorn('%s:%d - "%s" %s' % (self.client_address[0], self.client_address[1], self.requestline, args[1] if len(args) > 1 else ""))


def serve(argv):
    for a in argv:
        if a in ("-h", "--help"):
            sys.stdout.write(SHORT_HELP)
            return 0
        if a.startswith("--help="):
            key = a.split("=", 1)[1]
            if key == "all":
                sys.stdout.write(FULL_HELP)
            else:
                sys.stdout.write("\n".join(l for l in FULL_HELP.splitlines() if key in l) + "\n")
            return 0
    p = argparse.ArgumentParser(prog="vllm serve", add_help=False)
    p.add_argument("model_tag", nargs="?")
    p.add_argument("--model")
    p.add_argument("--host")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served-model-name")
    p.add_argument("--dtype", choices=["auto", "bfloat16", "float", "float16", "float32", "half"], default="auto")
    p.add_argument("--max-model-len")
    p.add_argument("--trust-remote-code", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--enforce-eager", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--load-format", choices=LOAD_FORMATS, default="auto")
    p.add_argument("--safetensors-load-strategy", choices=["lazy", "eager"], default="lazy")
    p.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    args = p.parse_args(argv)
    model = args.model_tag or args.model or "Qwen/Qwen3-0.6B"
    log(None, "Automatically detected platform cuda.", "__init__.py:216")
    log("APIServer", "vLLM API server version %s" % __version__)
    nondefault = {k: v for k, v in vars(args).items() if v is not None and v != p.get_default(k)}
    log("APIServer", "non-default args: %s" % nondefault, "utils.py:233")
    # Like vLLM, the API socket is bound before the engine starts: a port in use fails at once,
    # and connections wait in the backlog, unanswered, until the model is loaded.
    try:
        sock = socket.create_server((args.host or "0.0.0.0", args.port), backlog=64)
    except OSError as e:
        return fail("OSError", "[Errno %d] %s" % (e.errno, e.strerror))
    if os.path.isdir(model):
        if not os.path.exists(os.path.join(model, "config.json")):
            return fail("ValueError", "Invalid repository ID or local directory specified: '%s'." % model)
        files = sorted(glob.glob(os.path.join(model, "*.safetensors")))
    elif model.endswith(".safetensors") and os.path.isfile(model):
        files = [model]
    else:
        return fail("OSError", "We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the cached files (sparkform lab: there is no network; give a local model directory).")
    if not files:
        return fail("RuntimeError", "Cannot find any model weights with `%s`" % model)
    log("EngineCore_DP0", "Starting to load model %s..." % model, "gpu_model_runner.py:2602")
    t0 = time.monotonic()
    try:
        if args.load_format == "fastsafetensors":
            s = load_fastsafetensors(files)
            bar = "Loading safetensors using Fastsafetensor loader"
        elif args.safetensors_load_strategy == "eager":
            s = load_eager(files)
            bar = "Loading safetensors checkpoint shards"
        else:
            s = load_lazy(files)
            bar = "Loading safetensors checkpoint shards"
    except ImportError as e:
        return fail(type(e).__name__, str(e))
    took = time.monotonic() - t0
    n = len(files)
    sys.stderr.write("%s: 100%% Completed | %d/%d [00:%02d<00:00, %.2fit/s]\n" % (bar, n, n, int(took), n / max(took, 1e-6)))
    log("EngineCore_DP0", "Loading weights took %.2f seconds" % took, "default_loader.py:267")
    size = sum(os.path.getsize(f) for f in files)
    log("EngineCore_DP0", "Model loading took %.4f GiB and %.6f seconds (checksum %d)" % (size / 2**30, took, s), "gpu_model_runner.py:2653")
    log("APIServer", "Starting vLLM API server 0 on http://%s:%d" % (args.host or "0.0.0.0", args.port), "api_server.py:1971")
    uvicorn("Started server process [%d]" % PID)
    uvicorn("Waiting for application startup.")
    uvicorn("Application startup complete.")
    server = HTTPServer(sock.getsockname()[:2], Health, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.serve_forever()
    return 0


TOP_HELP = """usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...

vLLM CLI

positional arguments:
  {chat,complete,serve,bench,collect-env,run-batch}
    serve               Launch a local OpenAI-compatible API server to serve LLM completions via HTTP.

options:
  -h, --help            show this help message and exit
  -v, --version         show program's version number and exit
"""


def main():
    argv = sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(TOP_HELP)
        return 0
    if argv[0] in ("-v", "--version"):
        print(__version__)
        return 0
    if argv[0] != "serve":
        sys.stderr.write("usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...\n"
                         "vllm: error: argument subparser: invalid choice: '%s' (sparkform lab stand-in: only serve)\n" % argv[0])
        return 2
    return serve(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
