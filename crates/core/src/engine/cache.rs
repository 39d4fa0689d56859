//! The isolate's time-bounded caches: a small map whose entries expire after the configuration TTL.

use crate::config::CONFIG_CACHE_TTL_MS;
use std::cell::RefCell;
use std::collections::HashMap;

/// Entries an isolate keeps per cache before it starts over (bounds memory under name scanning).
const CACHE_MAX_ENTRIES: usize = 1024;

struct Cached<T> {
    at_ms: u64,
    value: T,
}

/// A small time-bounded map. Single-threaded (an isolate), so a RefCell suffices.
pub(crate) struct TtlCache<T: Clone> {
    entries: RefCell<HashMap<String, Cached<T>>>,
}

impl<T: Clone> Default for TtlCache<T> {
    fn default() -> Self {
        TtlCache { entries: RefCell::new(HashMap::new()) }
    }
}

impl<T: Clone> TtlCache<T> {
    pub(crate) fn get(&self, key: &str, now_ms: u64) -> Option<T> {
        let entries = self.entries.borrow();
        let e = entries.get(key)?;
        (now_ms.saturating_sub(e.at_ms) < CONFIG_CACHE_TTL_MS).then(|| e.value.clone())
    }

    /// The entry and when it stops being served (its load time plus the TTL, in ms): what was
    /// built from it may be reused until then, and no longer (see `Response::reusable_until_ms`).
    pub(crate) fn get_with_expiry(&self, key: &str, now_ms: u64) -> Option<(T, u64)> {
        let entries = self.entries.borrow();
        let e = entries.get(key)?;
        (now_ms.saturating_sub(e.at_ms) < CONFIG_CACHE_TTL_MS).then(|| (e.value.clone(), e.at_ms.saturating_add(CONFIG_CACHE_TTL_MS)))
    }

    pub(crate) fn put(&self, key: String, value: T, now_ms: u64) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= CACHE_MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, Cached { at_ms: now_ms, value });
    }

    pub(crate) fn forget(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }

    pub(crate) fn forget_prefix(&self, prefix: &str) {
        self.entries.borrow_mut().retain(|k, _| !k.starts_with(prefix));
    }
}


/// Keys this isolate has seen locked (`authn::throttle`), with the second each lock ends: a request
/// for one is refused from memory, with no store round trip. Bounded like the caches; an entry
/// lives exactly as long as its lock (not the caches' TTL).
#[derive(Default)]
pub(crate) struct Locks {
    until: RefCell<HashMap<String, i64>>,
}

impl Locks {
    /// When the lock on `key` ends, if this isolate knows of one still in force at `now`.
    pub(crate) fn until(&self, key: &str, now: i64) -> Option<i64> {
        self.until.borrow().get(key).copied().filter(|until| *until > now)
    }

    pub(crate) fn any(&self) -> bool {
        !self.until.borrow().is_empty()
    }

    pub(crate) fn remember(&self, key: &str, until: i64, now: i64) {
        let mut locks = self.until.borrow_mut();
        if locks.len() >= CACHE_MAX_ENTRIES {
            locks.retain(|_, u| *u > now);
            if locks.len() >= CACHE_MAX_ENTRIES {
                locks.clear();
            }
        }
        locks.insert(key.to_string(), until);
    }

    pub(crate) fn forget(&self, key: &str) {
        self.until.borrow_mut().remove(key);
    }
}
