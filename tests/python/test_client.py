#!/usr/bin/env python3
"""kubesim's API server driven by the official Python client (PyPI `kubernetes`), unmodified.

What a Python user of Kubernetes sees: CRUD of ConfigMaps and Pods, paginated lists, label and
field selectors, watches started and resumed from a resourceVersion, and the errors clients
branch on (404 NotFound, 409 AlreadyExists and Conflict, 422 Invalid with its causes). Every
assertion is an exact value kube-apiserver 1.33 would answer with; where kubesim differs, the
test fails and names the call.

Map of the file:
- `NamespacedTest`: the base class. Each test runs in a namespace of its own (named after the
  test), created in `setUp` and deleted in a cleanup that waits until the namespace is gone,
  so no test sees another's objects or events.
- `ConfigMapTest`, `PodTest`: create, get, replace, patch (all three patch types), delete;
  a pod's server-side defaults; the managedFields entry a create records.
- `ListTest`: `limit`/`_continue` pagination over a consistent snapshot; label and field
  selectors.
- `WatchTest`: a watch from a list's resourceVersion replays ADDED/MODIFIED/DELETED in order,
  a watch resumed from a seen resourceVersion gets only later events, a watch delivers events
  that happen while it is open, and `timeout_seconds` ends it.
- `ErrorTest`: the Status bodies of 404, 409 (stale update) and 422 (a cause per invalid field:
  a container without an image, a name that is not a DNS-1123 subdomain); nothing is stored.
- `NamespaceTest`: a namespace's own lifecycle (Active, Terminating, gone).

Run: `KUBECONFIG=<kubeconfig of a kubesim apiserver> python3 tests/python/test_client.py [-v]`.
The kubeconfig is loaded with the client's own `config.load_kube_config()` (client certificate
and the kubesim CA). KUBECONFIG must be set explicitly, so the tests never run against a cluster
picked up from ~/.kube/config by accident. Only the standard library and `kubernetes` are
needed. `tests/tests/python_client.rs` runs this file against a fresh server.
"""

import base64
import json
import os
import queue
import re
import sys
import threading
import time
import unittest

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

# Bounds: every wait in this file ends. The server closes a watch after `timeout_seconds`; the
# client gives up on the connection a little later, in case the server does not.
WATCH_TIMEOUT_SECONDS = 10
WATCH_REQUEST_TIMEOUT_SECONDS = WATCH_TIMEOUT_SECONDS + 10
# How long a deleted namespace may take to be emptied and removed.
NAMESPACE_GONE_SECONDS = 30
# How long the live-watch test waits for its consumer thread.
LIVE_WATCH_WAIT_SECONDS = WATCH_REQUEST_TIMEOUT_SECONDS + 5

UID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

# The Status message of a stale update (`registry.OptimisticLockErrorMsg`).
OPTIMISTIC_LOCK = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
# apimachinery's DNS-1123 subdomain error, as `metadata.name` reports it.
DNS1123_SUBDOMAIN_ERROR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def status_body(error):
    """The meta/v1 Status an ApiException carries, as a dict."""
    return json.loads(error.body)


def failure(code, reason, message, details):
    """A Status body exactly as kube-apiserver sends it for an error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


def raw_json(response):
    """The body of a call made with `_preload_content=False`, as a dict. Used where the
    client's declared return type differs between its versions (a delete's Status)."""
    return json.loads(response.data)


def names(items):
    return [item.metadata.name for item in items]


def b64(text):
    return base64.b64encode(text.encode()).decode()


def field_manager():
    """The manager kube-apiserver derives from the client's User-Agent: the part before the
    first '/' (`OpenAPI-Generator/<version>/python` -> `OpenAPI-Generator`)."""
    return client.ApiClient().user_agent.split("/")[0]


def config_map(name, data, labels=None):
    return client.V1ConfigMap(
        api_version="v1",
        kind="ConfigMap",
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        data=data,
    )


def pod(name, containers, labels=None):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(containers=containers),
    )


def event_summary(event):
    """(type, name, resourceVersion, data) of a ConfigMap watch event."""
    obj = event["object"]
    return (event["type"], obj.metadata.name, obj.metadata.resource_version, obj.data)


def namespace_name(test_id):
    """`py-<test method>` with dashes, cut to a DNS-1123 label's 63 bytes."""
    method = test_id.rsplit(".", 1)[-1].removeprefix("test_")
    return ("py-" + method.replace("_", "-"))[:63].rstrip("-")


def delete_namespace_and_wait(core, name):
    """Deletes `name` and waits until reading it answers 404; returns the deletion's answer."""
    answer = raw_json(core.delete_namespace(name, _preload_content=False))
    deadline = time.monotonic() + NAMESPACE_GONE_SECONDS
    while True:
        try:
            core.read_namespace(name)
        except ApiException as error:
            if error.status == 404:
                return answer
            raise
        if time.monotonic() >= deadline:
            raise AssertionError(f"namespace {name} still exists {NAMESPACE_GONE_SECONDS}s after delete")
        time.sleep(0.2)


class NamespacedTest(unittest.TestCase):
    """Gives each test `self.core` and a fresh namespace `self.ns`, deleted afterwards."""

    # A failure shows the whole difference: Status bodies are long.
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.core = client.CoreV1Api()

    def setUp(self):
        self.ns = namespace_name(self.id())
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=self.ns)))
        self.addCleanup(delete_namespace_and_wait, self.core, self.ns)

    def assert_api_error(self, call, code, http_reason, body):
        """`call()` raises ApiException with `code`, the HTTP reason phrase and Status `body`."""
        with self.assertRaises(ApiException) as raised:
            call()
        error = raised.exception
        self.assertEqual((error.status, error.reason), (code, http_reason), error.body)
        self.assertEqual(status_body(error), body)


class ConfigMapTest(NamespacedTest):
    def test_configmap_create_get_replace_patch_delete(self):
        created = self.core.create_namespaced_config_map(
            self.ns, config_map("settings", {"k": "1"}, labels={"app": "web"})
        )
        self.assertEqual((created.kind, created.api_version), ("ConfigMap", "v1"))
        meta = created.metadata
        self.assertEqual((meta.name, meta.namespace, meta.labels), ("settings", self.ns, {"app": "web"}))
        self.assertRegex(meta.uid, UID_PATTERN)
        self.assertTrue(meta.resource_version)
        self.assertIsNotNone(meta.creation_timestamp)
        # ConfigMaps have no spec, so kube never sets a generation on them.
        self.assertIsNone(meta.generation)
        self.assertEqual(created.data, {"k": "1"})

        self.assert_api_error(
            lambda: self.core.create_namespaced_config_map(self.ns, config_map("settings", {"k": "1"})),
            409,
            "Conflict",
            failure(409, "AlreadyExists", 'configmaps "settings" already exists',
                    {"name": "settings", "kind": "configmaps"}),
        )

        got = self.core.read_namespaced_config_map("settings", self.ns)
        self.assertEqual(
            (got.metadata.uid, got.metadata.resource_version, got.data, got.metadata.labels),
            (meta.uid, meta.resource_version, {"k": "1"}, {"app": "web"}),
        )

        got.data = {"k": "2", "extra": "x"}
        replaced = self.core.replace_namespaced_config_map("settings", self.ns, got)
        self.assertEqual(replaced.metadata.uid, meta.uid)
        self.assertNotEqual(replaced.metadata.resource_version, meta.resource_version)
        self.assertEqual(replaced.data, {"k": "2", "extra": "x"})

        # An update that changes nothing writes nothing: the resourceVersion stays.
        unchanged = self.core.replace_namespaced_config_map("settings", self.ns, replaced)
        self.assertEqual(unchanged.metadata.resource_version, replaced.metadata.resource_version)

        merged = self.core.patch_namespaced_config_map(
            "settings", self.ns, {"data": {"extra": None, "m": "3"}}, _content_type=MERGE_PATCH
        )
        self.assertEqual(merged.data, {"k": "2", "m": "3"})
        self.assertNotEqual(merged.metadata.resource_version, replaced.metadata.resource_version)

        json_patched = self.core.patch_namespaced_config_map(
            "settings",
            self.ns,
            [{"op": "replace", "path": "/data/k", "value": "4"}, {"op": "add", "path": "/data/j", "value": "5"}],
            _content_type=JSON_PATCH,
        )
        self.assertEqual(json_patched.data, {"k": "4", "m": "3", "j": "5"})

        strategic = self.core.patch_namespaced_config_map(
            "settings", self.ns, {"metadata": {"labels": {"tier": "front"}}, "data": {"s": "6"}},
            _content_type=STRATEGIC_MERGE_PATCH,
        )
        self.assertEqual(strategic.data, {"k": "4", "m": "3", "j": "5", "s": "6"})
        self.assertEqual(strategic.metadata.labels, {"app": "web", "tier": "front"})
        self.assertEqual(strategic.metadata.uid, meta.uid)

        deleted = raw_json(self.core.delete_namespaced_config_map("settings", self.ns, _preload_content=False))
        self.assertEqual(
            deleted,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": "settings", "kind": "configmaps", "uid": meta.uid},
            },
        )
        self.assert_api_error(
            lambda: self.core.read_namespaced_config_map("settings", self.ns),
            404,
            "Not Found",
            failure(404, "NotFound", 'configmaps "settings" not found', {"name": "settings", "kind": "configmaps"}),
        )

    def test_create_records_the_client_as_field_manager(self):
        created = self.core.create_namespaced_config_map(
            self.ns, config_map("managed", {"k": "1"}, labels={"app": "web"})
        )
        # One entry: this client's manager, an Update (what a create records), owning the
        # fields it set; identity fields (name, namespace) are never tracked.
        entries = created.metadata.managed_fields or []
        self.assertEqual(
            [(e.manager, e.operation, e.api_version, e.fields_type, e.fields_v1) for e in entries],
            [
                (
                    field_manager(),
                    "Update",
                    "v1",
                    "FieldsV1",
                    {"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
                )
            ],
        )
        self.assertIsNotNone(entries[0].time)


class PodTest(NamespacedTest):
    def test_pod_create_get_replace_patch_delete(self):
        port = client.V1ContainerPort(container_port=80, name="http")
        created = self.core.create_namespaced_pod(
            self.ns,
            pod("web", [client.V1Container(name="web", image="nginx:1.25", ports=[port])], labels={"app": "web"}),
        )
        self.assertEqual((created.kind, created.api_version), ("Pod", "v1"))
        self.assertEqual((created.metadata.name, created.metadata.namespace), ("web", self.ns))
        self.assertEqual(created.metadata.labels, {"app": "web"})
        self.assertRegex(created.metadata.uid, UID_PATTERN)
        self.assert_pod_defaults(created)
        self.assertEqual((created.status.phase, created.status.qos_class), ("Pending", "BestEffort"))

        got = self.core.read_namespaced_pod("web", self.ns)
        self.assertEqual(
            (got.metadata.uid, got.metadata.resource_version, got.spec.containers[0].image),
            (created.metadata.uid, created.metadata.resource_version, "nginx:1.25"),
        )

        # A container's image is one of the few mutable fields of a pod's spec.
        got.spec.containers[0].image = "nginx:1.26"
        replaced = self.core.replace_namespaced_pod("web", self.ns, got)
        self.assertEqual(replaced.spec.containers[0].image, "nginx:1.26")
        self.assertEqual(replaced.metadata.uid, created.metadata.uid)
        self.assertNotEqual(replaced.metadata.resource_version, created.metadata.resource_version)

        # Strategic merge: the container is matched by its name, so its other fields stay.
        patched = self.core.patch_namespaced_pod(
            "web",
            self.ns,
            {"metadata": {"labels": {"tier": "front"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}},
            _content_type=STRATEGIC_MERGE_PATCH,
        )
        self.assertEqual(patched.metadata.labels, {"app": "web", "tier": "front"})
        self.assertEqual(
            [(c.name, c.image, c.image_pull_policy) for c in patched.spec.containers],
            [("web", "nginx:1.27", "IfNotPresent")],
        )
        self.assertEqual(
            [(p.name, p.container_port, p.protocol) for p in patched.spec.containers[0].ports],
            [("http", 80, "TCP")],
        )

        merged = self.core.patch_namespaced_pod(
            "web", self.ns, {"metadata": {"annotations": {"note": "merged"}}}, _content_type=MERGE_PATCH
        )
        self.assertEqual(merged.metadata.annotations, {"note": "merged"})
        self.assertEqual(merged.spec.containers[0].image, "nginx:1.27")

        json_patched = self.core.patch_namespaced_pod(
            "web", self.ns, [{"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.28"}],
            _content_type=JSON_PATCH,
        )
        self.assertEqual(json_patched.spec.containers[0].image, "nginx:1.28")

        # Pods answer DELETE with the pod; one never scheduled to a node is removed at once.
        deleted = self.core.delete_namespaced_pod("web", self.ns)
        self.assertEqual((deleted.kind, deleted.metadata.name, deleted.metadata.uid), ("Pod", "web", created.metadata.uid))
        self.assert_api_error(
            lambda: self.core.read_namespaced_pod("web", self.ns),
            404,
            "Not Found",
            failure(404, "NotFound", 'pods "web" not found', {"name": "web", "kind": "pods"}),
        )

    def assert_pod_defaults(self, created):
        """The defaults kube-apiserver fills into a pod's spec."""
        spec = created.spec
        self.assertEqual(
            (spec.restart_policy, spec.dns_policy, spec.termination_grace_period_seconds,
             spec.scheduler_name, spec.enable_service_links),
            ("Always", "ClusterFirst", 30, "default-scheduler", True),
        )
        container = spec.containers[0]
        self.assertEqual(
            (container.image_pull_policy, container.termination_message_path,
             container.termination_message_policy),
            ("IfNotPresent", "/dev/termination-log", "File"),
        )
        self.assertEqual([(p.name, p.container_port, p.protocol) for p in container.ports], [("http", 80, "TCP")])


class ListTest(NamespacedTest):
    def test_limit_and_continue_page_through_a_snapshot(self):
        # Secrets, not ConfigMaps: on a real cluster a controller adds a ConfigMap
        # (kube-root-ca.crt) to every namespace, and this test counts what is listed.
        for i in range(5):
            self.core.create_namespaced_secret(
                self.ns, client.V1Secret(metadata=client.V1ObjectMeta(name=f"page-{i}"), data={"n": b64(str(i))})
            )
        first = self.core.list_namespaced_secret(self.ns, limit=2)
        self.assertEqual(names(first.items), ["page-0", "page-1"])
        self.assertEqual(first.metadata.remaining_item_count, 3)
        self.assertTrue(first.metadata._continue)
        snapshot = first.metadata.resource_version

        # Created after the first page: the continued list is the first page's snapshot and
        # must not show it.
        self.core.create_namespaced_secret(self.ns, client.V1Secret(metadata=client.V1ObjectMeta(name="page-2a")))

        second = self.core.list_namespaced_secret(self.ns, limit=2, _continue=first.metadata._continue)
        self.assertEqual(names(second.items), ["page-2", "page-3"])
        self.assertEqual(second.metadata.remaining_item_count, 1)
        self.assertEqual(second.metadata.resource_version, snapshot)
        self.assertTrue(second.metadata._continue)

        last = self.core.list_namespaced_secret(self.ns, limit=2, _continue=second.metadata._continue)
        self.assertEqual(names(last.items), ["page-4"])
        self.assertEqual(last.items[0].data, {"n": b64("4")})
        self.assertEqual(last.metadata.resource_version, snapshot)
        self.assertFalse(last.metadata._continue)
        self.assertIsNone(last.metadata.remaining_item_count)

        paged = names(first.items) + names(second.items) + names(last.items)
        self.assertEqual(paged, [f"page-{i}" for i in range(5)])
        self.assertEqual(len(set(paged)), len(paged))

        now = self.core.list_namespaced_secret(self.ns)
        self.assertEqual(names(now.items), ["page-0", "page-1", "page-2", "page-2a", "page-3", "page-4"])
        self.assertNotEqual(now.metadata.resource_version, snapshot)
        self.assertFalse(now.metadata._continue)
        self.assertIsNone(now.metadata.remaining_item_count)

    def test_label_and_field_selectors_filter_the_list(self):
        for name, labels in [
            ("web-front", {"app": "web", "tier": "front"}),
            ("web-back", {"app": "web", "tier": "back"}),
            ("db", {"app": "db"}),
        ]:
            self.core.create_namespaced_config_map(self.ns, config_map(name, {"k": name}, labels=labels))

        def listed(**selectors):
            return names(self.core.list_namespaced_config_map(self.ns, **selectors).items)

        self.assertEqual(listed(label_selector="app=web"), ["web-back", "web-front"])
        self.assertEqual(listed(label_selector="app=web,tier!=back"), ["web-front"])
        self.assertEqual(listed(label_selector="app in (db,cache)"), ["db"])
        self.assertEqual(listed(label_selector="!tier"), ["db"])
        self.assertEqual(listed(label_selector="app"), ["db", "web-back", "web-front"])
        self.assertEqual(listed(label_selector="app=nope"), [])
        self.assertEqual(listed(field_selector="metadata.name=web-back"), ["web-back"])
        self.assertEqual(listed(label_selector="app=web", field_selector="metadata.name!=web-back"), ["web-front"])

        with self.assertRaises(ApiException) as raised:
            listed(label_selector="app in (")
        error = raised.exception
        self.assertEqual((error.status, status_body(error)["reason"]), (400, "BadRequest"), error.body)


class WatchTest(NamespacedTest):
    def test_watch_from_list_version_then_resume_from_a_seen_version(self):
        listed = self.core.list_namespaced_config_map(self.ns)
        self.assertEqual(listed.items, [])
        created = self.core.create_namespaced_config_map(self.ns, config_map("watched", {"v": "1"}))
        created.data = {"v": "2"}
        modified = self.core.replace_namespaced_config_map("watched", self.ns, created)
        raw_json(self.core.delete_namespaced_config_map("watched", self.ns, _preload_content=False))

        events = self.watch_until_deleted(listed.metadata.resource_version)
        self.assertEqual([e[:2] for e in events], [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")])
        self.assertEqual(events[0][2:], (created.metadata.resource_version, {"v": "1"}))
        self.assertEqual(events[1][2:], (modified.metadata.resource_version, {"v": "2"}))
        # A DELETED event carries the object's last state at the deletion's resourceVersion.
        deleted_version = events[2][2]
        self.assertEqual(events[2][3], {"v": "2"})
        self.assertNotIn(deleted_version, (created.metadata.resource_version, modified.metadata.resource_version))

        resumed = self.watch_until_deleted(created.metadata.resource_version)
        self.assertEqual(resumed, events[1:])

        # Nothing happened after the deletion: the watch ends at its timeout, empty.
        started = time.monotonic()
        after = list(
            watch.Watch().stream(
                self.core.list_namespaced_config_map,
                self.ns,
                resource_version=deleted_version,
                timeout_seconds=2,
                _request_timeout=WATCH_REQUEST_TIMEOUT_SECONDS,
            )
        )
        self.assertEqual(after, [])
        self.assertLess(time.monotonic() - started, WATCH_REQUEST_TIMEOUT_SECONDS)

    def watch_until_deleted(self, resource_version):
        """The events of a watch from `resource_version`, up to the first DELETED."""
        events = []
        w = watch.Watch()
        for event in w.stream(
            self.core.list_namespaced_config_map,
            self.ns,
            resource_version=resource_version,
            timeout_seconds=WATCH_TIMEOUT_SECONDS,
            _request_timeout=WATCH_REQUEST_TIMEOUT_SECONDS,
        ):
            events.append(event_summary(event))
            if event["type"] == "DELETED":
                w.stop()
        return events

    def test_watch_delivers_an_event_made_while_it_is_open(self):
        listed = self.core.list_namespaced_config_map(self.ns)
        seen = queue.Queue()
        w = watch.Watch()

        def consume():
            try:
                for event in w.stream(
                    self.core.list_namespaced_config_map,
                    self.ns,
                    resource_version=listed.metadata.resource_version,
                    timeout_seconds=WATCH_TIMEOUT_SECONDS,
                    _request_timeout=WATCH_REQUEST_TIMEOUT_SECONDS,
                ):
                    seen.put(event_summary(event))
                    w.stop()
            except Exception as error:  # reported by the main thread
                seen.put(error)
            seen.put(None)

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        time.sleep(1)  # let the watch open, so the event below is live rather than replayed
        created = self.core.create_namespaced_config_map(self.ns, config_map("live", {"v": "1"}))
        consumer.join(LIVE_WATCH_WAIT_SECONDS)
        self.assertFalse(consumer.is_alive(), "the watch did not end")
        results = []
        while not seen.empty():
            results.append(seen.get_nowait())
        self.assertEqual(results, [("ADDED", "live", created.metadata.resource_version, {"v": "1"}), None])


class ErrorTest(NamespacedTest):
    def test_stale_update_is_409_conflict_and_changes_nothing(self):
        self.core.create_namespaced_config_map(self.ns, config_map("stale", {"v": "1"}))
        old = self.core.read_namespaced_config_map("stale", self.ns)
        fresh = self.core.read_namespaced_config_map("stale", self.ns)
        fresh.data = {"v": "2"}
        current = self.core.replace_namespaced_config_map("stale", self.ns, fresh)

        old.data = {"v": "3"}
        self.assert_api_error(
            lambda: self.core.replace_namespaced_config_map("stale", self.ns, old),
            409,
            "Conflict",
            failure(409, "Conflict", f'Operation cannot be fulfilled on configmaps "stale": {OPTIMISTIC_LOCK}',
                    {"name": "stale", "kind": "configmaps"}),
        )
        after = self.core.read_namespaced_config_map("stale", self.ns)
        self.assertEqual((after.data, after.metadata.resource_version), ({"v": "2"}, current.metadata.resource_version))

    def test_get_of_a_missing_object_is_404_not_found(self):
        self.assert_api_error(
            lambda: self.core.read_namespaced_config_map("missing", self.ns),
            404,
            "Not Found",
            failure(404, "NotFound", 'configmaps "missing" not found', {"name": "missing", "kind": "configmaps"}),
        )
        self.assert_api_error(
            lambda: self.core.read_namespace("py-no-such-namespace"),
            404,
            "Not Found",
            failure(404, "NotFound", 'namespaces "py-no-such-namespace" not found',
                    {"name": "py-no-such-namespace", "kind": "namespaces"}),
        )

    def test_pod_without_an_image_is_422_naming_the_field(self):
        self.assert_api_error(
            lambda: self.core.create_namespaced_pod(self.ns, pod("no-image", [client.V1Container(name="web")])),
            422,
            "Unprocessable Entity",
            failure(
                422,
                "Invalid",
                'Pod "no-image" is invalid: spec.containers[0].image: Required value',
                {
                    "name": "no-image",
                    "kind": "Pod",
                    "causes": [
                        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}
                    ],
                },
            ),
        )
        self.assertEqual(self.core.list_namespaced_pod(self.ns).items, [])

    def test_pod_with_an_invalid_name_is_422_naming_the_field(self):
        invalid_name = f'Invalid value: "Bad_Name": {DNS1123_SUBDOMAIN_ERROR}'
        self.assert_api_error(
            lambda: self.core.create_namespaced_pod(
                self.ns, pod("Bad_Name", [client.V1Container(name="web", image="nginx")])
            ),
            422,
            "Unprocessable Entity",
            failure(
                422,
                "Invalid",
                f'Pod "Bad_Name" is invalid: metadata.name: {invalid_name}',
                {
                    "name": "Bad_Name",
                    "kind": "Pod",
                    "causes": [{"reason": "FieldValueInvalid", "message": invalid_name, "field": "metadata.name"}],
                },
            ),
        )
        self.assertEqual(self.core.list_namespaced_pod(self.ns).items, [])


class NamespaceTest(unittest.TestCase):
    maxDiff = None

    def test_namespace_is_active_then_terminating_then_gone(self):
        core = client.CoreV1Api()
        name = "py-lifecycle"
        created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        self.assertEqual(created.metadata.labels, {"kubernetes.io/metadata.name": name})
        self.assertEqual((created.spec.finalizers, created.status.phase), (["kubernetes"], "Active"))
        core.create_namespaced_config_map(name, config_map("content", {"k": "v"}))

        answer = delete_namespace_and_wait(core, name)
        self.assertEqual((answer["kind"], answer["metadata"]["name"]), ("Namespace", name))
        self.assertEqual(answer["status"]["phase"], "Terminating")
        self.assertIn("deletionTimestamp", answer["metadata"])


def main():
    if not os.environ.get("KUBECONFIG"):
        print("test_client.py: set KUBECONFIG to the kubeconfig of the server to test", file=sys.stderr)
        return 2
    config.load_kube_config()
    program = unittest.main(exit=False, verbosity=2)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
