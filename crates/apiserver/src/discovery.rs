//! Discovery: what kubectl reads before anything else to learn which resources exist, their
//! short names and scope. Two forms, both built from `kubesim_api::resources::RESOURCES`:
//!
//! - legacy: `/api` (APIVersions), `/apis` (APIGroupList), `/apis/<g>` (APIGroup), and one
//!   APIResourceList per group version (`/api/v1`, `/apis/<g>/<v>`);
//! - aggregated (`apidiscovery.k8s.io/v2`, and `v2beta1` for kubectl 1.26-1.29): `/api` and
//!   `/apis` answer every group version's resources in one APIGroupDiscoveryList, when the
//!   `Accept` header asks for it. kubectl 1.27+ asks for it first, and falls back to the
//!   legacy form when the answer's `Content-Type` is plain JSON.
//!
//! Pure functions of the resource table, so the JSON shapes are unit-tested.

use kubesim_api::resources::{RESOURCES, Resource, Subresource, group_versions, subresource};
use serde_json::{Map, Value, json};

/// The group of aggregated discovery documents.
const DISCOVERY_GROUP: &str = "apidiscovery.k8s.io";
/// Versions of aggregated discovery served, most preferred first.
const DISCOVERY_VERSIONS: &[&str] = &["v2", "v2beta1"];

/// `/api`: the versions of the legacy core group, and the address clients should use.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ]
    })
}

/// `/apis`: every named group with its versions.
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = named_groups().into_iter().map(api_group_body).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`, or `None` when the group is not served.
pub fn api_group(group: &str) -> Option<Value> {
    if group.is_empty() || !named_groups().contains(&group) {
        return None;
    }
    let mut body = api_group_body(group);
    let object = body.as_object_mut()?;
    let mut out = Map::new();
    out.insert("kind".into(), json!("APIGroup"));
    out.insert("apiVersion".into(), json!("v1"));
    out.append(object);
    Some(Value::Object(out))
}

/// `/api/v1` (`group` empty) or `/apis/<group>/<version>`, or `None` when not served.
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let served: Vec<&Resource> = resources_of(group, version).collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for resource in served {
        resources.push(api_resource(resource));
        for sub in resource.subresources {
            if let Some(sub) = subresource(resource, sub) {
                resources.push(api_subresource(resource, &sub));
            }
        }
    }
    let mut list = Map::new();
    list.insert("kind".into(), json!("APIResourceList"));
    // kube-apiserver leaves `apiVersion` out of the core group's list, for old clients.
    if !group.is_empty() {
        list.insert("apiVersion".into(), json!("v1"));
    }
    list.insert("groupVersion".into(), json!(group_version(group, version)));
    list.insert("resources".into(), Value::Array(resources));
    Some(Value::Object(list))
}

/// The aggregated media type to answer with, if `accept` asks for one: its first media type
/// that names an APIGroupDiscoveryList of a served version. The answer's `Content-Type` must
/// be this type, or client-go reads the body as the legacy form.
pub fn negotiate_aggregated(accept: &str) -> Option<String> {
    accept.split(',').find_map(|media_type| {
        let mut parts = media_type.split(';').map(str::trim);
        if parts.next()? != "application/json" {
            return None;
        }
        let (mut group, mut version, mut kind) = (None, None, None);
        for param in parts {
            match param.split_once('=') {
                Some(("g", value)) => group = Some(value),
                Some(("v", value)) => version = Some(value),
                Some(("as", value)) => kind = Some(value),
                _ => {}
            }
        }
        let version = version.filter(|v| DISCOVERY_VERSIONS.contains(v))?;
        (group == Some(DISCOVERY_GROUP) && kind == Some("APIGroupDiscoveryList")).then(|| {
            format!("application/json;g={DISCOVERY_GROUP};v={version};as=APIGroupDiscoveryList")
        })
    })
}

/// The aggregated document of `/api` (`core` true: the legacy group alone, with an empty
/// name) or of `/apis` (every named group). `media_type` is what
/// [`negotiate_aggregated`] chose; its `v=` names the document's apiVersion.
pub fn aggregated(core: bool, media_type: &str) -> Value {
    let version = if media_type.contains(";v=v2beta1;") {
        "v2beta1"
    } else {
        "v2"
    };
    let groups: Vec<&str> = if core { vec![""] } else { named_groups() };
    let items: Vec<Value> = groups.into_iter().map(aggregated_group).collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("{DISCOVERY_GROUP}/{version}"),
        "metadata": {},
        "items": items,
    })
}

fn aggregated_group(group: &str) -> Value {
    let versions: Vec<Value> = versions_of(group)
        .into_iter()
        .map(|version| {
            let resources: Vec<Value> = resources_of(group, version)
                .map(aggregated_resource)
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    let metadata = if group.is_empty() {
        json!({"creationTimestamp": null})
    } else {
        json!({"name": group, "creationTimestamp": null})
    };
    json!({"metadata": metadata, "versions": versions})
}

fn aggregated_resource(resource: &Resource) -> Value {
    let response_kind = json!({
        "group": resource.group, "version": resource.version, "kind": resource.kind
    });
    let mut out = Map::new();
    out.insert("resource".into(), json!(resource.plural));
    out.insert("responseKind".into(), response_kind);
    let scope = if resource.is_namespaced() {
        "Namespaced"
    } else {
        "Cluster"
    };
    out.insert("scope".into(), json!(scope));
    out.insert("singularResource".into(), json!(resource.singular));
    out.insert("verbs".into(), json!(resource.verbs));
    insert_unless_empty(&mut out, "shortNames", resource.short_names);
    insert_unless_empty(&mut out, "categories", resource.categories);
    let subresources: Vec<Value> = resource
        .subresources
        .iter()
        .filter_map(|sub| subresource(resource, sub))
        .map(|sub| {
            json!({
                "subresource": sub.name,
                "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind},
                "verbs": sub.verbs,
            })
        })
        .collect();
    if !subresources.is_empty() {
        out.insert("subresources".into(), Value::Array(subresources));
    }
    Value::Object(out)
}

fn api_resource(resource: &Resource) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(resource.plural));
    out.insert("singularName".into(), json!(resource.singular));
    out.insert("namespaced".into(), json!(resource.is_namespaced()));
    out.insert("kind".into(), json!(resource.kind));
    out.insert("verbs".into(), json!(resource.verbs));
    insert_unless_empty(&mut out, "shortNames", resource.short_names);
    insert_unless_empty(&mut out, "categories", resource.categories);
    Value::Object(out)
}

/// `pods/status`: kube-apiserver lists each subresource as a resource of its own, with an
/// empty singular name and the parent's kind, or, for one of another kind
/// (`serviceaccounts/token`), that kind with its group and version.
fn api_subresource(resource: &Resource, sub: &Subresource) -> Value {
    let mut out = Map::new();
    out.insert(
        "name".into(),
        json!(format!("{}/{}", resource.plural, sub.name)),
    );
    out.insert("singularName".into(), json!(""));
    out.insert("namespaced".into(), json!(resource.is_namespaced()));
    if (sub.group, sub.version) != (resource.group, resource.version) {
        out.insert("group".into(), json!(sub.group));
        out.insert("version".into(), json!(sub.version));
    }
    out.insert("kind".into(), json!(sub.kind));
    out.insert("verbs".into(), json!(sub.verbs));
    Value::Object(out)
}

/// Go's `omitempty`: kube-apiserver leaves out empty short names and categories.
fn insert_unless_empty(out: &mut Map<String, Value>, key: &str, values: &[&str]) {
    if !values.is_empty() {
        out.insert(key.into(), json!(values));
    }
}

fn api_group_body(group: &str) -> Value {
    let versions: Vec<Value> = versions_of(group)
        .into_iter()
        .map(|version| json!({"groupVersion": group_version(group, version), "version": version}))
        .collect();
    // The first version listed is the preferred one, as in the resource table's order.
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

/// Named groups in discovery order (the resource table's order).
fn named_groups() -> Vec<&'static str> {
    let mut groups: Vec<&str> = Vec::new();
    for (group, _) in group_versions() {
        if !group.is_empty() && !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups
}

fn versions_of(group: &str) -> Vec<&'static str> {
    group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(_, v)| v)
        .collect()
}

fn resources_of<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = &'static Resource> {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|item| item[key] == name)
            .unwrap_or_else(|| panic!("{name} missing from {list}"))
    }

    #[test]
    fn api_lists_v1_and_the_server_address() {
        let doc = api_versions("10.0.0.1:6443");
        assert_eq!(doc["kind"], "APIVersions");
        assert_eq!(doc["versions"], json!(["v1"]));
        assert_eq!(
            doc["serverAddressByClientCIDRs"][0]["serverAddress"],
            "10.0.0.1:6443"
        );
    }

    #[test]
    fn apis_lists_named_groups_with_preferred_versions() {
        let doc = api_group_list();
        assert_eq!(doc["kind"], "APIGroupList");
        let apps = find(&doc["groups"], "name", "apps");
        assert_eq!(
            apps["preferredVersion"],
            json!({"groupVersion": "apps/v1", "version": "v1"})
        );
        assert!(
            doc["groups"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["name"] != ""),
            "the core group is served under /api, not /apis"
        );
        assert_eq!(api_group("apps").unwrap()["kind"], "APIGroup");
        assert_eq!(api_group("nosuch.io"), None);
        assert_eq!(api_group(""), None);
    }

    #[test]
    fn core_resource_list_has_names_scope_and_subresources() {
        let doc = api_resource_list("", "v1").unwrap();
        assert_eq!(doc["groupVersion"], "v1");
        assert!(doc.get("apiVersion").is_none());
        let pods = find(&doc["resources"], "name", "pods");
        assert_eq!(pods["singularName"], "pod");
        assert_eq!(pods["namespaced"], true);
        assert_eq!(pods["kind"], "Pod");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert!(pods["verbs"].as_array().unwrap().contains(&json!("watch")));
        let status = find(&doc["resources"], "name", "pods/status");
        assert_eq!(status["kind"], "Pod");
        assert_eq!(status["verbs"], json!(["get", "patch", "update"]));
        let namespaces = find(&doc["resources"], "name", "namespaces");
        assert_eq!(namespaces["namespaced"], false);
        let secrets = find(&doc["resources"], "name", "secrets");
        assert!(secrets.get("shortNames").is_none(), "omitempty: {secrets}");
    }

    #[test]
    fn reviews_nodes_and_the_token_subresource_are_listed_as_kube_lists_them() {
        let core = api_resource_list("", "v1").unwrap();
        let token = find(&core["resources"], "name", "serviceaccounts/token");
        assert_eq!(
            token,
            &json!({"name": "serviceaccounts/token", "singularName": "", "namespaced": true,
                    "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest",
                    "verbs": ["create"]})
        );
        let nodes = find(&core["resources"], "name", "nodes");
        assert_eq!(nodes["namespaced"], false);
        assert_eq!(nodes["shortNames"], json!(["no"]));
        let status = find(&core["resources"], "name", "nodes/status");
        assert!(status.get("group").is_none(), "{status}");
        assert_eq!(status["verbs"], json!(["get", "patch", "update"]));

        let authz = api_resource_list("authorization.k8s.io", "v1").unwrap();
        let local = find(&authz["resources"], "name", "localsubjectaccessreviews");
        assert_eq!(
            local,
            &json!({"name": "localsubjectaccessreviews", "singularName": "localsubjectaccessreview",
                    "namespaced": true, "kind": "LocalSubjectAccessReview", "verbs": ["create"]})
        );
        let names: Vec<&str> = authz["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "localsubjectaccessreviews",
                "selfsubjectaccessreviews",
                "selfsubjectrulesreviews",
                "subjectaccessreviews"
            ]
        );
        let authn = api_group("authentication.k8s.io").unwrap();
        assert_eq!(
            authn["versions"],
            json!([
                {"groupVersion": "authentication.k8s.io/v1", "version": "v1"},
                {"groupVersion": "authentication.k8s.io/v1beta1", "version": "v1beta1"},
                {"groupVersion": "authentication.k8s.io/v1alpha1", "version": "v1alpha1"}
            ])
        );
        assert_eq!(authn["preferredVersion"]["version"], "v1");
        let beta = api_resource_list("authentication.k8s.io", "v1beta1").unwrap();
        assert_eq!(beta["resources"][0]["name"], "selfsubjectreviews");
        assert_eq!(beta["resources"].as_array().unwrap().len(), 1);

        let media = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
        let core = aggregated(true, media);
        let v1 = &core["items"][0]["versions"][0];
        let accounts = find(&v1["resources"], "resource", "serviceaccounts");
        assert_eq!(
            accounts["subresources"],
            json!([{"subresource": "token",
                    "responseKind": {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"},
                    "verbs": ["create"]}])
        );
        let groups = aggregated(false, media);
        let authz = groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["metadata"]["name"] == "authorization.k8s.io")
            .unwrap();
        let sar = find(
            &authz["versions"][0]["resources"],
            "resource",
            "subjectaccessreviews",
        );
        assert_eq!(sar["scope"], "Cluster");
        assert_eq!(sar["verbs"], json!(["create"]));
    }

    #[test]
    fn group_resource_list() {
        let doc = api_resource_list("apps", "v1").unwrap();
        assert_eq!(doc["apiVersion"], "v1");
        assert_eq!(doc["groupVersion"], "apps/v1");
        let deployments = find(&doc["resources"], "name", "deployments");
        assert_eq!(deployments["shortNames"], json!(["deploy"]));
        assert_eq!(api_resource_list("apps", "v2"), None);
        assert_eq!(api_resource_list("nosuch.io", "v1"), None);
    }

    #[test]
    fn negotiates_what_kubectl_asks_for() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,\
                       application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,\
                       application/json";
        assert_eq!(
            negotiate_aggregated(kubectl).as_deref(),
            Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        );
        let old = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(
            negotiate_aggregated(old).as_deref(),
            Some("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")
        );
        assert_eq!(negotiate_aggregated("application/json, */*"), None);
        assert_eq!(
            negotiate_aggregated(
                "application/json;g=apidiscovery.k8s.io;v=v9;as=APIGroupDiscoveryList"
            ),
            None
        );
    }

    #[test]
    fn aggregated_lists_resources_with_subresources() {
        let media = negotiate_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        )
        .unwrap();
        let core = aggregated(true, &media);
        assert_eq!(core["apiVersion"], "apidiscovery.k8s.io/v2");
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
        assert!(core["items"][0]["metadata"].get("name").is_none());
        let v1 = &core["items"][0]["versions"][0];
        assert_eq!(v1["version"], "v1");
        let pods = find(&v1["resources"], "resource", "pods");
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["singularResource"], "pod");
        assert_eq!(
            pods["responseKind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(pods["subresources"][0]["subresource"], "status");
        let groups = aggregated(false, &media);
        let rbac = groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["metadata"]["name"] == "rbac.authorization.k8s.io")
            .unwrap();
        let clusterroles = find(
            &rbac["versions"][0]["resources"],
            "resource",
            "clusterroles",
        );
        assert_eq!(clusterroles["scope"], "Cluster");
    }
}
