"""The model card of a version, generated from its manifest: ``python -m training.model_card`` (``make model-card``).

Writes ``docs/model_card.md`` for the promoted version (``models/PROMOTED``) by default. Everything that is a
figure comes from the manifest; everything that is a rule comes from the code that applies it (the contract's
roles, the explanation groups, the gate, the stability bands). A test regenerates the card and fails when it
differs from the committed one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from default_risk.contract.artifacts import MANIFEST_FILE, MODELS_PREFIX, NotDeclared, declared_version
from default_risk.contract.bands import PSI_ACT, PSI_WATCH
from default_risk.contract.fields import FEATURES, FEATURES_BY_NAME
from default_risk.contract.model_inputs import DERIVED_FEATURES
from default_risk.contract.points import PROBABILITY_FLOOR, ScoreScale
from default_risk.contract.reasons import GROUPS, MAX_REASONS
from default_risk.contract.recourse import ACTIONABLE_FIELDS, DEFAULT_TARGET_BAND, LEVERS, RAISE
from default_risk.model.recourse import lever_ranges
from default_risk.model.version import training_range
from training.config import AIR_LIMIT, BASELINE, BASELINE_MARGIN, GREEN_FROM, MIN_GROUP_ROWS, QUALITY_GATE, RED_BELOW

DEFAULT_OUTPUT = Path("docs/model_card.md")
EXAMPLE = {
    "LIMIT_BAL": 20000,
    "EDUCATION": 2,
    "PAY_0": 2,
    "PAY_2": 2,
    "PAY_3": -1,
    "PAY_4": -1,
    "PAY_5": -2,
    "PAY_6": -2,
    **{f"BILL_AMT{m}": v for m, v in enumerate((3913, 3102, 689, 0, 0, 0), start=1)},
    **{f"PAY_AMT{m}": v for m, v in enumerate((0, 689, 0, 0, 0, 0), start=1)},
}
"""Row 1 of the UCI data, whose values the card's reason sentences quote."""

WHY_LEFT_OUT = {
    "SEX": "US Regulation B (12 CFR 1002.6(b)) forbids using sex in a credit-scoring system",
    "MARRIAGE": "Regulation B forbids using marital status in a credit-scoring system",
    "AGE": "Regulation B allows age only if no applicant aged 62+ gets a negative factor for it; leaving it out "
    "meets that by construction, for a small cost in validation ROC-AUC (below)",
}


def _f(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _identity(manifest: dict) -> list[str]:
    files = [[f"`{name}`", f"`{entry['sha256']}`", f"{entry['bytes']:,}"] for name, entry in manifest["files"].items()]
    return [
        f"# Model card: credit-card default risk, version `{manifest['version']}`",
        "",
        "Generated from the version's `manifest.json` by `make model-card`; do not edit by hand "
        "(`tests/model` fails when the card and the promoted manifest disagree).",
        "",
        f"- created {manifest['created_at']}, MLflow run `{manifest['mlflow']['run_id']}` "
        f"(experiment `{manifest['mlflow']['experiment']}`)",
        f"- training data: `{manifest['data']['file']}`, sha256 `{manifest['data']['sha256']}`",
        "",
        *_table(["file", "sha256", "bytes"], files),
    ]


def _use() -> list[str]:
    return [
        "## Intended use and users",
        "",
        "The probability that a credit-card customer defaults on next month's payment, with a risk band and the "
        "principal reasons, for a bank's credit-risk team: to prioritise collections and account reviews, to "
        "set or review credit limits, and, with a person's review, to support adverse-action decisions, whose "
        f"notices quote at most {MAX_REASONS} of the reasons below. Callers are the bank's applications (the "
        "HTTPS function) and analysts (BigQuery).",
        "",
        "## Uses it must not have",
        "",
        "- Decisions about people outside the population it learned from (credit-card customers of one bank in "
        "Taiwan, 2005), or about other products (mortgages, loans, insurance, employment, housing).",
        "- Fully automated denial of credit without a person's review and an adverse-action notice.",
        "- Any use of its scores to infer or act on sex, marital status or age; pricing that reintroduces them.",
        "- Use after its stability monitoring says act (PSI above "
        f"{PSI_ACT}) without a review, or beyond the validity its owners set for it.",
    ]


def _data(manifest: dict) -> list[str]:
    data, split = manifest["data"], manifest["split"]
    rows = [
        [part, f"{split['rows'][part]:,}", f"{split['positives'][part] / split['rows'][part]:.3f}"]
        for part in split["rows"]
    ]
    return [
        "## Data",
        "",
        f'UCI "Default of Credit Card Clients" ({data["rows"]:,} customers, {data["positives"]:,} defaults): '
        f"{data['population']}; {data['period']}. Split {split['method']} with seed {split['seed']}: the test "
        "set is scored once, every choice is made on validation.",
        "",
        *_table(["part", "rows", "default rate"], rows),
    ]


def _fields(manifest: dict) -> list[str]:
    used = [f"`{f.name}`" for f in FEATURES if f.name in manifest["model_fields"]]
    left = [
        [f"`{name}`", WHY_LEFT_OUT.get(name, FEATURES_BY_NAME[name].description)]
        for name in manifest["protected_fields"]
    ]
    model = manifest["model"]
    lines = [
        "## Fields used and left out",
        "",
        f"The model uses {len(used)} of the 23 fields: {', '.join(used)}. With the feature set "
        f"`{model['feature_set']}`"
        + (
            f" it also derives {len(DERIVED_FEATURES)} features from them (`{'`, `'.join(DERIVED_FEATURES)}`; "
            "definitions in `functions/default_risk/contract/model_inputs.py`)."
            if model["feature_set"] != "fields"
            else "."
        ),
        "",
        "Left out deliberately: the API accepts them (optional) and the fairness report groups by them; they never "
        "reach the model (not in training, `prep.joblib` or `model.tflite`), and training proved on every test "
        "record that no value of them (or their absence) moves a served score.",
        "",
        *_table(["field", "why"], left),
    ]
    ablations = manifest.get("ablations")
    if ablations:
        served = ablations["served_val_roc_auc"]
        rows = [["served (none of them)", _f(served), "-"]] + [
            [name, _f(v["val_roc_auc"]), f"{v['val_roc_auc'] - served:+.4f}"]
            for name, v in ablations["variants"].items()
        ]
        lines += ["", "What leaving them out cost (the same configuration refitted, validation ROC-AUC):", ""]
        lines += _table(["refitted", "validation ROC-AUC", "against served"], rows)
    return lines


def _model(manifest: dict) -> list[str]:
    model = manifest["model"]
    target = (
        f"the outcomes blended with a gradient-boosting teacher's out-of-fold probabilities (weight "
        f"{model['teacher_weight']})"
        if model["target"] == "distilled"
        else "the observed outcomes"
    )
    candidates = [[f"`{key}`", _f(auc)] for key, auc in sorted(model["candidates"].items(), key=lambda kv: -kv[1])]
    return [
        "## Model",
        "",
        f"A Keras MLP (hidden layers {model['hidden']}, {model['epochs']} epochs, early stopping on validation "
        f"ROC-AUC) on the `{model['preprocessing']}` preprocessing, trained on {target}; Platt scaling "
        f"(a = {model['platt']['a']:.4f}, b = {model['platt']['b']:.4f}) fitted on validation and folded into the "
        "served model. Served with LiteRT (`model.tflite`, equal to Keras within "
        f"{manifest['litert_keras_max_difference']:.1e} on {manifest['parity_rows']:,} test rows).",
        "",
        f"Chosen on {model['chosen_on']} among:",
        "",
        *_table(["candidate", "validation ROC-AUC"], candidates),
    ]


def _metrics(manifest: dict) -> list[str]:
    metrics = manifest["metrics"]
    names = ("roc_auc", "pr_auc", "brier", "log_loss", "ks", "ece")
    rows = []
    for part in ("validation", "test"):
        rows.append([f"MLP (served), {part}", *(_f(metrics[part][n]) for n in names)])
        for name, figures in metrics[f"baselines_{part}"].items():
            rows.append([f"{name} (same inputs), {part}", *(_f(figures[n]) for n in names)])
    gate = ", ".join(f"{name} {op} {limit}" for name, (op, limit) in QUALITY_GATE.items())
    return [
        "## Metrics (validation, the set every choice is made on; test, scored once; baselines trained on the same "
        "inputs in the same run)",
        "",
        *_table(["model", *names], rows),
        "",
        f"Quality gate for promotion: test {gate}; validation ROC-AUC at most {BASELINE_MARGIN} below {BASELINE}'s "
        "on the same inputs (a network that loses to the trees it is compared with is refused); the four-fifths "
        "rule below; and a lineage that rebuilds it (below).",
    ]


def _lineage(manifest: dict) -> list[str]:
    lineage = manifest["lineage"]
    code, config = lineage["code"], lineage["config"]
    state = (
        "a clean checkout of that commit"
        if code["clean"]
        else f"**a tree with changes that commit does not hold** ({', '.join(code['changed_files'])})"
    )
    settings = [[f"`{key}`", f"`{json.dumps(value)}`"] for key, value in config.items()]
    machine = lineage["machine"]
    return [
        "## Lineage: rebuilding this version",
        "",
        f"Trained from commit `{code['commit']}`, {state}, by `{lineage['command']}` on {machine['cpu']} "
        f"({machine['cores']} cores, {machine['system']} {machine['architecture']}), Python {lineage['python']}, "
        f"with {', '.join(f'`{k}`' for k in manifest['libraries'] if k != 'python')} at the versions of the "
        f"manifest's `libraries`, and the data's sha256 above. `make reproduce VERSION={manifest['version']}` "
        "trains again from this configuration and says whether the result is byte-identical (CI does so for the "
        "promoted version). Training's environment fixes "
        f"{', '.join(f'`{k}={v}`' for k, v in lineage['determinism'].items())}: TensorFlow promises the same bits "
        "for the same program on the same hardware and software only, so a rebuild is expected to be "
        "byte-identical on the same kind of machine.",
        "",
        *_table(["setting", "value"], settings),
    ]


def _threshold(manifest: dict) -> list[str]:
    decision = manifest["threshold"]
    cm = decision["test"]["confusion_matrix"]
    test = manifest["metrics"]["test"]
    return [
        "## Threshold and calibration",
        "",
        f"Threshold {decision['value']:.4f} ({decision['rule']}): {decision['meaning']}. On the test set it flags "
        f"{decision['test']['flagged_share']:.1%} of customers, with precision {decision['test']['precision']:.3f} "
        f"and recall {decision['test']['recall']:.3f} (TN {cm['tn']}, FP {cm['fp']}, FN {cm['fn']}, TP {cm['tp']}). "
        "The API returns probabilities and bands, not decisions: the threshold is the one the fairness report "
        "and the gate judge.",
        "",
        f"Calibration: expected calibration error {test['ece']:.4f} (10 equal-width bins) and Brier score "
        f"{test['brier']:.4f} on the test set; the probabilities can be read as default rates.",
    ]


def _fairness(manifest: dict) -> list[str]:
    report = manifest["fairness"]
    header = ["group", "rows", "default rate", "mean p", "ROC-AUC", "ECE", "flagged", "TPR", "FPR", "AIR"]
    rows = []
    for entry in report["attributes"]:
        kind = "gated" if entry["gated"] else "reported, not gated"
        rows.append([f"**{entry['attribute']}** ({kind})", *[""] * (len(header) - 1)])
        for g in entry["groups"]:
            rows.append(
                [
                    g["group"],
                    f"{g['rows']:,}",
                    *(
                        _f(g[k], 3)
                        for k in (
                            "default_rate",
                            "mean_probability",
                            "roc_auc",
                            "ece",
                            "flagged_share",
                            "tpr",
                            "fpr",
                            "air",
                        )
                    ),
                ]
            )
    lowest = report["lowest_gated_air"]
    return [
        "## Fairness (test set, at the threshold)",
        "",
        f"AIR is the adverse-impact ratio: the group's share not flagged over that of its attribute's most favoured "
        f"group of {MIN_GROUP_ROWS}+ rows. Promotion is refused when a group of `SEX`, `MARRIAGE` or an age band with "
        f"at least {MIN_GROUP_ROWS} test rows is below {AIR_LIMIT} (the four-fifths rule). `EDUCATION` is reported, "
        "not gated: it is not a protected class, and its small groups with very low default rates would trip the rule.",
        "",
        *_table(header, rows),
        "",
        f"Lowest ratio of a gated group of {MIN_GROUP_ROWS}+ rows: **{lowest['air']:.3f}** "
        f"({lowest['attribute']} {lowest['group']}, {lowest['rows']} rows)."
        if lowest
        else "",
    ]


def _bands_and_reasons(manifest: dict) -> list[str]:
    bands = manifest["serving"]["bands"]["table"]
    scale = ScoreScale.from_dict(manifest["serving"]["score_scale"])
    rows = []
    for b in bands:
        highest, lowest = scale.points(np.array([b["low"], b["high"]]))
        rows.append(
            [
                b["band"],
                f"{b['low']:.4f}",
                f"{b['high']:.4f}",
                f"{lowest:.0f}",
                f"{highest:.0f}" if b["low"] > 0 else f"{highest:.0f} (p held at {PROBABILITY_FLOOR:g})",
                f"{b['test_rows']:,}",
                _f(b["observed_default_rate"], 3),
            ]
        )
    reasons = [[g.code, g.title, ", ".join(f"`{f}`" for f in g.fields), g.sentence(EXAMPLE)] for g in GROUPS]
    explanation = manifest["serving"]["explanation"]
    return [
        "## Risk bands",
        "",
        "Deciles of the validation scores; every prediction carries its band (`risk_band`) and its score in points "
        f"(`score`): {scale.base_points:g} points at odds of {scale.base_odds:g} to 1 (repaid to defaulted), "
        f"{scale.points_to_double_odds:g} more for each doubling of the odds, so points = "
        f"{scale.offset:.4f} + {scale.factor:.4f} ln((1 - p) / p); higher is lower risk.",
        "",
        *_table(["band", "from p", "to p", "from points", "to points", "test rows", "observed default rate"], rows),
        "",
        "## Reasons (`POST /explain`)",
        "",
        "Exact Shapley values of the probability over the groups below, against one reference record, "
        f"{explanation['reference_rule']} (its probability: {explanation['reference_probability']:.4f}). The "
        f"contributions add up to the probability minus the reference's; the reasons are the at most {MAX_REASONS} "
        "groups that raise it most, each with its code and a sentence quoting the customer's values (examples "
        "below for row 1 of the data).",
        "",
        *_table(["code", "reason", "fields", "sentence, for example"], reasons),
    ]


def _recourse(manifest: dict) -> list[str]:
    serving = manifest["serving"]
    band = next(b for b in serving["bands"]["table"] if b["band"] == DEFAULT_TARGET_BAND)
    ranges = lever_ranges({field: training_range(serving, field) for field in ACTIONABLE_FIELDS})
    rows = []
    for lever, (low, high) in zip(LEVERS, ranges, strict=True):
        way = " or ".join("up" if direction == RAISE else "down" for direction in lever.directions)
        own = f"at most `{lever.at_most_field}`" if lever.at_most_field else ""
        own = own or (f"at least {lever.at_least:,.0f}" if lever.at_least is not None else "")
        rows.append([f"`{lever.field}`", way, f"{low:,.0f} to {high:,.0f}", own or "-"])
    return [
        "## Recourse (`POST /explain?recourse=...`)",
        "",
        "What change would bring a customer down to a target band (default "
        f"{DEFAULT_TARGET_BAND}, p below {band['high']:.4f}): the smallest change of one actionable field, and the "
        "best pair, each verified by scoring the changed record with this version. Only these fields change, one way "
        "each, within the contract's range, this version's training range and their own bound; the payment history, "
        "`EDUCATION`, the older amounts and the protected fields never do. Where the probability did not fall at "
        "every step of the search along a change, the suggestion says so (`monotone: false`): the model is not "
        "monotone in that field for that customer. No feasible change is a valid answer.",
        "",
        *_table(["field", "changes", "range (NT$)", "its own bound"], rows),
    ]


def _backtesting() -> list[str]:
    return [
        "## Back-testing against realized defaults",
        "",
        "Every answered decision is recorded (its inputs, this version and its PD); once the bank knows whether the "
        "customer defaulted, `make backtest` (and, monthly, a scheduled BigQuery query over the records and the "
        "outcomes table) compares the observed default rate with the predicted PD per version, vintage and risk band: "
        "ROC-AUC, KS, Brier, ECE, Hosmer-Lemeshow, the Jeffreys interval and one-sided tests, the binomial tails. "
        "Decisions without an outcome are pending, never counted as good. Traffic light on the one-sided Jeffreys "
        f"p-value that the PD underestimates: green from {GREEN_FROM}, yellow down to {RED_BELOW}, red below (the "
        "ECB's instructions for reporting IRB validation results, 2019, section 2.5.3.1). Where the records carry the "
        "protected fields, both also give each group's default rate and adverse-impact ratio at this version's "
        f"threshold (sex, marital status, age band; BigQuery table `backtest_groups`): a ratio below {AIR_LIMIT} on "
        "matured decisions goes to the fair-lending reviewers, as the promotion gate's does on the test split.",
        "",
        "The owner's action on red (the alert pages; `docs/runbooks/backtest_red.md`): rule out immature or partial "
        "outcomes, check stability, tighten the decisions that rely on the red bands until a retrained version whose "
        "back-test on the same outcomes is green is promoted, and record the finding in the model's review file.",
    ]


def _limits() -> list[str]:
    return [
        "## Stability monitoring",
        "",
        f"Every request's log line counts its records per band; a daily query computes the score's PSI per version "
        f"against the validation shares stored in the manifest, and `make drift` the PSI of the score and of every "
        f"field of a portfolio. PSI below {PSI_WATCH} is stable, {PSI_WATCH} to {PSI_ACT} watch, above {PSI_ACT} act "
        "(`docs/runbooks/drift_alert.md`).",
        "",
        "## Limitations",
        "",
        "- One country, one bank, one year (April to September 2005): customers, prices and the economy differ "
        "today; validate on the bank's own recent data before any decision rests on it.",
        "- Six months of history; no bureau data, income or other debts.",
        "- Undocumented codes (EDUCATION 0, 5, 6; MARRIAGE 0; repayment status -2 and 0) are learned as they "
        "occur, without a known meaning.",
        "- The fairness report can only group by what the data records; it says nothing of groups it cannot see.",
        "- The test set has few customers aged 62+; the age-band figures for them are uncertain.",
    ]


def model_card(manifest: dict) -> str:
    sections = (
        _identity(manifest),
        _use(),
        _data(manifest),
        _fields(manifest),
        _model(manifest),
        _metrics(manifest),
        _lineage(manifest),
        _threshold(manifest),
        _fairness(manifest),
        _bands_and_reasons(manifest),
        _recourse(manifest),
        _backtesting(),
        _limits(),
    )
    return "\n\n".join("\n".join(section).strip() for section in sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.model_card", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", help="version folder name (default: the one models/PROMOTED names)")
    parser.add_argument("--models-dir", type=Path, default=Path(MODELS_PREFIX))
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        version = args.version or declared_version(args.models_dir)
    except NotDeclared as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    path = args.models_dir / version / MANIFEST_FILE
    if not path.is_file():
        print(f"error: {path} does not exist", file=sys.stderr)
        return 1
    args.output.write_text(model_card(json.loads(path.read_text())))
    print(f"wrote {args.output} for version {version}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
