#!/usr/bin/env python3
"""An admission webhook written against Kubernetes' documented AdmissionReview v1 JSON
(https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/),
with nothing of kubesim's: the standard library only (http.server and ssl).

It serves HTTPS on 127.0.0.1:<--port> with the serving certificate and key given:

- POST /mutate: allows every object; when it lacks the label of --add-label, answers a
  base64 JSONPatch adding it (the whole labels map when the object has none), and a warning.
- POST /validate: denies an object labelled --deny-label with
  `status: {code: 403, message: "..."}` (no reason: the API server must pass that on as
  it is), and allows anything else.
- GET /healthz: `ok`, for the test to know it serves.

A request that is not an AdmissionReview v1 gets a 400. Each review is logged on stderr.
"""

import argparse
import base64
import http.server
import json
import ssl
import sys

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
# The largest body read: kube's own request limit (3 MiB) and some room for the review.
MAX_BODY_BYTES = 4 * 1024 * 1024


def parse_label(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value")
    return key, value


def escape_pointer(token):
    """A JSON Pointer token (RFC 6901): ~ and / escaped."""
    return token.replace("~", "~0").replace("/", "~1")


def labels_of(obj):
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return labels if isinstance(labels, dict) else None


def mutate(request, label):
    """The response of /mutate: the label added when missing."""
    key, value = label
    response = {"uid": request["uid"], "allowed": True}
    obj = request.get("object") or {}
    labels = labels_of(obj)
    if labels is not None and key in labels:
        return response
    if labels is None:
        patch = [{"op": "add", "path": "/metadata/labels", "value": {key: value}}]
    else:
        path = "/metadata/labels/" + escape_pointer(key)
        patch = [{"op": "add", "path": path, "value": value}]
    response["patchType"] = "JSONPatch"
    response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    response["warnings"] = [f"the python webhook added the label {key}={value}"]
    return response


def validate(request, label):
    """The response of /validate: a denial for an object with the label."""
    key, value = label
    labels = labels_of(request.get("object") or {}) or {}
    if labels.get(key) != value:
        return {"uid": request["uid"], "allowed": True}
    message = f"objects labelled {key}={value} are refused by the python webhook"
    return {
        "uid": request["uid"],
        "allowed": False,
        "status": {"code": 403, "message": message},
    }


class Handler(http.server.BaseHTTPRequestHandler):
    # Keep-alive, as the API server reuses its connections to a webhook.
    protocol_version = "HTTP/1.1"
    # Seconds a connection may sit idle (or a client stall) before it is closed.
    timeout = 120
    add_label = ("", "")
    deny_label = ("", "")

    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, "text/plain", b"ok")
        else:
            self.answer(404, "text/plain", b"not found")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            self.answer(413, "text/plain", b"request body too large")
            return
        body = self.rfile.read(length)
        try:
            review = json.loads(body)
            if review.get("apiVersion") != API_VERSION or review.get("kind") != KIND:
                raise ValueError(f"not an {API_VERSION} {KIND}")
            request = review["request"]
            request["uid"]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            self.answer(400, "text/plain", f"bad AdmissionReview: {error}".encode())
            return
        route = self.path.split("?", 1)[0]
        if route == "/mutate":
            response = mutate(request, self.add_label)
        elif route == "/validate":
            response = validate(request, self.deny_label)
        else:
            self.answer(404, "text/plain", b"not found")
            return
        sys.stderr.write(
            f"{route} {request.get('operation')} {request.get('namespace')}/"
            f"{request.get('name')}: allowed={response['allowed']}\n"
        )
        answer = {"apiVersion": API_VERSION, "kind": KIND, "response": response}
        self.answer(200, "application/json", json.dumps(answer).encode())

    def answer(self, code, content_type, body):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-cert-file", required=True)
    parser.add_argument("--tls-private-key-file", required=True)
    parser.add_argument("--add-label", type=parse_label, default=("team", "python"))
    parser.add_argument("--deny-label", type=parse_label, default=("tier", "forbidden"))
    args = parser.parse_args()
    Handler.add_label = args.add_label
    Handler.deny_label = args.deny_label
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert_file, args.tls_private_key_file)
    context.set_alpn_protocols(["http/1.1"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    # The handshake happens on the handler's thread, at its first read, so a client that
    # never finishes one blocks only itself.
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    sys.stderr.write(f"admission_webhook.py serving on 127.0.0.1:{args.port}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
