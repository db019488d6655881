//! A pod spec's `volumes` (core's `ValidateVolumes`): exactly one source per volume, unique
//! DNS-label names, and the fields of the common sources (emptyDir, hostPath, secret,
//! configMap, persistentVolumeClaim, nfs, downwardAPI, csi). Rarer sources (cloud disks,
//! iSCSI, Ceph, projected, …) are counted as a source but their fields are not checked yet.
//!
//! Also the path rules kube shares with volume mounts (`validateLocalDescendingPath`, …).

use std::collections::BTreeMap;

use super::fields::{
    Errs, Obj, Path, duplicate, field_name_errors, forbidden, invalid, not_supported, required,
};
use super::quantity::{Quantity, bad_quantity};
use crate::validation::is_dns1123_label;

/// The volumes a container may mount, by name: whether each is backed by a claim (the only
/// kind a `volumeDevices` entry may use) and whether it is an image volume.
#[derive(Debug, Default)]
pub(crate) struct Volumes(BTreeMap<String, VolumeKind>);

#[derive(Debug, Clone, Copy)]
pub(crate) struct VolumeKind {
    pub(crate) claim: bool,
    pub(crate) image: bool,
}

impl Volumes {
    pub(crate) fn get(&self, name: &str) -> Option<VolumeKind> {
        self.0.get(name).copied()
    }
}

/// Every volume source a v1 `Volume` can have, in the order kube checks them: the JSON key,
/// and the name kube uses in the "more than 1 volume type" path (a few differ from the key:
/// kube writes `cephFS` and `downwarAPI` there).
pub(crate) const SOURCES: [(&str, &str); 30] = [
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

/// `fileModeErrorMsg`.
const FILE_MODE: &str = "must be a number between 0 and 0777 (octal), both inclusive";
/// `0777`.
const MAX_FILE_MODE: i64 = 0o777;

/// `ValidateVolumes`: the errors, and the volumes that passed (only those may be mounted).
pub(crate) fn validate(spec: &Obj, errs: &mut Errs) -> Volumes {
    let mut volumes = Volumes::default();
    for volume in spec.objects("volumes", errs) {
        let mut own = Errs::new();
        let kind = validate_source(&volume, &mut own);
        let name = volume.str("name", &mut own).unwrap_or_default();
        if name.is_empty() {
            own.push(required(&volume.at_key("name"), ""));
        } else {
            field_name_errors(&volume, "name", name, is_dns1123_label(name), &mut own);
        }
        if volumes.0.contains_key(name) {
            own.push(duplicate(&volume.at_key("name"), name));
        }
        if own.is_empty() {
            volumes.0.insert(name.to_string(), kind);
        } else {
            errs.append(&mut own);
        }
    }
    volumes
}

/// `validateVolumeSource`: one source, checked; a second one is Forbidden at its own path.
fn validate_source(volume: &Obj, errs: &mut Errs) -> VolumeKind {
    let mut count = 0;
    for (key, path_name) in SOURCES {
        if !volume.has(key) {
            continue;
        }
        if count > 0 {
            let path = volume.path().child(path_name);
            errs.push(forbidden(&path, "may not specify more than 1 volume type"));
            continue;
        }
        count += 1;
        if let Some(source) = volume.obj(key, errs) {
            validate_known_source(key, &source, errs);
        }
    }
    if count == 0 {
        errs.push(required(volume.path(), "must specify a volume type"));
    }
    VolumeKind {
        claim: volume.has("persistentVolumeClaim") || volume.has("ephemeral"),
        image: volume.has("image"),
    }
}

fn validate_known_source(key: &str, source: &Obj, errs: &mut Errs) {
    match key {
        "emptyDir" => empty_dir(source, errs),
        "hostPath" => host_path(source, errs),
        "secret" => secret(source, errs),
        "configMap" => config_map(source, errs),
        "persistentVolumeClaim" => require(source, "claimName", errs),
        "nfs" => nfs(source, errs),
        "downwardAPI" => downward_api(source, errs),
        "csi" => require(source, "driver", errs),
        _ => {}
    }
}

fn require(source: &Obj, key: &str, errs: &mut Errs) {
    if source.str(key, errs) == Some("") {
        errs.push(required(&source.at_key(key), ""));
    }
}

fn empty_dir(source: &Obj, errs: &mut Errs) {
    let Some(limit) = source.raw("sizeLimit") else {
        return;
    };
    let path = source.at_key("sizeLimit");
    match Quantity::from_json(limit) {
        None => errs.push(bad_quantity(&path, limit)),
        Some(q) if q.is_negative() => {
            errs.push(forbidden(
                &path,
                "SizeLimit field must be a valid resource quantity",
            ));
        }
        Some(_) => {}
    }
}

/// Host path types kube accepts, sorted as its message lists them.
const HOST_PATH_TYPES: [&str; 8] = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

fn host_path(source: &Obj, errs: &mut Errs) {
    let path = source.at_key("path");
    let Some(target) = source.str("path", errs) else {
        return;
    };
    if target.is_empty() {
        errs.push(required(&path, ""));
        return;
    }
    no_backsteps(&path, target, errs);
    if let Some(Some(kind)) = source.opt_str("type", errs)
        && !HOST_PATH_TYPES.contains(&kind)
    {
        errs.push(not_supported(
            &source.at_key("type"),
            kind,
            &HOST_PATH_TYPES,
        ));
    }
}

fn secret(source: &Obj, errs: &mut Errs) {
    require(source, "secretName", errs);
    file_mode(source, "defaultMode", errs);
    key_to_paths(source, errs);
}

fn config_map(source: &Obj, errs: &mut Errs) {
    require(source, "name", errs);
    file_mode(source, "defaultMode", errs);
    key_to_paths(source, errs);
}

/// `validateKeyToPath` for each of `items`.
fn key_to_paths(source: &Obj, errs: &mut Errs) {
    for item in source.objects("items", errs) {
        require(&item, "key", errs);
        let target = item.str("path", errs);
        if target == Some("") {
            errs.push(required(&item.at_key("path"), ""));
        }
        if let Some(target) = target {
            local_non_reserved(&item.at_key("path"), target, errs);
        }
        file_mode(&item, "mode", errs);
    }
}

fn file_mode(source: &Obj, key: &str, errs: &mut Errs) {
    if let Some(Some(mode)) = source.opt_int(key, errs)
        && !(0..=MAX_FILE_MODE).contains(&mode)
    {
        errs.push(invalid(&source.at_key(key), mode, FILE_MODE));
    }
}

fn nfs(source: &Obj, errs: &mut Errs) {
    require(source, "server", errs);
    let Some(target) = source.str("path", errs) else {
        return;
    };
    if target.is_empty() {
        errs.push(required(&source.at_key("path"), ""));
    }
    if !target.starts_with('/') {
        errs.push(invalid(
            &source.at_key("path"),
            target,
            "must be an absolute path",
        ));
    }
}

/// `validateDownwardAPIVolumeSource`; kube checks each item at the source's own path, not
/// at `items[i]`.
fn downward_api(source: &Obj, errs: &mut Errs) {
    file_mode(source, "defaultMode", errs);
    for item in source.objects("items", errs) {
        let at = source.path();
        let target = item.str("path", errs);
        if target == Some("") {
            errs.push(required(&at.child("path"), ""));
        }
        if let Some(target) = target {
            local_non_reserved(&at.child("path"), target, errs);
        }
        if !item.has("fieldRef") && !item.has("resourceFieldRef") {
            errs.push(required(
                at,
                "one of fieldRef and resourceFieldRef is required",
            ));
        } else if item.has("fieldRef") && item.has("resourceFieldRef") {
            errs.push(invalid(
                at,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        }
        file_mode(&item, "mode", errs);
    }
}

// ---------------------------------------------------------------------------------------------
// Paths inside a volume

/// `validatePathNoBacksteps`: no `..` element (one error however many there are).
pub(crate) fn no_backsteps(path: &Path, target: &str, errs: &mut Errs) {
    if target
        .replace('\\', "/")
        .split('/')
        .any(|part| part == "..")
    {
        errs.push(invalid(path, target, "must not contain '..'"));
    }
}

/// `validateLocalDescendingPath`: relative, without `..`.
pub(crate) fn local_descending(path: &Path, target: &str, errs: &mut Errs) {
    if target.starts_with('/') {
        errs.push(invalid(path, target, "must be a relative path"));
    }
    no_backsteps(path, target, errs);
}

/// `ValidateLocalNonReservedPath`: a local descending path that does not start with `..`.
pub(crate) fn local_non_reserved(path: &Path, target: &str, errs: &mut Errs) {
    local_descending(path, target, errs);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(invalid(path, target, "must not start with '..'"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn check(volumes: Value) -> (Vec<String>, Vec<String>) {
        let spec = json!({ "volumes": volumes });
        let mut errs = Errs::new();
        let obj = Obj::at(Some(&spec), Path::new("spec"), &mut errs).unwrap();
        let found = validate(&obj, &mut errs);
        let names = found.0.keys().cloned().collect();
        (errs.iter().map(ToString::to_string).collect(), names)
    }

    #[test]
    fn valid_volumes_are_collected() {
        let (errs, names) = check(json!([
            {"name": "data", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "app", "items": [{"key": "a", "path": "a.conf"}]}},
            {"name": "claim", "persistentVolumeClaim": {"claimName": "pvc"}},
        ]));
        assert_eq!(errs, Vec::<String>::new());
        assert_eq!(names, vec!["cfg", "claim", "data"]);
    }

    #[test]
    fn each_rule_fails_with_kubes_wording() {
        let (errs, names) = check(json!([
            {"name": "Data", "emptyDir": {}},
            {"name": "two", "emptyDir": {}, "downwardAPI": {}},
            {"name": "none"},
            {"name": "hp", "hostPath": {"path": "/a/../b", "type": "Dir"}},
            {"name": "sec", "secret": {"defaultMode": 1000, "items": [{"key": "", "path": "/abs"}]}},
            {"name": "nfs", "nfs": {"server": "s", "path": "rel"}},
            {"name": "cfg", "configMap": {"name": "c"}},
            {"name": "cfg", "configMap": {"name": "c"}},
        ]));
        assert_eq!(
            errs,
            vec![
                r#"spec.volumes[0].name: Invalid value: "Data": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
                "spec.volumes[1].downwarAPI: Forbidden: may not specify more than 1 volume type",
                "spec.volumes[2]: Required value: must specify a volume type",
                r#"spec.volumes[3].hostPath.path: Invalid value: "/a/../b": must not contain '..'"#,
                r#"spec.volumes[3].hostPath.type: Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket""#,
                "spec.volumes[4].secret.secretName: Required value",
                "spec.volumes[4].secret.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
                "spec.volumes[4].secret.items[0].key: Required value",
                r#"spec.volumes[4].secret.items[0].path: Invalid value: "/abs": must be a relative path"#,
                r#"spec.volumes[5].nfs.path: Invalid value: "rel": must be an absolute path"#,
                r#"spec.volumes[7].name: Duplicate value: "cfg""#,
            ]
        );
        assert_eq!(names, vec!["cfg"]);
    }

    #[test]
    fn local_paths() {
        let mut errs = Errs::new();
        let p = Path::new("p");
        local_non_reserved(&p, "..data", &mut errs);
        local_non_reserved(&p, "../x", &mut errs);
        let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            vec![
                r#"p: Invalid value: "..data": must not start with '..'"#,
                r#"p: Invalid value: "../x": must not contain '..'"#,
            ]
        );
    }
}
