//! Range at a revision, following etcd's `Range` apply function: find the keys live at the
//! revision, count them all, then filter by mod/create revision, sort, cut to `limit` and set
//! `more`. `count` is taken before filters and limit, as etcd reports it.

use std::cmp::Ordering;

use kubesim_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use kubesim_proto::etcdserverpb::{RangeRequest, RangeResponse};
use kubesim_proto::mvccpb::KeyValue;

use crate::Mvcc;
use crate::index::KeyRange;

impl Mvcc {
    /// A checked Range (see `check_range`) at a checked revision (see `read_revision`).
    pub(crate) fn range_at(&self, req: &RangeRequest, at: i64) -> RangeResponse {
        let (count, mut kvs) = self.collect_kvs(req, at);
        filter(&mut kvs, req);
        sort(&mut kvs, req);
        let more = usize::try_from(req.limit).is_ok_and(|limit| limit > 0 && kvs.len() > limit);
        if more {
            kvs.truncate(req.limit as usize);
        }
        if req.keys_only {
            kvs.iter_mut().for_each(|kv| kv.value.clear());
        }
        RangeResponse {
            header: None,
            kvs,
            more,
            count,
        }
    }

    /// Counts every key in range live at `at` and copies out the ones the response can use:
    /// none for count_only, `limit + 1` (to learn `more`) when nothing reorders or drops keys
    /// afterwards, else all.
    fn collect_kvs(&self, req: &RangeRequest, at: i64) -> (i64, Vec<KeyValue>) {
        let wanted = if req.count_only {
            0
        } else if reorders_or_filters(req) || req.limit <= 0 {
            usize::MAX
        } else {
            usize::try_from(req.limit).map_or(usize::MAX, |l| l.saturating_add(1))
        };
        // Values are not needed when only keys go back, unless they decide the order.
        let skip_values = req.keys_only && req.sort_target != SortTarget::Value as i32;
        let range = KeyRange::new(&req.key, &req.range_end);
        let mut count = 0;
        let mut kvs = Vec::new();
        for (_, index) in self.index.range::<[u8], _>(range.bounds()) {
            let Some(revision) = index.live_at(at) else {
                continue;
            };
            count += 1;
            if kvs.len() < wanted {
                kvs.extend(self.kv_at(revision).map(|kv| copy_kv(kv, skip_values)));
            }
        }
        (count, kvs)
    }
}

fn copy_kv(kv: &KeyValue, skip_value: bool) -> KeyValue {
    KeyValue {
        key: kv.key.clone(),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: if skip_value {
            Vec::new()
        } else {
            kv.value.clone()
        },
        lease: kv.lease,
    }
}

fn reorders_or_filters(req: &RangeRequest) -> bool {
    req.sort_order != SortOrder::None as i32
        || req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0
}

/// etcd's min/max mod and create revision filters; 0 means "no bound".
fn filter(kvs: &mut Vec<KeyValue>, req: &RangeRequest) {
    let within =
        |value: i64, min: i64, max: i64| (min == 0 || value >= min) && (max == 0 || value <= max);
    kvs.retain(|kv| {
        within(kv.mod_revision, req.min_mod_revision, req.max_mod_revision)
            && within(
                kv.create_revision,
                req.min_create_revision,
                req.max_create_revision,
            )
    });
}

/// Keys come out of the index in ascending key order. etcd sorts only when that is not
/// already the answer, and order NONE with a target other than KEY means ASCEND. Ties keep
/// key order (a stable sort), so every member answers alike.
fn sort(kvs: &mut [KeyValue], req: &RangeRequest) {
    let target = SortTarget::try_from(req.sort_target).unwrap_or(SortTarget::Key);
    let order = match SortOrder::try_from(req.sort_order).unwrap_or(SortOrder::None) {
        SortOrder::None if target != SortTarget::Key => SortOrder::Ascend,
        SortOrder::Ascend if target == SortTarget::Key => SortOrder::None,
        order => order,
    };
    let by_target = |a: &KeyValue, b: &KeyValue| -> Ordering {
        match target {
            SortTarget::Key => a.key.cmp(&b.key),
            SortTarget::Version => a.version.cmp(&b.version),
            SortTarget::Create => a.create_revision.cmp(&b.create_revision),
            SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
            SortTarget::Value => a.value.cmp(&b.value),
        }
    };
    match order {
        SortOrder::None => {}
        SortOrder::Ascend => kvs.sort_by(by_target),
        SortOrder::Descend => kvs.sort_by(|a, b| by_target(b, a)),
    }
}
