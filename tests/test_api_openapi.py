"""The OpenAPI document describes exactly the API there is: every /api/v1 rule is in it, every
described operation is a rule, every reference resolves, every operation documents its errors."""
from __future__ import annotations

import json
import re

import pytest

from tracker.api import PREFIX
from tracker.api.errors import CODES


def _rule_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule[len(PREFIX):])


def _routes(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/") or rule.rule == PREFIX:
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                out.add((method.lower(), _rule_to_openapi(rule.rule)))
    return out


def test_every_api_rule_is_described_and_every_description_exists(app, client):
    doc = client.get(f"{PREFIX}/openapi.json").get_json()
    described = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    routes = _routes(app)
    assert routes - described == set(), f"routes missing from the OpenAPI document: {sorted(routes - described)}"
    assert described - routes == set(), f"described but not routed: {sorted(described - routes)}"
    assert len(routes) >= 25


def test_document_is_consistent(client):
    resp = client.get(f"{PREFIX}/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.") and doc["servers"] == [{"url": PREFIX}]
    schemas = doc["components"]["schemas"]
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', text)):
        assert ref in schemas, ref
    ids = set()
    for path, ops in doc["paths"].items():
        params_in_path = set(re.findall(r"\{(\w+)\}", path))
        for method, op in ops.items():
            assert op["operationId"] not in ids
            ids.add(op["operationId"])
            assert op["summary"] and op["tags"], (method, path)
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == params_in_path, (method, path)
            codes = {int(c) for c in op["responses"]}
            assert any(200 <= c < 300 for c in codes), (method, path)
            if op["security"]:
                assert {401, 403, 404, 422} <= codes, (method, path)
            if "requestBody" in op:
                assert {400, 413, 415, 422} <= codes, (method, path)
            for code in codes - {200, 201}:
                assert code in CODES
                assert op["responses"][str(code)]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"}
    assert "bearer" in doc["components"]["securitySchemes"]


def test_openapi_document_is_public_but_everything_else_needs_a_token(client, db):
    doc = client.get(f"{PREFIX}/openapi.json").get_json()
    public = [(m, p) for p, ops in doc["paths"].items() for m, op in ops.items() if not op["security"]]
    assert public == [("get", "/openapi.json")]


def test_schema_loads_in_schemathesis(client):
    schemathesis = pytest.importorskip("schemathesis")  # requirements-dev.txt: schemathesis==4.32.5

    schema = schemathesis.openapi.from_dict(client.get(f"{PREFIX}/openapi.json").get_json())
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) == len(_routes(client.application))
