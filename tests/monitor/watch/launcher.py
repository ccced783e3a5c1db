"""A launcher in front of log_writer.py, as `llamafactory-cli train` is in front of torchrun and its workers
(FORCE_TORCHRUN): it only waits for its child, and SIGABRT kills it. Usage: launcher.py WRITER_ARGS..."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

if __name__ == "__main__":
    writer = Path(__file__).with_name("log_writer.py")
    sys.exit(subprocess.run([sys.executable, str(writer), *sys.argv[1:]]).returncode)
