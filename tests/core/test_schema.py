"""xunjian/core/schema.py: bodies refuse what they do not declare and name the place of a fault;
server/apidoc.py: the document is generated from the routes and refuses an undocumented one."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from flask import Blueprint, Flask, jsonify
from msgspec import Meta

from server.apidoc import UndocumentedRoute, documented, openapi_document
from xunjian.core.schema import Body, BodyError, convert_query, decode_json


class Item(Body):
    name: Annotated[str, Meta(min_length=1, max_length=8)]
    status: Literal["pass", "fail"]


class Batch(Body):
    items: Annotated[list[Item], Meta(max_length=2)]
    count: Annotated[int, Meta(ge=0, le=10)] = 0


class Page(Body):
    limit: Annotated[int, Meta(ge=1, le=500)] = 100
    week: Annotated[str, Meta(pattern=r"^\d{4}-W\d{2}$")] | None = None


@pytest.mark.parametrize(
    ("body", "place"),
    [
        (
            b'{"items": [{"name": "a", "status": "pass"}, {"name": "b", "status": "x"}]}',
            "items[1].status",
        ),
        (b'{"items": [{"name": "", "status": "pass"}]}', "items[0].name"),
        (b'{"items": [], "count": true}', "count"),
        (b'{"items": [], "count": 11}', "count"),
        (b'{"items": [], "extra": 1}', "body"),
        (b'{"items": [1]}', "items[0]"),
        (b'{"items": [' + b", ".join([b'{"name": "a", "status": "pass"}'] * 3) + b"]}", "items"),
        (b"not json", "body"),
        (b"[]", "body"),
    ],
)
def test_a_bad_body_names_its_place(body: bytes, place: str) -> None:
    with pytest.raises(BodyError) as caught:
        decode_json(body, Batch)
    assert caught.value.place == place
    assert str(caught.value).startswith(f"{place}: ")


def test_a_deeply_nested_body_is_refused_not_crashed() -> None:
    with pytest.raises(BodyError, match="nested too deeply"):
        decode_json(b"[" * 100_000 + b"]" * 100_000, list)


def test_a_good_body_decodes_typed() -> None:
    batch = decode_json(b'{"items": [{"name": "a", "status": "fail"}], "count": 2}', Batch)
    assert batch == Batch(items=[Item(name="a", status="fail")], count=2)


def test_query_strings_convert_text_and_refuse_an_empty_value() -> None:
    assert convert_query({"limit": "7"}, Page) == Page(limit=7)
    for bad in ({"limit": "0"}, {"limit": "x"}, {"week": ""}, {"other": "1"}):
        with pytest.raises(BodyError):
            convert_query(bad, Page)


def _app(document_it: bool) -> Flask:
    app = Flask(__name__)
    api = Blueprint("api", __name__, url_prefix="/api/v1")

    def items(item_id: int) -> object:
        return jsonify({})

    if document_it:
        items = documented(
            "one batch", auth="bearer", query=Page, responses={200: Batch}, tags=["t"]
        )(items)
    api.add_url_rule("/items/<int:item_id>", view_func=items, methods=["GET", "PUT"])
    app.register_blueprint(api)
    return app


def test_the_document_comes_from_the_routes() -> None:
    document = openapi_document(_app(document_it=True))
    operation = document["paths"]["/api/v1/items/{item_id}"]["get"]
    assert operation["security"] == [{"bearerToken": []}]
    names = [parameter["name"] for parameter in operation["parameters"]]
    assert names == ["item_id", "limit", "week"]
    assert set(operation["responses"]) == {"200", "400", "401", "404"}
    schemas = document["components"]["schemas"]
    assert schemas["Batch"]["additionalProperties"] is False
    assert schemas["Item"]["properties"]["name"]["maxLength"] == 8
    assert "put" in document["paths"]["/api/v1/items/{item_id}"]


def test_an_undocumented_route_is_refused() -> None:
    with pytest.raises(UndocumentedRoute, match="/api/v1/items"):
        openapi_document(_app(document_it=False))
