"""A figure the guides quote comes from one place and agrees with it.

- Model figures: the figures of one training run in ``docs/training.md`` are the named version's manifest
  (``metrics``, ``model``, ``threshold``, ``fairness``, ``ablations``, ``split``), each as rounded where it is shown;
  a gap quoted between two ROC-AUCs is the gap between the manifest's.
- Bench figures: ``make bench`` prints the README's *Performance* tables (they say when and where it ran); the
  prose under them and the measured inputs of ``docs/capacity.md`` quote those tables, rounded, and nothing else.
- Training time is stated in one place, ``docs/training.md``; the runbook and guides link to it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator

from tests.docs.shell import ROOT, documents

NUMBER = re.compile(r"(?<![\w.\-+])(?P<sign>[+-]?)(?P<number>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w.]*\w)")
MANIFEST_PARTS = ("metrics", "model", "threshold", "fairness", "ablations", "split")


def numbers(text: str) -> Iterator[tuple[str, float, int]]:
    """(as written, value, decimals shown) of every number in ``text``."""
    for match in NUMBER.finditer(text):
        written = match["number"].replace(",", "")
        decimals = len(written.split(".")[1]) if "." in written else 0
        value = float(written) * (-1 if match["sign"] == "-" else 1)
        yield match.group(0), value, decimals


def shown_as(value: float, decimals: int) -> float:
    return round(value, decimals)


def agrees(quoted: float, decimals: int, sources: Iterable[float]) -> bool:
    return any(abs(shown_as(source, decimals) - quoted) < 10 ** -(decimals + 3) for source in sources)


def section(text: str, heading: str) -> str:
    """From the line ``heading`` to the next heading of the same or a higher level."""
    start = text.index(heading + "\n") if heading + "\n" in text else text.index(heading)
    level = heading.split(" ", 1)[0]
    following = re.compile(rf"^#{{1,{len(level)}}} ", re.MULTILINE).search(text, start + len(heading))
    return text[start : following.start() if following else len(text)]


def leaves(value: object) -> Iterator[float]:
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield float(value)


# --- model figures ----------------------------------------------------------------------------------------------


def training_run_section() -> tuple[str, str]:
    """The training guide's figures of one run, and the version they are of."""
    text = (ROOT / "docs" / "training.md").read_text()
    heading = next(line for line in text.splitlines() if line.startswith("### Figures of one full `make train`"))
    version = re.search(r"version `(v[0-9a-f]{32})`", heading)
    assert version, heading
    return section(text, heading).split("\n", 1)[1], version[1]


def roc_aucs(manifest: dict) -> list[float]:
    found = []

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, name)
        elif isinstance(value, float) and "roc_auc" in key:
            found.append(value)

    walk({part: manifest[part] for part in ("metrics", "ablations")})
    return found


def test_the_training_guides_figures_are_its_versions_manifest() -> None:
    body, version = training_run_section()
    manifest = json.loads((ROOT / "models" / version / "manifest.json").read_text())
    sources = [value for part in MANIFEST_PARTS for value in leaves(manifest[part])]
    aucs = roc_aucs(manifest)
    gaps = [abs(a - b) for a, b in itertools.combinations(aucs, 2)]
    prose = re.sub(r"\[[^\]]*\]\([^)]*\)|`[^`]*`", "", body)  # links and code are names, not figures
    prose = re.sub(r"under \d+", "", prose)  # a group's name (age under 25)
    prose = "\n\n".join(p for p in prose.split("\n\n") if not p.startswith("Time:"))  # the one time quote
    checked, wrong = 0, []
    for written, value, decimals in numbers(prose):
        if decimals == 0 and value < 10:  # counts of things ("three", "2 cores") rather than figures
            continue
        checked += 1
        if not (agrees(abs(value), decimals, map(abs, sources)) or agrees(abs(value), decimals, gaps)):
            wrong.append(written)
    assert checked >= 40, f"only {checked} figures found: the section moved"
    assert not wrong, f"docs/training.md quotes figures that {version}'s manifest does not hold: {wrong}"


# --- bench figures ----------------------------------------------------------------------------------------------

BENCH_UNITS = re.compile(r"^\s*(?:ms|req/s|MB|s\b|×|%)")


def performance() -> tuple[str, str]:
    """The README's Performance section: its tables, and its prose."""
    text = section((ROOT / "README.md").read_text(), "## Performance")
    lines = text.splitlines()
    tables = "\n".join(line for line in lines if line.startswith("|"))
    prose = "\n".join(line for line in lines if not line.startswith("|"))
    return tables, prose


def measured_quotes(text: str) -> Iterator[tuple[str, float, int]]:
    """The numbers of ``text`` followed by a unit the bench measures in (ms, req/s, MB, s, ×, %)."""
    for match in NUMBER.finditer(text):
        if BENCH_UNITS.match(text[match.end() :]):
            yield from numbers(match.group(0))


def bench_figures() -> list[float]:
    tables, _ = performance()
    return [value for _, value, _ in numbers(tables)]


def test_the_readmes_performance_prose_quotes_its_bench_tables() -> None:
    _, prose = performance()
    prose = prose.split("Last run:", 1)[1]  # the bench's description above states no result
    quoted = list(measured_quotes(prose))
    wrong = [
        written for written, value, decimals in quoted if not agrees(abs(value), decimals, map(abs, bench_figures()))
    ]
    assert len(quoted) >= 20, quoted
    assert not wrong, f"the README's Performance prose quotes figures its tables do not hold: {wrong}"


def test_capacity_takes_its_measured_inputs_from_the_bench_tables() -> None:
    text = (ROOT / "docs" / "capacity.md").read_text()
    measured = re.findall(r"(\d[\d.,]*) (?:req/s|ms \(HTTP p50\)|ms in process|ms of server CPU|MB per 10,000)", text)
    assert len(measured) >= 6, measured
    wrong = [
        written
        for figure in measured
        for written, value, decimals in numbers(figure)
        if not agrees(value, decimals, bench_figures())
    ]
    assert not wrong, f"docs/capacity.md quotes measured figures the README's bench tables do not hold: {wrong}"


def test_training_time_is_stated_in_the_training_guide_alone() -> None:
    stated = re.compile(r"(?:make train|training)[^.]{0,80}?\b\d+ ?(?:s|seconds|minutes)\b", re.IGNORECASE)
    elsewhere = [
        str(path.relative_to(ROOT))
        for path in documents()
        if path.name != "training.md" and stated.search(path.read_text())
    ]
    assert not elsewhere, f"training time quoted outside docs/training.md: {elsewhere}"


def test_the_retraining_guide_names_the_metric_training_logs_for_the_served_candidate() -> None:
    from training.tracking import metric_name

    version = (ROOT / "models" / "PROMOTED").read_text().strip()
    model = json.loads((ROOT / "models" / version / "manifest.json").read_text())["model"]
    key = f"{model['feature_set']}.{model['preprocessing']}.{'x'.join(map(str, model['hidden']))}.{model['target']}"
    assert key in model["candidates"], "the manifest's candidates are keyed as training logs them"
    guide = (ROOT / "docs" / "user_guides" / "retraining.md").read_text()
    assert f"`select.{metric_name(key)}.val_roc_auc`" in guide
