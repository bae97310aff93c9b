"""infra/README.md stays in step with variables.tf, outputs.tf and the inline checkov skips."""

from __future__ import annotations

import re

from tests.infra.terraform import INFRA, literal, named_blocks


def table_rows(section: str) -> dict[str, list[str]]:
    """``{name: cells}`` of the table under the README heading ``## section``."""
    text = (INFRA / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_inputs_table_lists_every_variable_with_its_description() -> None:
    variables = named_blocks("variable")
    rows = table_rows("Inputs")
    assert list(rows) == list(variables), "README Inputs must list variables.tf's variables, in order"
    for name, block in variables.items():
        _type, default, description = rows[name]
        assert description == literal(block["description"]), name
        assert (default == "required") == ("default" not in block), f"{name}: required column"


def test_outputs_table_lists_every_output_with_its_description() -> None:
    outputs = named_blocks("output")
    rows = table_rows("Outputs")
    assert list(rows) == list(outputs), "README Outputs must list outputs.tf's outputs, in order"
    for name, block in outputs.items():
        assert rows[name] == [literal(block["description"])], name


def test_readme_lists_exactly_the_inline_checkov_skips() -> None:
    skip = re.compile(r"checkov:skip=(CKV2?_\w+):")
    inline = {check for path in INFRA.glob("*.tf") for check in skip.findall(path.read_text())}
    text = (INFRA / "README.md").read_text()
    section = text.split("\n## Checkov skips", 1)[1].split("\n## ", 1)[0]
    assert inline == set(re.findall(r"^- `(CKV2?_\w+)`", section, re.MULTILINE))
