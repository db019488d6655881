//! GET and list. A list is read from the store when it must be consistent or exact, and from
//! the watch cache when the client accepts any state at least as new as a resourceVersion
//! (K8S-FACTS.md, "Storage and watch"):
//!
//! | resourceVersion | resourceVersionMatch | limit | served from |
//! |---|---|---|---|
//! | unset | — | any | the store, latest (consistent) |
//! | `0` | unset or NotOlderThan | ignored | the watch cache, as it is |
//! | `N` | unset | 0 | the watch cache, once it has reached `N` |
//! | `N` | unset | > 0 | the store at `N` (exact, as kube's legacy rule) |
//! | `N` | NotOlderThan | ignored | the watch cache, once it has reached `N` |
//! | `N` | Exact | any | the store at `N` |
//! | — (continue) | — | any | the store at the token's revision |

use std::sync::Arc;

use kubesim_api::Status;
use kubesim_api::resources::Resource;
use kubesim_api::selectors::{FieldSelector, LabelSelector};
use kubesim_api::status::{FieldError, GroupKind};
use kubesim_storage::cacher::SharedObject;
use kubesim_storage::{ListOptions as StoreListOptions, continue_token};
use serde_json::Value;

use super::{Registry, group_resource, meta, storage_status};

/// Items fetched from the store per round trip while a selector filters them.
const STORE_PAGE: i64 = 500;

/// `ListOptions` as the API server reads them from the query.
#[derive(Debug, Clone)]
pub struct ListOptions {
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    /// 0: no limit.
    pub limit: i64,
    pub continue_token: Option<String>,
    /// None: unset.
    pub resource_version: Option<i64>,
    pub match_exact: bool,
    pub match_not_older_than: bool,
}

/// One page of a list, ready to be written as `<Kind>List` or a Table.
#[derive(Debug, Clone, Default)]
pub struct ObjectList {
    pub items: Vec<Arc<SharedObject>>,
    pub resource_version: i64,
    pub continue_token: Option<String>,
    /// Set only when the list was limited, has more, and no selector hid items.
    pub remaining_item_count: Option<i64>,
}

impl ListOptions {
    /// Whether `object` passes both selectors.
    pub fn matches(&self, resource: &Resource, object: &Value) -> bool {
        let labels = object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        self.label_selector.matches(labels) && self.field_selector.matches(resource, object)
    }

    /// [`ListOptions::matches`] for a cached object, which is decoded only if a selector
    /// needs to look into it (the watch cache keeps objects as JSON).
    pub fn matches_cached(&self, resource: &Resource, object: &SharedObject) -> bool {
        !self.filters() || self.matches(resource, object.value())
    }

    fn filters(&self) -> bool {
        !self.label_selector.is_empty() || !self.field_selector.is_empty()
    }

    /// Checks the combination of options kube-apiserver refuses with 400.
    pub fn validate(&self) -> Result<(), Status> {
        if self.continue_token.is_some() && self.resource_version.is_some_and(|rv| rv != 0) {
            return Err(Status::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        if (self.match_exact || self.match_not_older_than) && self.resource_version.is_none() {
            return Err(invalid_list_options(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            )));
        }
        if self.match_exact && self.resource_version == Some(0) {
            return Err(invalid_list_options(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            )));
        }
        Ok(())
    }

    /// Whether this list is served from the watch cache (see the module's table).
    fn served_from_cache(&self) -> bool {
        if self.continue_token.is_some() || self.match_exact {
            return false;
        }
        match self.resource_version {
            None => false,
            Some(0) => true,
            Some(_) => self.match_not_older_than || self.limit == 0,
        }
    }
}

impl Registry {
    /// GET of one object, read consistently from the store.
    pub async fn get(
        &self,
        resource: &'static Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Value, Status> {
        Ok(self.read(resource, namespace, name).await?.0)
    }

    /// One page of a collection (every namespace's when `namespace` is empty).
    pub async fn list(
        &self,
        resource: &'static Resource,
        namespace: &str,
        opts: &ListOptions,
    ) -> Result<ObjectList, Status> {
        opts.validate()?;
        let prefix = self.collection_key(resource, namespace);
        let cache = self.cache(resource)?;
        // Until the cache has its first list, lists go to the store (kube delegates too).
        if opts.served_from_cache() && cache.ready() {
            let wanted = opts.resource_version.unwrap_or(0);
            if wanted > 0 {
                cache.wait_fresh(wanted).await.map_err(cache_status)?;
            }
            let filter = |object: &SharedObject| opts.matches_cached(resource, object);
            let (items, revision) = cache.list(&prefix, &filter);
            return Ok(ObjectList {
                items,
                resource_version: revision,
                ..ObjectList::default()
            });
        }
        self.list_from_store(resource, &prefix, opts).await
    }

    /// A list from the store, filtered page by page until `limit` items match.
    async fn list_from_store(
        &self,
        resource: &'static Resource,
        prefix: &str,
        opts: &ListOptions,
    ) -> Result<ObjectList, Status> {
        let gr = group_resource(resource);
        let page_limit = match (opts.limit, opts.filters()) {
            (0, _) => 0,
            (limit, false) => limit,
            (limit, true) => limit.max(STORE_PAGE),
        };
        let mut request = StoreListOptions {
            revision: opts.resource_version.filter(|rv| *rv > 0),
            limit: page_limit,
            continue_key: opts.continue_token.clone(),
        };
        let mut list = ObjectList::default();
        loop {
            let page = self
                .storage
                .list(prefix, request.clone())
                .await
                .map_err(|e| storage_status(e, &gr, ""))?;
            list.resource_version = page.revision;
            let page_len = page.items.len();
            for (index, (key, bytes, revision)) in page.items.into_iter().enumerate() {
                let Some(object) = meta::from_stored(&bytes, revision) else {
                    tracing::warn!(%key, "skipping a stored value that is not a JSON object");
                    continue;
                };
                if !opts.matches(resource, &object) {
                    continue;
                }
                list.items.push(Arc::new(SharedObject::new(object)));
                let full = opts.limit > 0 && list.items.len() as i64 == opts.limit;
                let more_after = index + 1 < page_len || page.more;
                if full && more_after {
                    list.continue_token = Some(
                        continue_token::encode(&format!("{key}\0"), prefix, page.revision)
                            .map_err(|e| storage_status(e, &gr, ""))?,
                    );
                    if !opts.filters() {
                        list.remaining_item_count = Some(page.remaining);
                    }
                    return Ok(list);
                }
                if full {
                    return Ok(list);
                }
            }
            match page.continue_key {
                Some(next) if page.more => {
                    request.continue_key = Some(next);
                    request.revision = None;
                }
                _ => return Ok(list),
            }
        }
    }
}

/// kube's 422 for list options that contradict each other:
/// `ListOptions.meta.k8s.io "" is invalid: <field error>`.
pub fn invalid_list_options(error: FieldError) -> Status {
    Status::invalid(&GroupKind::new("meta.k8s.io", "ListOptions"), "", &[error])
}

/// The watch cache's refusals, as kube-apiserver answers them.
pub fn cache_status(error: kubesim_storage::cacher::CacheError) -> Status {
    use kubesim_storage::cacher::CacheError;
    match &error {
        CacheError::TooLargeResourceVersion { requested, current } => {
            let mut status = Status::timeout(
                &format!("Too large resource version: {requested}, current: {current}"),
                1,
            );
            if let Some(details) = status.details.as_mut() {
                details.causes.push(kubesim_api::status::StatusCause {
                    reason: "ResourceVersionTooLarge".into(),
                    message: "Too large resource version".into(),
                    field: String::new(),
                });
            }
            status
        }
        CacheError::NotReady => Status::too_many_requests(&error.to_string(), 1),
        CacheError::TooOld { .. } => Status::resource_expired(&error.to_string()),
        CacheError::InvalidConfig(message) => Status::internal_error(message),
    }
}

#[cfg(test)]
mod tests {
    use kubesim_api::selectors::parse_label_selector;
    use serde_json::json;

    use super::*;

    fn pods() -> &'static Resource {
        kubesim_api::resources::lookup("", "v1", "pods").expect("pods are served")
    }

    /// The watch cache keeps objects as JSON: a list or watch without selectors must not
    /// decode them, one with a selector decodes and judges them.
    #[test]
    fn cached_objects_are_decoded_only_for_a_selector() {
        let pod = json!({"metadata": {"name": "a", "labels": {"app": "web"}}});
        let everything = ListOptions::everything();
        let object = SharedObject::compact(pod.clone());
        assert!(everything.matches_cached(pods(), &object));
        assert!(!object.is_decoded());

        let mut web = ListOptions::everything();
        web.label_selector = parse_label_selector("app=web").expect("selector");
        let object = SharedObject::compact(pod);
        assert!(web.matches_cached(pods(), &object));
        assert!(object.is_decoded());
        web.label_selector = parse_label_selector("app=db").expect("selector");
        assert!(!web.matches_cached(pods(), &object));
    }
}
