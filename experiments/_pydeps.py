"""Makes numpy, h5py and matplotlib importable, or exits 2 with a one-line message.

The Debian packages (python3-numpy python3-h5py python3-matplotlib) live in /usr/lib/python3/dist-packages,
which only the system interpreter sees. When `python3` on PATH is another interpreter (pyenv, a venv) that
lacks them, the calling script is started again under /usr/bin/python3 with the same arguments.
"""
import os
import sys

_SYSTEM_PY = "/usr/bin/python3"
_GUARD = "AUTODIST_EXPERIMENTS_REEXEC"


def ensure() -> None:
    try:
        import h5py  # noqa: F401
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
        return
    except ImportError as e:
        missing = e.name or str(e)
    here = os.path.realpath(sys.executable or "")
    if (os.environ.get(_GUARD) != "1" and os.path.exists(_SYSTEM_PY) and os.path.realpath(_SYSTEM_PY) != here
            and sys.argv and sys.argv[0] and os.path.exists(sys.argv[0])):
        os.environ[_GUARD] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(_SYSTEM_PY, [_SYSTEM_PY] + sys.argv)
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python3"
    sys.stderr.write(f"{prog}: error: Python module {missing} is missing "
                     "(apt-get install python3-numpy python3-h5py python3-matplotlib)\n")
    sys.exit(2)
