"""Explanations: exact Shapley values over the groups, equal to the ``shap`` package's exact explainer with the
same reference, grouping and model; they add up; reasons are the groups that raise the probability most and
never cite a field the model does not use; ``POST /explain`` answers as its OpenAPI document says, with recourse
when asked for, each suggestion scoring as it says when sent to ``POST /``."""

from __future__ import annotations

import numpy as np
import pytest

from default_risk.contract.fields import FEATURE_NAMES, PROTECTED_FIELDS
from default_risk.contract.limits import MAX_EXPLAIN_INSTANCES
from default_risk.contract.reasons import GROUPS, MAX_REASONS
from default_risk.contract.recourse import DEFAULT_TARGET_BAND
from default_risk.model.explainer import reasons
from default_risk.model.version import read_local_version
from tests.support.http import post_json
from tests.support.openapi_check import assert_conforms
from tests.support.records import record, records
from tests.support.shap_reference import shap_values
from tests.support.tiny_model import load_rows

COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


@pytest.fixture(scope="module")
def served(tiny_version_dir):
    return read_local_version(tiny_version_dir)


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """200 records of the data set."""
    return load_rows(200, seed=21)[0]


def test_contributions_equal_shaps_exact_explainer_on_200_records(served, rows):
    ours = served.explainer.explain(rows).contributions
    theirs = shap_values(served, rows)
    assert ours.shape == theirs.shape == (200, len(GROUPS))
    assert np.max(np.abs(ours - theirs)) <= 1e-5


def test_contributions_add_up_to_the_probability_minus_the_reference(served, rows):
    explanation = served.explainer.explain(rows)
    probabilities = served.scorer.probabilities(rows)
    reference = served.scorer.probabilities(served.explainer.reference[None])[0]
    assert explanation.reference_probability == pytest.approx(reference, abs=1e-7)
    gap = explanation.contributions.sum(axis=1) - (probabilities - explanation.reference_probability)
    assert np.max(np.abs(gap)) <= 1e-6


def test_a_record_paying_eight_months_late_lists_the_latest_status_first(served, rows):
    late = rows[:20].copy()
    late[:, COLUMN["PAY_0"]] = 8
    explanation = served.explainer.explain(late)
    for row, contributions in zip(late, explanation.contributions, strict=True):
        found = reasons(dict(zip(FEATURE_NAMES, row.tolist(), strict=True)), contributions)
        assert found[0]["code"] == "R01" and found[0]["group"] == "latest_payment_status"
        assert "8 months late last month (PAY_0 = 8)" in found[0]["reason"]


def test_reasons_are_positive_at_most_four_and_never_cite_a_field_the_model_does_not_use(served, rows):
    explanation = served.explainer.explain(rows)
    for row, contributions in zip(rows, explanation.contributions, strict=True):
        found = reasons(dict(zip(FEATURE_NAMES, row.tolist(), strict=True)), contributions)
        assert len(found) <= MAX_REASONS
        assert all(reason["contribution"] > 0 for reason in found)
        assert [r["contribution"] for r in found] == sorted((r["contribution"] for r in found), reverse=True)
        for reason in found:
            assert not any(field in reason["reason"] for field in PROTECTED_FIELDS)
    grouped = {name for group in GROUPS for name in group.fields}
    assert not grouped & set(PROTECTED_FIELDS)


def test_post_explain_answers_as_documented(scoring_server, openapi_document, served, rows):
    instances = [{"id": f"c-{i}", **r} for i, r in enumerate(records(rows[:5]))]
    response = post_json(scoring_server.url + "/explain", {"instances": instances})
    assert response.status == 200, response.json
    assert_conforms(openapi_document, "/explain", "POST", response)
    answer = response.json
    plain = post_json(scoring_server.url, {"instances": instances}).json
    assert [p["probability_of_default"] for p in answer["predictions"]] == [
        p["probability_of_default"] for p in plain["predictions"]
    ]
    assert [p["risk_band"] for p in answer["predictions"]] == [p["risk_band"] for p in plain["predictions"]]
    assert [p["id"] for p in answer["predictions"]] == [i["id"] for i in instances]
    for prediction in answer["predictions"]:
        total = sum(prediction["contributions"].values())
        assert total == pytest.approx(prediction["probability_of_default"] - answer["reference_probability"], abs=1e-6)


def test_post_explain_refuses_more_records_than_it_explains(scoring_server, openapi_document):
    body = {"instances": [record(load_rows(1, seed=3)[0][0])] * (MAX_EXPLAIN_INSTANCES + 1)}
    response = post_json(scoring_server.url + "/explain", body)
    assert response.status == 413 and response.json["error"]["code"] == "too_many_instances"
    assert_conforms(openapi_document, "/explain", "POST", response)


def test_explanations_do_not_depend_on_protected_fields(served, rows):
    without = rows.copy()
    without[:, [COLUMN[name] for name in PROTECTED_FIELDS]] = np.nan
    np.testing.assert_array_equal(
        served.explainer.explain(without).contributions, served.explainer.explain(rows).contributions
    )


def test_post_explain_with_recourse_answers_as_documented_and_each_suggestion_scores_as_it_says(
    scoring_server, openapi_document, served, rows
):
    probabilities = served.scorer.probabilities(rows)
    order = np.argsort(-probabilities)  # the riskiest first: they need recourse
    instances = [{"id": f"c-{i}", **r} for i, r in zip(order[:40].tolist(), records(rows[order[:40]]), strict=True)]
    response = post_json(scoring_server.url + "/explain?recourse=true", {"instances": instances})
    assert response.status == 200, response.json
    assert_conforms(openapi_document, "/explain", "POST", response)
    recourse = [prediction["recourse"] for prediction in response.json["predictions"]]
    assert {r["target_band"] for r in recourse} == {DEFAULT_TARGET_BAND}
    found = [(instance, s) for instance, r in zip(instances, recourse, strict=True) for s in r["suggestions"]]
    assert found and all(r["status"] != "not_needed" for r in recourse[:5])
    changed = [{**instance, **{c["field"]: c["to"] for c in s["changes"]}} for instance, s in found]
    scored = post_json(scoring_server.url, {"instances": changed}).json["predictions"]
    for (_, suggestion), again in zip(found, scored, strict=True):
        assert again["probability_of_default"] == suggestion["probability_of_default"]
        assert again["risk_band"] == suggestion["risk_band"] <= DEFAULT_TARGET_BAND
        assert suggestion["sentence"].endswith(f"would move this customer to band {suggestion['risk_band']} "
                                               f"(p = {suggestion['probability_of_default']:.3f}, "
                                               f"{suggestion['score']:.0f} points)")  # fmt: skip


def test_post_explain_without_recourse_answers_none_and_refuses_a_bad_target(scoring_server, openapi_document, rows):
    body = {"instances": records(rows[:2])}
    plain = post_json(scoring_server.url + "/explain", body)
    assert plain.status == 200 and all("recourse" not in p for p in plain.json["predictions"])
    for value in ("B11", "b05", "yes", ""):
        response = post_json(scoring_server.url + f"/explain?recourse={value}", body)
        assert response.status == 400, value
        assert_conforms(openapi_document, "/explain", "POST", response)
        error = response.json["error"]
        assert error["code"] == "invalid_input" and error["details"][0]["field"] == "recourse", error
