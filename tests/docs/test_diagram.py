"""docs/architecture/: the committed PNG is exactly what `make diagram` renders from the committed source.

Rendering is deterministic for given Graphviz and fonts (Debian's graphviz and fonts-dejavu-core, which
`make graphviz` installs and .ci/run calls): the test re-renders into a temporary file with the same make
target and compares the decoded pixels, so a PNG encoder's byte-level choices cannot hide or fake a change.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from tests.docs.shell import ROOT

ARCHITECTURE = ROOT / "docs" / "architecture"
SOURCE = ARCHITECTURE / "architecture.dot"
PNG = ARCHITECTURE / "architecture.png"


def test_make_diagram_reproduces_the_committed_png(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed: `make graphviz` (as root) installs Debian's graphviz and fonts")
    rendered = tmp_path / "architecture.png"
    result = subprocess.run(
        ["make", "diagram", f"DIAGRAM_PNG={rendered}"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    committed, fresh = Image.open(PNG).convert("RGBA"), Image.open(rendered).convert("RGBA")
    assert committed.size == fresh.size, (
        f"{PNG.name} is {committed.size}, the source renders {fresh.size}: run make diagram"
    )
    changed = ImageChops.difference(committed, fresh).getbbox()
    assert changed is None, f"{PNG.name} differs from its source in the box {changed}: run `make diagram` and commit"


def node_labels() -> str:
    """The text of every label in the source, lower-cased."""
    return " ".join(re.findall(r'label="((?:[^"\\]|\\.)*)"', SOURCE.read_text())).lower()


@pytest.mark.parametrize(
    "part",
    [
        "uci data",
        "training/",
        "mlflow",
        "models/<version>",
        "cloud storage",
        "cloud function",
        "cloud logging",
        "log-based metrics",
        "dashboard",
        "alert",
        "ci.yml",
        "deploy.yml",
        "terraform",
        "bigquery",
    ],
)
def test_diagram_shows_the_whole_system(part: str) -> None:
    assert part in node_labels(), f"the architecture diagram does not show {part!r}"
