//! What kube-apiserver's service registry allocates: a cluster IP from the service CIDR
//! (kube's default `10.96.0.0/12`), node ports from `30000-32767`, and the health check node
//! port of a `LoadBalancer` with `externalTrafficPolicy: Local`; and on update, the
//! allocations carried over when the new object leaves them out (kubectl apply of a manifest
//! without `clusterIP`). Allocations are random draws checked against the services the watch
//! cache holds; kubesim keeps no allocation bitmap, so two concurrent creates could draw the
//! same address (one in 2^20 for IPs); kube's bitmap in etcd rules that out.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::Registry;

/// kube's default `--service-cluster-ip-range`: 10.96.0.0/12.
const SERVICE_CIDR_BASE: u32 = 0x0a60_0000;
const SERVICE_CIDR_SIZE: u32 = 1 << 20;
/// kube's default `--service-node-port-range`.
const NODE_PORT_FIRST: u64 = 30_000;
const NODE_PORT_COUNT: u64 = 2_768;
/// Draws before giving up on a free address (the range is nearly empty in practice).
const MAX_DRAWS: usize = 64;

impl Registry {
    /// Fills the allocations a new service needs (after defaults, before validation).
    pub(crate) fn allocate_service(&self, service: &mut Value) {
        let (ips, ports) = self.allocated();
        let service_type = service_type(service).to_string();
        let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        if service_type != "ExternalName" {
            let current = spec.get("clusterIP").and_then(Value::as_str).unwrap_or("");
            if current.is_empty() {
                let ip = self.draw_ip(&ips);
                spec.insert("clusterIP".into(), json!(ip));
                spec.insert("clusterIPs".into(), json!([ip]));
            } else if !spec.contains_key("clusterIPs") {
                let ip = current.to_string();
                spec.insert("clusterIPs".into(), json!([ip]));
            }
        }
        if service_type == "NodePort" || service_type == "LoadBalancer" {
            let mut used = ports;
            if let Some(list) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for port in list {
                    if port.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                        let node_port = self.draw_port(&used);
                        used.insert(node_port);
                        port["nodePort"] = json!(node_port);
                    }
                }
            }
            let local = spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
            let missing = spec
                .get("healthCheckNodePort")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 0;
            if service_type == "LoadBalancer" && local && missing {
                spec.insert("healthCheckNodePort".into(), json!(self.draw_port(&used)));
            }
        }
    }

    /// Every cluster IP and node port the services in the watch cache hold.
    fn allocated(&self) -> (BTreeSet<String>, BTreeSet<u64>) {
        let mut ips = BTreeSet::new();
        let mut ports = BTreeSet::new();
        let Some(resource) = kubesim_api::resources::lookup("", "v1", "services") else {
            return (ips, ports);
        };
        let Ok(cache) = self.cache(resource) else {
            return (ips, ports);
        };
        let (services, _) = cache.list(&self.collection_key(resource, ""), &|_| true);
        for service in services {
            let spec = &service["spec"];
            if let Some(ip) = spec.get("clusterIP").and_then(Value::as_str) {
                ips.insert(ip.to_string());
            }
            for port in spec
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(node_port) = port.get("nodePort").and_then(Value::as_u64) {
                    ports.insert(node_port);
                }
            }
        }
        (ips, ports)
    }

    fn draw_ip(&self, used: &BTreeSet<String>) -> String {
        let mut ip = String::new();
        for _ in 0..MAX_DRAWS {
            // Skip the network address and .1 (kube keeps the first for the `kubernetes`
            // service).
            let offset =
                2 + (self.env.entropy.next_u64() % u64::from(SERVICE_CIDR_SIZE - 3)) as u32;
            ip = std::net::Ipv4Addr::from(SERVICE_CIDR_BASE + offset).to_string();
            if !used.contains(&ip) {
                break;
            }
        }
        ip
    }

    fn draw_port(&self, used: &BTreeSet<u64>) -> u64 {
        let mut port = NODE_PORT_FIRST;
        for _ in 0..MAX_DRAWS {
            port = NODE_PORT_FIRST + self.env.entropy.next_u64() % NODE_PORT_COUNT;
            if !used.contains(&port) {
                break;
            }
        }
        port
    }
}

fn service_type(service: &Value) -> &str {
    service
        .get("spec")
        .and_then(|s| s.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
}

/// On update, kube's service strategy keeps the allocations the new object leaves empty.
pub(crate) fn carry_over_allocations(service: &mut Value, old: &Value) {
    let Some(old_spec) = old.get("spec") else {
        return;
    };
    let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["clusterIP", "clusterIPs", "healthCheckNodePort"] {
        let empty = match spec.get(field) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            _ => false,
        };
        if empty && let Some(value) = old_spec.get(field) {
            spec.insert(field.to_string(), value.clone());
        }
    }
    let old_ports = old_spec
        .get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports {
            if port.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                continue;
            }
            let same = old_ports.iter().find(|old| {
                old.get("port") == port.get("port") && old.get("protocol") == port.get("protocol")
            });
            if let Some(node_port) = same.and_then(|old| old.get("nodePort")) {
                port["nodePort"] = node_port.clone();
            }
        }
    }
}
