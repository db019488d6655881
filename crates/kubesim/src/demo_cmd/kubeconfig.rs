//! Which kubeconfig the demo reads, and an identity per context of it.
//!
//! The parsing is the workspace's one kubeconfig reader, `kubesim_audit::kubeconfig::
//! RestConfig` (client-go's rules: `current-context`, embedded or file credentials, relative
//! paths from the kubeconfig's directory). It always takes `current-context`, so a context is
//! chosen as `kubectl --context` chooses it: by making it the current one in a copy.

use std::path::{Path, PathBuf};

use kubesim_audit::kubeconfig::{RestConfig, read_bounded};
use yaml_serde::Value as Yaml;

/// `kubesim up`'s kubeconfig, relative to where it was started.
pub const UP_KUBECONFIG: &str = "kubesim-data/kubeconfig";

/// `--kubeconfig` when not given: the first file of `$KUBECONFIG` (kubectl merges them; the
/// demo needs only one), else `kubesim up`'s.
pub fn default_path(env_value: Option<&str>) -> PathBuf {
    env_value
        .and_then(|list| list.split(':').find(|entry| !entry.is_empty()))
        .map_or_else(|| PathBuf::from(UP_KUBECONFIG), PathBuf::from)
}

/// A kubeconfig, read once.
pub struct Kubeconfig {
    path: PathBuf,
    yaml: Yaml,
}

impl Kubeconfig {
    /// Reads and parses `path` (bounded to the reader's own limit).
    pub fn load(path: &Path) -> Result<Kubeconfig, String> {
        let bytes = read_bounded(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("reading {}: not UTF-8", path.display()))?;
        Kubeconfig::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Kubeconfig, String> {
        let yaml: Yaml = yaml_serde::from_str(text)
            .map_err(|e| format!("{}: not a kubeconfig: {e}", path.display()))?;
        if !yaml.is_mapping() {
            return Err(format!("{}: not a kubeconfig", path.display()));
        }
        Ok(Kubeconfig {
            path: path.to_path_buf(),
            yaml,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `current-context`, if set.
    pub fn current_context(&self) -> Option<&str> {
        self.yaml
            .get("current-context")
            .and_then(Yaml::as_str)
            .filter(|name| !name.is_empty())
    }

    /// The contexts' names, in file order.
    pub fn contexts(&self) -> Vec<&str> {
        let Some(list) = self.yaml.get("contexts").and_then(Yaml::as_sequence) else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|entry| entry.get("name").and_then(Yaml::as_str))
            .collect()
    }

    /// The server and credentials of `context`, files read relative to the kubeconfig.
    pub fn rest_config(&self, context: &str) -> Result<RestConfig, String> {
        if !self.contexts().contains(&context) {
            return Err(format!(
                "{}: no context {context:?} (it has: {})",
                self.path.display(),
                self.contexts().join(", ")
            ));
        }
        let mut chosen = self.yaml.clone();
        if let Some(map) = chosen.as_mapping_mut() {
            map.insert(
                Yaml::String("current-context".into()),
                Yaml::String(context.into()),
            );
        }
        let text =
            yaml_serde::to_string(&chosen).map_err(|e| format!("{}: {e}", self.path.display()))?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        RestConfig::parse(&text, dir, &read_bounded)
            .map_err(|e| format!("{} context {context:?}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CONTEXTS: &str = "apiVersion: v1\nkind: Config\n\
        clusters:\n- name: kubesim\n  cluster:\n    server: https://127.0.0.1:7443\n    \
        insecure-skip-tls-verify: true\n\
        users:\n- name: admin\n  user:\n    token: admin-token\n\
        - name: bot\n  user:\n    token: bot-token\n\
        contexts:\n- name: kubesim\n  context:\n    cluster: kubesim\n    user: admin\n\
        - name: bot@kubesim\n  context:\n    cluster: kubesim\n    user: bot\n\
        current-context: kubesim\n";

    #[test]
    fn the_default_is_the_first_kubeconfig_entry_else_kubesim_ups() {
        assert_eq!(default_path(None), PathBuf::from("kubesim-data/kubeconfig"));
        assert_eq!(
            default_path(Some("")),
            PathBuf::from("kubesim-data/kubeconfig")
        );
        assert_eq!(default_path(Some(":/a/b:/c")), PathBuf::from("/a/b"));
    }

    #[test]
    fn a_context_is_chosen_by_making_it_current() {
        let config = Kubeconfig::parse(Path::new("/k/config"), TWO_CONTEXTS).unwrap();
        assert_eq!(config.current_context(), Some("kubesim"));
        assert_eq!(config.contexts(), ["kubesim", "bot@kubesim"]);
        let admin = config.rest_config("kubesim").unwrap();
        let bot = config.rest_config("bot@kubesim").unwrap();
        assert_eq!(admin.token.as_deref(), Some("admin-token"));
        assert_eq!(bot.token.as_deref(), Some("bot-token"));
        assert_eq!(bot.server.addr, "127.0.0.1:7443");
        let missing = config.rest_config("jane@kubesim").unwrap_err();
        assert_eq!(
            missing,
            "/k/config: no context \"jane@kubesim\" (it has: kubesim, bot@kubesim)"
        );
    }

    #[test]
    fn what_is_not_a_kubeconfig_is_refused() {
        let error = Kubeconfig::parse(Path::new("k"), "- a\n- b\n")
            .err()
            .unwrap();
        assert_eq!(error, "k: not a kubeconfig");
    }
}
