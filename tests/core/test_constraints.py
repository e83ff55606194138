from __future__ import annotations

import pytest
from openai.lib._pydantic import to_strict_json_schema

from qa.core.constraints import output_budget, response_schema
from qa.schemas import Answer, Summary
from qa.tasks.answer_many import AnswerSet


@pytest.mark.parametrize("model", [Answer, Summary, AnswerSet])
def test_every_response_model_passes_the_sdks_strict_conversion(model) -> None:
    schema = to_strict_json_schema(model)

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object":
                assert node["additionalProperties"] is False
                assert set(node["required"]) == set(node["properties"])
            assert "default" not in node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert response_schema(model) == schema


def test_every_schema_field_is_documented() -> None:
    for model in (Answer, Summary):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"


def test_quotes_are_constrained_to_the_given_sentences_everywhere() -> None:
    sentences = ["China pledged credit.", "Colombia joined."]
    schema = response_schema(Summary, sentences)
    enums = []

    def walk(node):
        if isinstance(node, dict):
            if "quote" in node.get("properties", {}):
                enums.append(node["properties"]["quote"]["enum"])
            for value in node.values():
                walk(value)

    walk(schema)
    assert enums == [sorted(sentences), sorted(sentences)]  # key points and figures
    # The unconstrained schema is untouched by the constrained copy.
    plain = response_schema(Summary)["$defs"]
    assert "enum" not in plain["KeyPoint"]["properties"]["quote"]
    assert plain["KeyPoint"]["properties"]["quote"]["maxLength"] == 400


def test_output_budget_follows_the_schema_bounds() -> None:
    answer = output_budget(response_schema(Answer))
    assert 200 < answer < 2000
    short_quotes = output_budget(response_schema(Answer, ["Short one.", "Two."]))
    assert short_quotes < answer
    assert output_budget(response_schema(Summary)) > answer
