"""A mock Docker Hub generated from Docker's official OpenAPI spec (tests/spec/).

Every request is matched to an operation of the spec and validated: path, method, query parameters
(type, minimum, maximum, enum) and JSON body (jsonschema). Valid requests get the spec's own example
answer; invalid ones get a 422 and are recorded in ``violations``. Used to prove that every request
the export makes is one the spec allows.
"""

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import yaml

SPEC = Path(__file__).parent / "spec" / "dockerhub-api.yaml"  # Docker's spec, vendored (see SOURCE.md)


@dataclass
class SpecMock:
    spec_path: Path = SPEC
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operationId, raw path + query)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spec = yaml.safe_load(self.spec_path.read_text())
        self._routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for template, item in self.spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "/?$")
            for method, operation in item.items():
                if method in ("get", "post", "put", "patch", "delete", "head"):
                    self._routes.append((pattern, method.upper(), operation))
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- schema helpers ---------------------------------------------------------------------------

    def _deref(self, node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target: Any = self.spec
                for part in node["$ref"].lstrip("#/").split("/"):
                    target = target[part]
                return self._deref(target)
            return {key: self._deref(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self._deref(item) for item in node]
        return node

    def _example(self, operation: dict[str, Any]) -> tuple[int, Any]:
        for status in ("200", "201"):
            response = operation.get("responses", {}).get(status)
            if not response:
                continue
            content = self._deref(response).get("content", {}).get("application/json", {})
            if "example" in content:
                return int(status), content["example"]
            for example in content.get("examples", {}).values():
                return int(status), example.get("value")
            schema = content.get("schema", {})
            return int(status), _from_schema(schema)
        return 204, None

    # -- validation -----------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        for pattern, route_method, operation in self._routes:
            if route_method == method and pattern.match(parts.path):
                problems = self._validate(operation, parse_qs(parts.query), body, headers)
                with self._lock:
                    self.calls.append((operation.get("operationId", "?"), raw_path))
                    self.violations.extend(f"{method} {raw_path}: {p}" for p in problems)
                if problems:
                    return 422, {"violations": problems}
                return self._example(operation)
        with self._lock:
            self.violations.append(f"{method} {raw_path}: no such operation in the spec")
        return 404, {"detail": "not in the spec"}

    def _validate(
        self, operation: dict[str, Any], query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> list[str]:
        problems: list[str] = []
        declared = {}
        for parameter in self._deref(operation.get("parameters", [])):
            if parameter.get("in") != "query":
                continue
            declared[parameter["name"]] = parameter
            values = query.get(parameter["name"])
            if values is None:
                if parameter.get("required"):
                    problems.append(f"missing required query parameter {parameter['name']}")
                continue
            schema = parameter.get("schema", {})
            for value in values:
                try:
                    jsonschema.validate(_coerce(value, schema), schema)
                except (jsonschema.ValidationError, ValueError) as exc:
                    problems.append(f"query {parameter['name']}={value!r}: {getattr(exc, 'message', exc)}")
        for name in query:
            if name not in declared:
                problems.append(f"undeclared query parameter {name}")
        request_body = self._deref(operation.get("requestBody"))
        if request_body:
            schema = request_body.get("content", {}).get("application/json", {}).get("schema")
            if "application/json" not in headers.get("content-type", ""):
                problems.append("request body is not application/json")
            else:
                try:
                    jsonschema.validate(json.loads(body or b"null"), schema)
                except (jsonschema.ValidationError, ValueError) as exc:
                    problems.append(f"body: {getattr(exc, 'message', exc)}")
        elif body:
            problems.append("unexpected request body")
        return problems

    # -- server ---------------------------------------------------------------------------------

    def __enter__(self) -> "SpecMock":
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload = mock.handle(self.command, self.path, body, headers)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        if value not in ("true", "false"):
            raise ValueError(f"{value!r} is not a boolean")
        return value == "true"
    return value


def _from_schema(schema: dict[str, Any]) -> Any:
    if "example" in schema:
        return schema["example"]
    if schema.get("type") == "object":
        return {name: _from_schema(sub) for name, sub in schema.get("properties", {}).items()}
    if schema.get("type") == "array":
        return []
    return {"integer": 0, "number": 0, "boolean": False, "string": "string"}.get(schema.get("type", ""), None)
