"""The API about itself: its OpenAPI document, and who the token belongs to."""
from __future__ import annotations

from flask import jsonify
from flask_babel import lazy_gettext as _l

from tracker.api import bp, serialize
from tracker.api.openapi import boolean, integer, obj, operation, string


@operation(bp, "GET", "/openapi.json", summary=_l("OpenAPI 3 文档（本接口的完整说明）"), tag="meta", auth=False,
           response={"type": "object", "additionalProperties": True})
def openapi_document(call):
    from tracker.api import PREFIX
    from tracker.api.openapi import document

    response = jsonify(document(PREFIX))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@operation(bp, "GET", "/me", summary=_l("令牌所属的用户"), tag="meta",
           response=obj(["user", "token_id"], user=serialize.USER, token_id=integer(1),
                        api_version=string(), can_oversee=boolean()))
def me(call):
    from flask import g

    return {"user": serialize.user(call.user), "token_id": g.api_token_id, "api_version": "1",
            "can_oversee": call.user.has_role("admin", "leadership", "supervisor")}
