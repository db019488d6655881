//! etcd v3 services. (Filled in by the etcd-api side.)
