"""Build the optional C accelerator (rawpush/proto/ws/_speedups.c).

hatchling runs this hook for every wheel, editable or not. It compiles the
one C file with the compiler and flags Python itself was built with
(``sysconfig``), and skips cleanly, with a warning, when there is no
compiler, when compiling fails, or when ``RAWPUSH_NO_SPEEDUPS`` is set:
rawpush then runs on pure Python, only slower on large WebSocket frames.

- editable install (``pip install -e .``): the shared object is written
  next to the C file, where the ``.pth`` entry makes Python find it;
- regular wheel: it is compiled in a temporary directory and added to the
  wheel, which is then tagged for this interpreter and platform.

``python hatch_build.py`` builds it in-tree the same way, without pip.
``CC`` in the environment overrides the compiler (``CC=false`` tests the
fallback).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

SOURCE = Path("rawpush", "proto", "ws", "_speedups.c")


def speedups_disabled() -> bool:
    """True when ``RAWPUSH_NO_SPEEDUPS`` asks for pure Python."""
    return os.environ.get("RAWPUSH_NO_SPEEDUPS", "") not in ("", "0")


def extension_name() -> str:
    """``_speedups`` plus this interpreter's suffix (``.cpython-311-...so``)."""
    return "_speedups" + str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def compile_speedups(root: Path, out_dir: Path) -> Path | None:
    """Compile the accelerator into ``out_dir``; its path, or None (with the
    reason on stderr) when it cannot be built here."""
    if speedups_disabled():
        print("rawpush: RAWPUSH_NO_SPEEDUPS set, not building the C accelerator", file=sys.stderr)
        return None
    cc = shlex.split(os.environ.get("CC") or str(sysconfig.get_config_var("CC") or ""))
    if not cc or shutil.which(cc[0]) is None:
        print("rawpush: no C compiler found, using pure-Python masking", file=sys.stderr)
        return None
    ldshared = shlex.split(str(sysconfig.get_config_var("LDSHARED") or ""))
    if os.environ.get("CC") or not ldshared:
        # LDSHARED names Python's own compiler; follow an overriding CC.
        ldshared = [*cc, "-shared"]
    include = sysconfig.get_paths()["include"]
    target = out_dir / extension_name()
    with tempfile.TemporaryDirectory() as tmp:
        obj = Path(tmp, "_speedups.o")
        commands = [
            [*cc, *shlex.split(str(sysconfig.get_config_var("CCSHARED") or "")),
             "-O3", "-Wall", "-I", include, "-c", str(root / SOURCE), "-o", str(obj)],
            [*ldshared, str(obj), "-o", str(target)],
        ]
        for command in commands:
            try:
                subprocess.run(command, check=True, capture_output=True, text=True)
            except (OSError, subprocess.CalledProcessError) as exc:
                detail = getattr(exc, "stderr", "") or str(exc)
                print(f"rawpush: building the C accelerator failed, using pure Python:\n"
                      f"  {shlex.join(command)}\n{detail}", file=sys.stderr)
                target.unlink(missing_ok=True)
                return None
    return target


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a plain script, without hatchling installed
    BuildHookInterface = object  # type: ignore[assignment,misc]


class SpeedupsHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    """hatchling's custom build hook (``[tool.hatch.build.hooks.custom]``)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return  # the sdist ships the C source and builds nothing
        root = Path(self.root)
        if version == "editable":
            compile_speedups(root, root / SOURCE.parent)
            return
        self._tmp = tempfile.mkdtemp(prefix="rawpush-speedups-")
        built = compile_speedups(root, Path(self._tmp))
        if built is None:
            return
        build_data["force_include"][str(built)] = str(SOURCE.parent / built.name)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    built = compile_speedups(here, here / SOURCE.parent)
    print(built if built is not None else "not built")
    sys.exit(0 if built is not None else 1)
