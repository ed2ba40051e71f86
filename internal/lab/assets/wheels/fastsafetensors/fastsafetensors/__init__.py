"""fastsafetensors (sparkform lab STAND-IN).

The subset of the real API that vLLM's --load-format fastsafetensors uses: SingleGroup,
SafeTensorsFileLoader(pg, device, nogds=...), add_filenames({rank: [files]}),
copy_files_to_device() -> FilesBufferOnDevice with get_tensor(key), close(). It really reads
each safetensors file: the header, then the whole data section in large blocks by parallel
pread() calls into one host buffer (the real one copies to GPU memory, with GPUDirect Storage
where it can). No GPU, no CUDA, no DLPack tensors: get_tensor returns a memoryview.
"""
import json
import os
import struct
from concurrent.futures import ThreadPoolExecutor

__version__ = "@VERSION@"


class SingleGroup:
    """A process group of one (the real one wraps torch.distributed)."""

    def rank(self):
        return 0

    def size(self):
        return 1


def _header(fd):
    raw = os.pread(fd, 8, 0)
    if len(raw) != 8:
        raise ValueError("file too short for a safetensors header")
    (n,) = struct.unpack("<Q", raw)
    if n > 100 * 1024 * 1024:
        raise ValueError("safetensors header too large")
    head = json.loads(os.pread(fd, n, 8))
    head.pop("__metadata__", None)
    return 8 + n, head


class FilesBufferOnDevice:
    def __init__(self, buffers):
        self._buffers = buffers  # key -> memoryview

    def get_tensor(self, key):
        return self._buffers[key]

    def close(self):
        self._buffers = {}


class SafeTensorsFileLoader:
    def __init__(self, pg, device, bbuf_size_kb=16 * 1024, max_threads=16, nogds=False, debug_log=False, **_):
        self.pg = pg
        self.device = device
        self.block = max(1, bbuf_size_kb) * 1024
        self.threads = max(1, max_threads)
        self.files = []

    def add_filenames(self, filenames):
        for rank in sorted(filenames):
            self.files.extend(filenames[rank])

    def _read(self, path):
        fd = os.open(path, os.O_RDONLY)
        try:
            start, head = _header(fd)
            size = os.fstat(fd).st_size - start
            buf = bytearray(size)
            view = memoryview(buf)

            def chunk(off):
                n = min(self.block, size - off)
                got = os.preadv(fd, [view[off:off + n]], start + off)
                if got != n:
                    raise IOError("short read of %s at %d" % (path, start + off))

            with ThreadPoolExecutor(self.threads) as ex:
                list(ex.map(chunk, range(0, size, self.block)))
            out = {}
            for key, meta in head.items():
                b, e = meta["data_offsets"]
                out[key] = view[b:e]
            return out
        finally:
            os.close(fd)

    def copy_files_to_device(self, dtype=None, use_buf_register=True, max_copy_block_size=0):
        buffers = {}
        for path in self.files:
            buffers.update(self._read(path))
        return FilesBufferOnDevice(buffers)

    def close(self):
        self.files = []
