# venv-exchange: python -I -c SCRIPT A B swaps paths A and B atomically; see venvExchange.
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
f = getattr(libc, "renameat2", None)
sys.exit(3 if f is None or f(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2) != 0 else 0)
