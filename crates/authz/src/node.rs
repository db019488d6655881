//! `--authorization-mode=Node`: what a kubelet (`system:node:<name>` in `system:nodes`) may
//! do to its own Node and to the pods bound to it (kube's `NodeAuthorizer`).
//!
//! kube keeps a graph of pods, secrets, configmaps, PVCs, PVs, ResourceClaims,
//! VolumeAttachments and ServiceAccounts and allows a node to read any object it can reach
//! from itself. kubesim keeps only the edge pod → node ([`NodeGraph::pod_node`]) and decides:
//! - `nodes`: get/list/watch of its own Node (by name, so a kubelet can read it before it
//!   exists), create (any name, as kube, which leaves the name to NodeRestriction
//!   admission), update/patch of its own Node only;
//! - `nodes/status`: get/update/patch of its own Node only;
//! - `pods`: get, and list/watch of a single named pod, when the pod is bound to it;
//!   create (mirror pods, as kube); delete of a pod bound to it;
//! - `pods/status` update/patch and `pods/eviction` create, of pods bound to it;
//! - `leases` in `kube-node-lease` named after the node (get/create/update/patch/delete).
//!
//! Left out, so NoOpinion and RBAC's `system:node` role decides: secrets, configmaps,
//! PVCs/PVs, ResourceClaims, VolumeAttachments, ServiceAccount tokens, CSINodes,
//! ResourceSlices, and list/watch of pods by `spec.nodeName` field selector (the attributes
//! carry no selector). kube's own checks lean on NodeRestriction admission in places where
//! kubesim's check the name itself (update of a Node, status and deletion of pods).

use std::sync::Arc;

use futures::future::BoxFuture;
use kubesim_api::status::go_quote;
use kubesim_api::user::{NODE_USER_PREFIX, NODES_GROUP, UserInfo};

use crate::{Attributes, Authorizer, Decision, RuleSet};

/// The one relationship the Node authorizer needs: which node a pod is bound to.
pub trait NodeGraph: Send + Sync {
    /// `spec.nodeName` of the pod, `None` when the pod does not exist or is not bound.
    fn pod_node(&self, namespace: &str, name: &str) -> Option<String>;
}

/// The namespace of the nodes' heartbeat leases.
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

pub struct NodeAuthorizer {
    graph: Arc<dyn NodeGraph>,
}

impl NodeAuthorizer {
    pub fn new(graph: Arc<dyn NodeGraph>) -> NodeAuthorizer {
        NodeAuthorizer { graph }
    }

    fn decide(&self, attributes: &Attributes) -> Decision {
        let Some(node) = node_identity(&attributes.user) else {
            return Decision::no_opinion("");
        };
        if node.is_empty() {
            let user = go_quote(&attributes.user.username);
            return Decision::no_opinion(format!("unknown node for user {user}"));
        }
        if !attributes.resource_request {
            return Decision::no_opinion("");
        }
        match (attributes.api_group.as_str(), attributes.resource.as_str()) {
            ("", "nodes") => authorize_node(node, attributes),
            ("", "pods") => self.authorize_pod(node, attributes),
            ("coordination.k8s.io", "leases") => authorize_lease(node, attributes),
            _ => Decision::no_opinion(""),
        }
    }

    fn authorize_pod(&self, node: &str, attributes: &Attributes) -> Decision {
        let verb = attributes.verb.as_str();
        match (attributes.subresource.as_str(), verb) {
            ("", "create") => allow(node, "may create mirror pods"),
            ("", "get" | "delete") => self.bound_pod(node, attributes),
            ("", "list" | "watch") if !attributes.name.is_empty() => {
                self.bound_pod(node, attributes)
            }
            ("", "list" | "watch") => {
                Decision::no_opinion("can only list/watch pods with spec.nodeName field selector")
            }
            ("status", "update" | "patch") | ("eviction", "create") => {
                self.bound_pod(node, attributes)
            }
            _ => Decision::no_opinion(""),
        }
    }

    /// Allowed when the named pod is bound to `node` (kube's graph path pod → node).
    fn bound_pod(&self, node: &str, attributes: &Attributes) -> Decision {
        if attributes.name.is_empty() {
            return Decision::no_opinion("No Object name found");
        }
        let bound_to = self.graph.pod_node(&attributes.namespace, &attributes.name);
        if bound_to.as_deref() != Some(node) {
            return Decision::no_opinion(format!(
                "no relationship found between node '{node}' and this object"
            ));
        }
        let pod = go_quote(&format!("{}/{}", attributes.namespace, attributes.name));
        allow(node, &format!("pod {pod} is bound to it"))
    }
}

impl Authorizer for NodeAuthorizer {
    fn name(&self) -> &str {
        "Node"
    }

    fn authorize<'a>(&'a self, attributes: &'a Attributes) -> BoxFuture<'a, Decision> {
        let decision = self.decide(attributes);
        Box::pin(async move { decision })
    }

    /// A node's rules cannot be listed (kube: "node authorizer does not support user rule
    /// resolution"); for anyone else the Node authorizer grants nothing, which is a
    /// complete answer, as kube's `RulesFor` says.
    fn rules_for<'a>(
        &'a self,
        user: &'a UserInfo,
        _namespace: &'a str,
    ) -> BoxFuture<'a, Option<RuleSet>> {
        let rules = node_identity(user).is_none().then(RuleSet::default);
        Box::pin(async move { rules })
    }
}

/// kube's default `NodeIdentifier`: a user named `system:node:<name>` in `system:nodes` is
/// node `<name>` (possibly empty); anyone else is not a node.
pub fn node_identity(user: &UserInfo) -> Option<&str> {
    let name = user.username.strip_prefix(NODE_USER_PREFIX)?;
    user.in_group(NODES_GROUP).then_some(name)
}

fn allow(node: &str, why: &str) -> Decision {
    Decision::allow(format!("Node: node {} {why}", go_quote(node)))
}

fn authorize_node(node: &str, attributes: &Attributes) -> Decision {
    let own = attributes.name == node;
    match (attributes.subresource.as_str(), attributes.verb.as_str()) {
        ("", "create") => allow(node, "may register a Node"),
        ("", "get" | "list" | "watch" | "update" | "patch") if own => {
            allow(node, "may read and write its own Node")
        }
        ("", "get" | "list" | "watch") if attributes.name.is_empty() => Decision::no_opinion(
            format!("node '{node}' cannot read all nodes, only its own Node object"),
        ),
        ("", "get" | "list" | "watch") => Decision::no_opinion(format!(
            "node '{node}' cannot read '{}', only its own Node object",
            attributes.name
        )),
        ("status", "get" | "update" | "patch") if own => {
            allow(node, "may read and write its own Node's status")
        }
        _ => Decision::no_opinion(""),
    }
}

fn authorize_lease(node: &str, attributes: &Attributes) -> Decision {
    let verb = attributes.verb.as_str();
    if !matches!(verb, "get" | "create" | "update" | "patch" | "delete") {
        return Decision::no_opinion("can only get, create, update, patch, or delete a node lease");
    }
    if attributes.namespace != NODE_LEASE_NAMESPACE {
        return Decision::no_opinion(format!(
            "can only access leases in the {} system namespace",
            go_quote(NODE_LEASE_NAMESPACE)
        ));
    }
    // On create the name is in the body, which authorization does not see (kube leaves it
    // to NodeRestriction admission).
    if verb != "create" && attributes.name != node {
        return Decision::no_opinion(
            "can only access node lease with the same name as the requesting node",
        );
    }
    allow(node, "may keep its own lease")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::DecisionKind;
    use crate::DecisionKind::{Allow, NoOpinion};

    struct Pods(BTreeMap<(&'static str, &'static str), &'static str>);

    impl NodeGraph for Pods {
        fn pod_node(&self, namespace: &str, name: &str) -> Option<String> {
            self.0
                .iter()
                .find(|((ns, n), _)| *ns == namespace && *n == name)
                .map(|(_, node)| node.to_string())
        }
    }

    fn authorizer() -> NodeAuthorizer {
        let mut pods = BTreeMap::new();
        pods.insert(("ns", "web"), "node-1");
        pods.insert(("ns", "db"), "node-2");
        NodeAuthorizer::new(Arc::new(Pods(pods)))
    }

    fn node_user(name: &str) -> UserInfo {
        UserInfo::new(
            format!("system:node:{name}"),
            &["system:nodes", "system:authenticated"],
        )
    }

    fn request(verb: &str, resource: &str, subresource: &str, ns: &str, name: &str) -> Attributes {
        let (group, resource) = resource.split_once('/').unwrap_or(("", resource));
        Attributes {
            user: node_user("node-1"),
            verb: verb.into(),
            resource_request: true,
            namespace: ns.into(),
            api_group: group.into(),
            api_version: "v1".into(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    fn decide(attributes: &Attributes) -> Decision {
        authorizer().decide(attributes)
    }

    fn kind(verb: &str, resource: &str, subresource: &str, ns: &str, name: &str) -> DecisionKind {
        decide(&request(verb, resource, subresource, ns, name)).kind
    }

    #[test]
    fn a_node_reads_and_writes_only_its_own_node() {
        assert_eq!(
            decide(&request("get", "nodes", "", "", "node-1")),
            Decision::allow("Node: node \"node-1\" may read and write its own Node")
        );
        for verb in ["list", "watch", "update", "patch"] {
            assert_eq!(kind(verb, "nodes", "", "", "node-1"), Allow, "{verb}");
        }
        assert_eq!(kind("create", "nodes", "", "", ""), Allow);
        assert_eq!(
            decide(&request("get", "nodes", "", "", "node-2")),
            Decision::no_opinion("node 'node-1' cannot read 'node-2', only its own Node object")
        );
        assert_eq!(
            decide(&request("list", "nodes", "", "", "")),
            Decision::no_opinion("node 'node-1' cannot read all nodes, only its own Node object")
        );
        assert_eq!(kind("update", "nodes", "", "", "node-2"), NoOpinion);
        assert_eq!(kind("delete", "nodes", "", "", "node-1"), NoOpinion);
    }

    #[test]
    fn a_node_reads_and_writes_its_own_status() {
        for verb in ["get", "update", "patch"] {
            assert_eq!(kind(verb, "nodes", "status", "", "node-1"), Allow, "{verb}");
            assert_eq!(
                kind(verb, "nodes", "status", "", "node-2"),
                NoOpinion,
                "{verb}"
            );
        }
        assert_eq!(kind("delete", "nodes", "status", "", "node-1"), NoOpinion);
    }

    #[test]
    fn a_node_reads_only_the_pods_bound_to_it() {
        assert_eq!(
            decide(&request("get", "pods", "", "ns", "web")),
            Decision::allow("Node: node \"node-1\" pod \"ns/web\" is bound to it")
        );
        assert_eq!(
            decide(&request("get", "pods", "", "ns", "db")),
            Decision::no_opinion("no relationship found between node 'node-1' and this object")
        );
        assert_eq!(kind("get", "pods", "", "ns", "missing"), NoOpinion);
        assert_eq!(kind("watch", "pods", "", "ns", "web"), Allow);
        assert_eq!(
            decide(&request("list", "pods", "", "ns", "")),
            Decision::no_opinion("can only list/watch pods with spec.nodeName field selector")
        );
        assert_eq!(kind("delete", "pods", "", "ns", "web"), Allow);
        assert_eq!(kind("delete", "pods", "", "ns", "db"), NoOpinion);
        assert_eq!(kind("update", "pods", "", "ns", "web"), NoOpinion);
        assert_eq!(kind("get", "pods", "log", "ns", "web"), NoOpinion);
    }

    #[test]
    fn a_node_writes_the_status_of_its_pods_and_creates_mirror_pods() {
        for verb in ["update", "patch"] {
            assert_eq!(kind(verb, "pods", "status", "ns", "web"), Allow, "{verb}");
            assert_eq!(
                kind(verb, "pods", "status", "ns", "db"),
                NoOpinion,
                "{verb}"
            );
        }
        assert_eq!(kind("get", "pods", "status", "ns", "web"), NoOpinion);
        assert_eq!(kind("create", "pods", "", "ns", ""), Allow);
        assert_eq!(kind("create", "pods", "eviction", "ns", "web"), Allow);
        assert_eq!(kind("create", "pods", "eviction", "ns", "db"), NoOpinion);
    }

    #[test]
    fn a_node_keeps_its_own_lease() {
        let lease = "coordination.k8s.io/leases";
        assert_eq!(
            kind("update", lease, "", "kube-node-lease", "node-1"),
            Allow
        );
        assert_eq!(kind("create", lease, "", "kube-node-lease", ""), Allow);
        assert_eq!(
            decide(&request("update", lease, "", "kube-node-lease", "node-2")),
            Decision::no_opinion(
                "can only access node lease with the same name as the requesting node"
            )
        );
        assert_eq!(
            decide(&request("get", lease, "", "default", "node-1")),
            Decision::no_opinion(
                "can only access leases in the \"kube-node-lease\" system namespace"
            )
        );
        assert_eq!(kind("list", lease, "", "kube-node-lease", ""), NoOpinion);
    }

    #[test]
    fn everything_else_is_left_to_rbac() {
        assert_eq!(kind("get", "secrets", "", "ns", "token"), NoOpinion);
        assert_eq!(kind("get", "configmaps", "", "ns", "cfg"), NoOpinion);
        assert_eq!(kind("list", "services", "", "", ""), NoOpinion);
        let healthz = Attributes {
            user: node_user("node-1"),
            verb: "get".into(),
            path: "/healthz".into(),
            ..Attributes::default()
        };
        assert_eq!(decide(&healthz), Decision::no_opinion(""));
    }

    #[test]
    fn only_nodes_are_judged() {
        let mut not_in_group = request("get", "nodes", "", "", "node-1");
        not_in_group.user = UserInfo::new("system:node:node-1", &["system:authenticated"]);
        assert_eq!(decide(&not_in_group), Decision::no_opinion(""));
        let mut not_a_node_name = request("get", "nodes", "", "", "node-1");
        not_a_node_name.user = UserInfo::new("kubelet", &["system:nodes"]);
        assert_eq!(decide(&not_a_node_name), Decision::no_opinion(""));
        let mut nameless = request("get", "nodes", "", "", "node-1");
        nameless.user = node_user("");
        assert_eq!(
            decide(&nameless),
            Decision::no_opinion("unknown node for user \"system:node:\"")
        );
    }

    #[tokio::test]
    async fn rules_are_unlisted_for_nodes_and_empty_for_others() {
        let authorizer = authorizer();
        assert_eq!(authorizer.rules_for(&node_user("node-1"), "ns").await, None);
        let jane = UserInfo::new("jane", &[]);
        assert_eq!(
            authorizer.rules_for(&jane, "ns").await,
            Some(RuleSet::default())
        );
    }
}
