"""An independent ext_authz client: Python grpcio + stubs generated from Envoy's own protos.

Reads a JSON list of cases on stdin, sends each as an envoy.service.auth.v3.Authorization/Check
call to 127.0.0.1:<port>, and prints one JSON object per case describing the CheckResponse exactly
as this client decoded it (including whether `append` was explicitly set on each header).

Usage: PYTHONPATH=<generated stubs> python3 check_client.py <port>

A case: {"name", "method", "path", "host", "source_principal",
         "headers": {name: value} | null,
         "header_map": [[key, base64 raw value], ...] | null}
"""

import base64
import json
import sys

import grpc
from google.protobuf.json_format import MessageToDict

from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc


def build_request(case):
    """Builds the CheckRequest Envoy would send for one case."""
    request = external_auth_pb2.CheckRequest()
    attrs = request.attributes
    attrs.source.address.socket_address.address = "10.0.0.7"
    attrs.source.address.socket_address.port_value = 41234
    attrs.source.principal = case.get("source_principal", "")
    attrs.destination.address.socket_address.address = "10.0.0.9"
    attrs.destination.address.socket_address.port_value = 8080
    http = attrs.request.http
    http.id = "4242"
    http.scheme = "http"
    http.protocol = "HTTP/2"
    if case.get("header_map") is not None:
        # encode_raw_headers: true — `headers` stays empty, method/path/host only as pseudo-headers.
        for key, raw in case["header_map"]:
            entry = http.header_map.headers.add()
            entry.key = key
            entry.raw_value = base64.b64decode(raw)
    else:
        http.method = case["method"]
        http.path = case["path"]
        http.host = case["host"]
        http.headers[":method"] = case["method"]
        http.headers[":path"] = case["path"]
        http.headers[":authority"] = case["host"]
        http.headers[":scheme"] = "http"
        for name, value in (case.get("headers") or {}).items():
            http.headers[name] = value
    return request


def header_options(options):
    """Lists HeaderValueOptions with the explicit-presence bit of the `append` BoolValue."""
    out = []
    for option in options:
        has_append = option.HasField("append")
        out.append(
            {
                "key": option.header.key,
                "value": option.header.value,
                "append_set": has_append,
                "append": option.append.value if has_append else None,
            }
        )
    return out


def describe(response):
    """Reduces a CheckResponse to plain JSON as decoded by the Python protobuf runtime."""
    result = {
        "status_code": response.status.code,
        "has_status": response.HasField("status"),
        "http": response.WhichOneof("http_response"),
        "dynamic_metadata": MessageToDict(response.dynamic_metadata),
    }
    if result["http"] == "denied_response":
        denied = response.denied_response
        result["denied_status"] = int(denied.status.code)
        result["denied_body"] = denied.body
        result["denied_headers"] = header_options(denied.headers)
    elif result["http"] == "ok_response":
        ok = response.ok_response
        result["ok_headers"] = header_options(ok.headers)
        result["headers_to_remove"] = list(ok.headers_to_remove)
        result["response_headers_to_add"] = header_options(ok.response_headers_to_add)
    return result


def main():
    port = int(sys.argv[1])
    cases = json.load(sys.stdin)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = external_auth_pb2_grpc.AuthorizationStub(channel)
        for case in cases:
            out = {"name": case["name"]}
            try:
                response = stub.Check(build_request(case), timeout=5)
                out["rpc"] = "OK"
                out.update(describe(response))
            except grpc.RpcError as error:
                out["rpc"] = error.code().name
                out["details"] = error.details()
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
