"""The documentation's API reference lists exactly the public names of the package."""

from __future__ import annotations

import re
from pathlib import Path

import cellucid

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_api_reference_covers_the_public_names():
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\.\. auto(?:function|class):: cellucid\.(\w+)$", text, re.M)
    assert sorted(documented) == sorted(cellucid._PUBLIC)


def test_every_guide_page_is_in_the_toctree():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    toctree = set(re.findall(r"^([\w-]+)$", index, re.M))
    pages = {p.stem for p in DOCS.glob("*.md")} | {"quickstart"}
    assert pages - {"index"} <= toctree
