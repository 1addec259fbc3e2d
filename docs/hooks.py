"""mkdocs hook: add the generated reference pages to every build.

The pages exist only in the build (``File.generated``), never in the
repository, so they are always those of the code being documented.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_DOCS = Path(__file__).resolve().parent
if str(_DOCS) not in sys.path:
    sys.path.insert(0, str(_DOCS))
if str(_DOCS.parent) not in sys.path:
    sys.path.insert(0, str(_DOCS.parent))

import gen_pages  # noqa: E402
import gen_reference  # noqa: E402


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File  # type: ignore[import-not-found, unused-ignore]

    for src_uri, content in {**gen_reference.pages(), **gen_pages.pages()}.items():
        files.append(File.generated(config, src_uri, content=content))
    return files
