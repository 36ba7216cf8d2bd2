"""The written contract (docs/openapi.yaml) against the code that implements it.

No server and no network: the spec must be valid OpenAPI, and every figure, media type, error
body and route it documents must be what shared/ and the registered ports' apps actually do, so
the spec cannot drift from the code without a test failing.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the lock
import pytest
import referencing
import yaml
from aiohttp import web
from referencing.jsonschema import DRAFT202012
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.definitions import OPENAPI_31

from shared.auth import check_authorization, make_token
from shared.compression import negotiate_coding
from shared.contract import (
    DEFAULT_SOURCES,
    RETRY_AFTER_SECONDS,
    SOURCES,
    ContractError,
    method_not_allowed,
    negotiate,
    not_found,
    parse_data_request,
    request_id,
    unavailable,
)
from shared.encoders import ENCODERS, FORMATS, encode_all
from shared.ports import available_ports
from shared.servers.registry import import_string
from shared.settings import MAX_BATCH, Settings

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "docs" / "openapi.yaml"
SPEC_URI = "urn:streambench:openapi"
DATA_PATHS = ("/standard", "/chunked")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Every status a route can answer with, besides 405 for other methods (no operation to hang it on).
DOCUMENTED_STATUSES = {
    ("/standard", "get"): {"200", "400", "401", "406", "503"},
    ("/chunked", "get"): {"200", "400", "401", "406", "503"},
    ("/healthz", "get"): {"200", "503"},
    ("/metrics", "get"): {"200", "404"},
    ("/metrics/reset-peak", "post"): {"204", "404"},
}
SECRET = "contract-docs-secret-of-at-least-32-bytes"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
    return loaded


@pytest.fixture(scope="module")
def registry(spec: dict[str, Any]) -> referencing.Registry[Any]:
    resource: referencing.Resource[Any] = referencing.Resource.from_contents(
        spec, default_specification=DRAFT202012
    )
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(SPEC_URI, resource)
    return registry


def _validate(registry: referencing.Registry[Any], pointer: str, instance: object) -> None:
    """Validate against a schema of the spec, `#/...` references resolved inside the spec."""
    schema = {"$ref": f"{SPEC_URI}{pointer}"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(instance)


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _pointer(spec, node["$ref"])
    return node


def _pointer(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only references inside the spec: {ref}"
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _parameter(spec: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    for parameter in spec["paths"][path]["get"]["parameters"]:
        resolved: dict[str, Any] = _resolve(spec, parameter)
        if resolved["name"] == name:
            return resolved
    raise AssertionError(f"{path} documents no parameter {name!r}")


def _walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")


# The spec itself


def test_spec_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1."), spec["openapi"]
    errors = sorted(
        jsonschema.Draft202012Validator(OPENAPI_31).iter_errors(spec), key=lambda e: e.json_path
    )
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)


def test_every_schema_is_valid_json_schema(spec: dict[str, Any]) -> None:
    # The OpenAPI meta-schema only checks that a Schema Object is an object; check each one.
    schemas = list(spec["components"]["schemas"].values())
    for where, node in _walk(spec):
        if where.endswith("/schema") and isinstance(node, dict):
            schemas.append(node)
    assert len(schemas) > 20
    for schema in schemas:
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_reference_resolves(spec: dict[str, Any]) -> None:
    references = [
        (where, node["$ref"])
        for where, node in _walk(spec)
        if isinstance(node, dict) and "$ref" in node
    ]
    assert references
    for where, ref in references:
        try:
            _pointer(spec, ref)
        except (KeyError, IndexError, AssertionError) as error:
            raise AssertionError(f"{where}: {ref} does not resolve ({error!r})") from None


def test_schemathesis_loads_every_operation() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_path(SPEC_PATH)
    labels = set()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise AssertionError(f"schemathesis cannot load an operation: {result.err()}")
        labels.add(result.ok().label)
    assert labels == {f"{method.upper()} {path}" for path, method in DOCUMENTED_STATUSES}


# Parameters and media types against shared/


def test_format_enum_is_the_encoders(spec: dict[str, Any]) -> None:
    for path in DATA_PATHS:
        schema = _parameter(spec, path, "format")["schema"]
        assert tuple(schema["enum"]) == FORMATS, path


def test_rows_and_batch_ranges_are_the_settings(spec: dict[str, Any]) -> None:
    defaults = Settings()
    for path in DATA_PATHS:
        rows = _parameter(spec, path, "rows")["schema"]
        assert rows["type"] == "integer"
        assert (rows["minimum"], rows["maximum"], rows["default"]) == (
            0,
            defaults.max_rows,
            defaults.default_rows,
        ), path
        batch = _parameter(spec, path, "batch")["schema"]
        assert batch["type"] == "integer"
        assert (batch["minimum"], batch["maximum"], batch["default"]) == (
            1,
            MAX_BATCH,
            defaults.default_batch,
        ), path


@pytest.mark.parametrize("path", DATA_PATHS)
def test_parameter_boundaries_are_what_the_parser_accepts(spec: dict[str, Any], path: str) -> None:
    settings = Settings()
    endpoint = path.lstrip("/")
    for name in ("rows", "batch"):
        schema = _parameter(spec, path, name)["schema"]
        for value in (schema["minimum"], schema["maximum"]):
            parse_data_request(endpoint, [(name, str(value))], None, settings)
        for value in (schema["minimum"] - 1, schema["maximum"] + 1):
            with pytest.raises(ContractError) as refused:
                parse_data_request(endpoint, [(name, str(value))], None, settings)
            assert (refused.value.status, refused.value.parameter) == (400, name)
    defaults = parse_data_request(endpoint, [], None, settings)
    assert defaults.rows == _parameter(spec, path, "rows")["schema"]["default"]
    assert defaults.batch == _parameter(spec, path, "batch")["schema"]["default"]
    source = _parameter(spec, path, "source")["schema"]
    assert source["enum"] == list(SOURCES), path
    assert defaults.source == source["default"] == DEFAULT_SOURCES[endpoint], path
    for value in SOURCES:
        assert parse_data_request(endpoint, [("source", value)], None, settings).source == value


@pytest.mark.parametrize("path", DATA_PATHS)
def test_data_media_types_are_the_encoders_content_types(spec: dict[str, Any], path: str) -> None:
    content = _resolve(spec, spec["paths"][path]["get"]["responses"]["200"])["content"]
    assert set(content) == {encoder.content_type for encoder in ENCODERS.values()}


def test_metrics_media_type_is_what_metrics_renders(spec: dict[str, Any]) -> None:
    from shared import metrics

    content = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(content) == {metrics.CONTENT_TYPE}


def test_the_pool_samples_are_documented_as_the_ledger_writes_them(spec: dict[str, Any]) -> None:
    """docs/contract.md has one row per connection-pool sample, with its type, and no other;
    openapi.yaml's `/metrics` names every one."""
    from shared.ledger import ConnectionLedger

    written = {sample.name: sample.kind for sample in ConnectionLedger().samples()}
    contract = (ROOT / "docs" / "contract.md").read_text()
    section = contract.partition("\n## `/metrics` and `POST /metrics/reset-peak`\n")[2]
    section = section.partition("\n## ")[0]
    rows = dict(re.findall(r"^\| `(streambench_db_\w+)` \| (\w+) \|", section, re.MULTILINE))
    assert rows == written, "docs/contract.md's metrics table against shared/ledger.py"
    description = spec["paths"]["/metrics"]["get"]["description"]
    missing = [name for name in written if f"`{name}`" not in description]
    assert not missing, f"openapi.yaml's /metrics does not name {missing}"


def test_error_responses_are_plain_application_json(spec: dict[str, Any]) -> None:
    # Ports send error bodies as exactly `application/json`, without a charset.
    for path, method, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert set(_resolve(spec, response)["content"]) == {"application/json"}, (
                    f"{method} {path} {status}"
                )


# Every status, body and header against shared/contract.py and shared/auth.py


def test_every_route_documents_its_statuses(spec: dict[str, Any]) -> None:
    documented = {(path, method): set(op["responses"]) for path, method, op in _operations(spec)}
    assert documented == DOCUMENTED_STATUSES
    for path, method, operation in _operations(spec):
        for status, response in operation["responses"].items():
            headers = _resolve(spec, response).get("headers", {})
            assert "X-Request-ID" in headers, f"{method} {path} {status} lacks X-Request-ID"
    for name in ("NotFound", "MethodNotAllowed"):
        assert "X-Request-ID" in spec["components"]["responses"][name]["headers"]
    assert "Allow" in spec["components"]["responses"]["MethodNotAllowed"]["headers"]


def _header_schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["headers"][name]["schema"]
    return schema


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ([("rows", "abc")], None),
        ([("rows", "-1")], None),
        ([("batch", "0")], None),
        ([("batch", "1"), ("batch", "2")], None),
        ([("format", "xml")], None),
        ([("source", "COPY")], None),
        ([("source", "copy"), ("source", "copy")], None),
    ],
)
def test_400_bodies_match(
    spec: dict[str, Any],
    registry: referencing.Registry[Any],
    query: list[tuple[str, str]],
    accept: str | None,
) -> None:
    with pytest.raises(ContractError) as refused:
        parse_data_request("chunked", query, accept, Settings())
    assert refused.value.status == 400
    _validate(registry, "#/components/schemas/ParameterError", json.loads(refused.value.body()))


def test_406_body_matches(registry: referencing.Registry[Any]) -> None:
    with pytest.raises(ContractError) as refused:
        negotiate("image/png")
    assert refused.value.status == 406
    _validate(registry, "#/components/schemas/NotAcceptableError", json.loads(refused.value.body()))
    with pytest.raises(ContractError) as refused:
        negotiate_coding("gzip;q=0, *;q=0")
    assert refused.value.status == 406
    _validate(registry, "#/components/schemas/NotAcceptableError", json.loads(refused.value.body()))


@pytest.mark.parametrize(
    "header",
    [None, "", "JWT", "Basic dXNlcjpwYXNz", "JWT not.a.token", "JWT abc", "expired", "other key"],
)
def test_401_bodies_and_challenge_match(
    spec: dict[str, Any], registry: referencing.Registry[Any], header: str | None
) -> None:
    if header == "expired":
        header = f"JWT {make_token(SECRET, ttl=-60)}"
    elif header == "other key":
        header = f"Bearer {make_token(SECRET + '-but-another-one', ttl=60)}"
    with pytest.raises(ContractError) as refused:
        check_authorization(header, SECRET)
    error = refused.value
    assert error.status == 401
    _validate(registry, "#/components/schemas/AuthError", json.loads(error.body()))
    assert error.headers["WWW-Authenticate"] == _header_schema(spec, "WWW-Authenticate")["const"]


def test_the_security_scheme_is_what_auth_checks(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["jwt"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    token = make_token(SECRET, ttl=60)
    for header in (f"JWT {token}", f"Bearer {token}", f"jwt {token}"):
        check_authorization(header, SECRET)
    # Auth off: anything passes, so the data routes document auth as optional ({}).
    check_authorization("JWT junk", None)
    for path in DATA_PATHS:
        assert spec["paths"][path]["get"]["security"] == [{"jwt": []}, {}], path
    for path, method, operation in _operations(spec):
        if path not in DATA_PATHS:
            assert operation["security"] == [], f"{method} {path} is never behind auth"


def test_503_body_and_retry_after_match(
    spec: dict[str, Any], registry: referencing.Registry[Any]
) -> None:
    error = unavailable("pool timeout")
    assert error.status == 503
    _validate(registry, "#/components/schemas/UnavailableError", json.loads(error.body()))
    assert int(error.headers["Retry-After"]) == RETRY_AFTER_SECONDS
    assert _header_schema(spec, "Retry-After")["const"] == RETRY_AFTER_SECONDS


def test_404_and_405_match(spec: dict[str, Any], registry: referencing.Registry[Any]) -> None:
    _validate(registry, "#/components/schemas/NotFoundError", json.loads(not_found().body()))
    for allow in ("GET", "POST"):
        error = method_not_allowed(allow)
        _validate(registry, "#/components/schemas/MethodNotAllowedError", json.loads(error.body()))
        assert error.headers["Allow"] in _header_schema(spec, "Allow")["enum"]
    assert method_not_allowed().headers["Allow"] == "GET"


def test_request_ids_match_the_header_schema(registry: referencing.Registry[Any]) -> None:
    pointer = "#/components/headers/X-Request-ID/schema"
    for header in (None, "", "abc-123", "x" * 64, "x" * 65, "---", "ünï", "a b", "a\x00b"):
        _validate(registry, pointer, request_id(header))
    assert request_id("abc-123") == "abc-123"
    with pytest.raises(jsonschema.ValidationError):
        _validate(registry, pointer, "x" * 65)


# Bodies the encoders produce against the documented schemas


def _sample_rows() -> list[tuple[int, str, str, str, datetime.datetime]]:
    at = datetime.datetime(2024, 1, 1, 0, 0, 1, tzinfo=datetime.UTC)
    return [
        (1, "user1@example.com", "user856@example.org", 'Ça va? ✓, "quoted"', at),
        (2, "user2@example.com", "user703@example.org", "line one\nline two", at),
    ]


@pytest.mark.parametrize("count", [0, 1, 2])
def test_encoded_bodies_match_the_documented_schemas(
    registry: referencing.Registry[Any], count: int
) -> None:
    rows = _sample_rows()[:count]
    bodies = {name: encode_all(encoder, rows) for name, encoder in ENCODERS.items()}
    schemas = "#/components/schemas"
    array = json.loads(bodies["json"])
    _validate(registry, f"{schemas}/MessageArray", array)
    assert len(array) == count
    _validate(registry, f"{schemas}/TextBody", bodies["text"].decode())
    _validate(registry, f"{schemas}/CsvBody", bodies["csv"].decode())
    _validate(registry, f"{schemas}/NdjsonBody", bodies["ndjson"].decode())
    lines = bodies["ndjson"].decode().splitlines()
    assert len(lines) == count
    for line in lines:
        _validate(registry, f"{schemas}/Message", json.loads(line))
    # The documented key order of a message is the encoders' column order.
    message = _pointer_schema(registry, "Message")
    assert tuple(message["properties"]) == ENCODERS["json"].columns


def _pointer_schema(registry: referencing.Registry[Any], name: str) -> dict[str, Any]:
    resolved: dict[str, Any] = (
        registry.resolver().lookup(f"{SPEC_URI}#/components/schemas/{name}").contents
    )
    return resolved


def test_the_text_schema_rejects_a_wrong_body(registry: referencing.Registry[Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validate(registry, "#/components/schemas/TextBody", "object_id:1\n")


# Routes the registered ports serve against the documented paths


def _served(app: object) -> set[tuple[str, str]]:
    """(path, method) pairs an app routes, for aiohttp and Starlette-style (`app.routes`) apps."""
    if isinstance(app, web.Application):
        return {
            (route.resource.canonical, route.method.lower())
            for route in app.router.routes()
            if route.resource is not None
        }
    while not hasattr(app, "routes") and hasattr(app, "app"):
        app = app.app  # the shared ASGI wrappers (lifespan, request id) in front of the router
    routes = getattr(app, "routes", None)
    if routes is None:
        raise AssertionError(f"teach _served how to list the routes of a {type(app).__name__}")
    served: set[tuple[str, str]] = set()
    for route in routes:
        if hasattr(route, "pattern"):  # Django: a URLPattern and the view's one method
            method = route.callback.allowed_method
            served.add((f"/{route.pattern}", method.lower()))
            continue
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None)
        assert path is not None, f"{route!r}: a route without a path"
        assert methods, f"{route!r}: a route without methods (a mount?)"
        served |= {(path, method.lower()) for method in methods}
    return served


def _registered_ports() -> list[Any]:
    return [pytest.param(descriptor, id=name) for name, descriptor, _ in available_ports()]


@pytest.mark.parametrize("descriptor", _registered_ports())
@pytest.mark.parametrize("metrics", [True, False], ids=["metrics-on", "metrics-off"])
def test_every_served_route_is_documented(
    spec: dict[str, Any], descriptor: Any, metrics: bool
) -> None:
    if descriptor is None:
        pytest.skip("port not available here")
    factory = import_string(descriptor.factory)
    settings = Settings(database_url="postgresql://unused@127.0.0.1:1/none", metrics=metrics)
    served = _served(factory(settings))
    documented = {(path, method) for path, method, _ in _operations(spec)}
    if not metrics:
        documented = {(p, m) for p, m in documented if not p.startswith("/metrics")}
    assert served == documented, (
        f"{descriptor.name}: served but undocumented {sorted(served - documented)}, "
        f"documented but not served {sorted(documented - served)}"
    )
