"""The SharedLayer built as `sam build` builds it (shared/Makefile), for the tests and the bench.

``sam build`` runs the Makefile's ``build-SharedLayer``; here its steps are run one by one, the package
always and the bytecode on request, with this interpreter standing in for the runtime's Python (the
Makefile's ``LAMBDA_PYTHON``), so a layer can be inspected and imported without Docker or a 3.12.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent / "shared"


def build_layer(artifacts_dir: Path, *, bytecode: bool = False) -> Path:
    """Builds the layer's package (and its bytecode) into ``artifacts_dir``; returns its ``python`` folder."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    targets = ["layer-package", *(["layer-bytecode"] if bytecode else [])]
    subprocess.run(  # noqa: S603 - the layer's own build steps, fixed arguments
        [
            shutil.which("make") or "make",
            "--no-print-directory",
            "-C",
            str(SHARED),
            *targets,
            f"ARTIFACTS_DIR={artifacts_dir}",
            f"LAMBDA_PYTHON={sys.executable}",
            f"LAMBDA_PYTHON_VERSION={version}",
        ],
        check=True,
        capture_output=True,
        # A make running this one (make bench) must not hand its flags to the sub-make.
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")},
    )
    return artifacts_dir / "python"
