//! What a reload carries over from the configuration it replaces: the stores of the blocks
//! that did not change, so that rate counters and remembered nonces survive it.
//!
//! The rule, in the words of the file:
//!
//! - The nonce store (one per gateway) is kept when the `nonce_store` block is unchanged
//!   (absent before and after counts as unchanged).
//! - Each flow-control block (`basic_flow_control`, `param_flow_control`,
//!   `aliyun_flow_control`) keeps its rate store when its API is the same API and the block
//!   is unchanged. An API is known by its `name`, else by its methods and path (a renamed or
//!   re-routed API without a name is a new API). An API whose name (or, unnamed, methods and
//!   path) repeats an earlier one's in the same file starts afresh on every reload.
//!
//! A new block that keeps state between requests (a store, a cache) takes it from the
//! [`Keeper`] the same way, so that it survives reloads too.
//!
//! "Unchanged" compares the blocks as data (`{a: 1, b: 2}` and `{b: 2, a: 1}` are the same;
//! `10` and `"10"` are not), read from the text in its own format. A text that cannot be read
//! as plain data for this comparison (a YAML tag, say) keeps nothing: every store starts
//! afresh, which is never less safe than keeping one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tollgate_core::{MemoryNonceStore, MemoryRateStore};

use super::{ConfigError, Format};

/// The stores a gateway built from a configuration text uses, with the blocks they were
/// made for: what the next reload may carry over.
#[derive(Default)]
pub(crate) struct Carry {
    /// The `nonce_store` block (`Null` when absent) and the store it made (an `Arc`, so
    /// that a reload can tell a store it kept from a new one).
    nonces: Option<(Value, Arc<MemoryNonceStore>)>,
    /// Per API identity and flow-control block: the block and its store.
    rates: HashMap<(String, &'static str), (Value, Arc<MemoryRateStore>)>,
}

impl Carry {
    /// How many rate stores this configuration holds.
    pub(crate) fn rate_stores(&self) -> usize {
        self.rates.len()
    }
}

/// The text as plain data, to compare blocks by; `None` if it is not plain data.
pub(super) fn tree(text: &str, format: Format) -> Option<Value> {
    match format {
        Format::Json => serde_json::from_str(text).ok(),
        #[cfg(feature = "yaml")]
        Format::Yaml => serde_norway::from_str(text).ok(),
        #[cfg(feature = "toml")]
        Format::Toml => toml::from_str(text).ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Hands out stores while a gateway is built: the previous configuration's where its block
/// is unchanged, new ones elsewhere; and records them all for the reload after.
pub(super) struct Keeper<'a> {
    tree: Option<&'a Value>,
    previous: Option<&'a Carry>,
    next: RefCell<Carry>,
}

/// What a reload kept, for its log line.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Kept {
    /// Whether the nonce store was carried over.
    pub(crate) nonces: bool,
    /// Whether the previous configuration's nonce store was dropped for a new, empty one.
    pub(crate) nonces_forgotten: bool,
    /// How many rate stores were carried over.
    pub(crate) rate_stores: usize,
}

impl<'a> Keeper<'a> {
    pub(super) fn new(tree: Option<&'a Value>, previous: Option<&'a Carry>) -> Self {
        Self { tree, previous, next: RefCell::default() }
    }

    /// The block at `path` in the new text (`Null` when absent), if the text is plain data.
    fn block(&self, path: &[BlockKey<'_>]) -> Option<Value> {
        let mut value = self.tree?;
        for key in path {
            value = match key {
                BlockKey::Field(name) => match value.get(name) {
                    Some(v) => v,
                    None => return Some(Value::Null),
                },
                BlockKey::Index(i) => value.get(i)?,
            };
        }
        Some(value.clone())
    }

    /// The gateway's nonce store: the previous one if the block is unchanged, else `make`'s.
    pub(super) fn nonce_store(
        &self,
        make: impl FnOnce() -> Result<MemoryNonceStore, ConfigError>,
    ) -> Result<MemoryNonceStore, ConfigError> {
        let Some(block) = self.block(&[BlockKey::Field("nonce_store")]) else { return make() };
        let kept = self.previous.and_then(|p| p.nonces.as_ref()).filter(|(old, _)| *old == block);
        let store = match kept {
            Some((_, store)) => store.clone(),
            None => Arc::new(make()?),
        };
        // a clone of the store shares its table
        let handed = MemoryNonceStore::clone(&store);
        self.next.borrow_mut().nonces = Some((block, store));
        Ok(handed)
    }

    /// The rate store of the flow-control block `key` of the API at `index`, known as
    /// `identity`: the previous one if the API and the block are unchanged, else a new one.
    /// The block is compared as the API's field `written`: its own, or `plugins` when it was
    /// read from a plug-in envelope (so a change to any envelope starts it afresh).
    pub(super) fn rate_store(
        &self,
        index: usize,
        identity: &str,
        key: &'static str,
        written: &'static str,
    ) -> Arc<MemoryRateStore> {
        let fresh = || Arc::new(MemoryRateStore::new());
        let path = [BlockKey::Field("apis"), BlockKey::Index(index), BlockKey::Field(written)];
        let Some(block) = self.block(&path) else { return fresh() };
        let slot = (identity.to_owned(), key);
        let mut next = self.next.borrow_mut();
        if next.rates.contains_key(&slot) {
            // the same identity twice in one file: neither can tell which is which next time
            next.rates.remove(&slot);
            return fresh();
        }
        let kept = self.previous.and_then(|p| p.rates.get(&slot)).filter(|(old, _)| *old == block);
        let store = kept.map_or_else(fresh, |(_, store)| store.clone());
        next.rates.insert(slot, (block, store.clone()));
        store
    }

    /// What the new gateway carries, and what it kept of the previous one.
    pub(super) fn finish(self) -> (Carry, Kept) {
        let next = self.next.into_inner();
        let mut kept = Kept::default();
        if let Some(previous) = self.previous {
            kept.nonces = matches!((&previous.nonces, &next.nonces), (Some((_, a)), Some((_, b))) if Arc::ptr_eq(a, b));
            kept.nonces_forgotten = previous.nonces.is_some() && !kept.nonces;
            kept.rate_stores = next
                .rates
                .iter()
                .filter(|(slot, (_, store))| previous.rates.get(*slot).is_some_and(|(_, old)| Arc::ptr_eq(old, store)))
                .count();
        }
        (next, kept)
    }
}

enum BlockKey<'k> {
    Field(&'k str),
    Index(usize),
}

/// How an API is known from one configuration to the next: its name, else its methods
/// (upper-cased, sorted) and its path.
pub(super) fn identity(name: Option<&str>, methods: &[String], path: &str) -> String {
    match name {
        Some(name) => format!("name {name}"),
        None => {
            let mut methods: Vec<String> = methods.iter().map(|m| m.trim().to_ascii_uppercase()).collect();
            methods.sort();
            methods.dedup();
            format!("route {} {}", methods.join(","), path.trim())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keeper_for<'a>(tree: &'a Value, previous: Option<&'a Carry>) -> Keeper<'a> {
        Keeper::new(Some(tree), previous)
    }

    #[test]
    fn a_store_is_kept_only_for_the_same_api_and_the_same_block() {
        let first: Value = serde_json::json!({"apis": [
            {"name": "a", "basic_flow_control": {"api_rate_limit": 1}},
            {"path": "/b", "basic_flow_control": {"api_rate_limit": 1}},
        ]});
        let keeper = keeper_for(&first, None);
        let a = keeper.rate_store(0, "name a", "basic_flow_control", "basic_flow_control");
        let b = keeper.rate_store(1, &identity(None, &[], "/b"), "basic_flow_control", "basic_flow_control");
        let (carry, kept) = keeper.finish();
        assert_eq!((kept.rate_stores, carry.rate_stores()), (0, 2));

        // keys reordered for `a`; `b`'s limit changed
        let second: Value = serde_json::json!({"apis": [
            {"path": "/b", "basic_flow_control": {"api_rate_limit": 2}},
            {"basic_flow_control": {"api_rate_limit": 1}, "name": "a"},
        ]});
        let keeper = keeper_for(&second, Some(&carry));
        assert!(Arc::ptr_eq(&keeper.rate_store(1, "name a", "basic_flow_control", "basic_flow_control"), &a));
        assert!(!Arc::ptr_eq(
            &keeper.rate_store(0, &identity(None, &[], "/b"), "basic_flow_control", "basic_flow_control"),
            &b
        ));
        assert_eq!(keeper.finish().1.rate_stores, 1);
    }

    #[test]
    fn a_repeated_identity_keeps_nothing() {
        let tree: Value = serde_json::json!({"apis": [
            {"name": "a", "basic_flow_control": {"api_rate_limit": 1}},
            {"name": "a", "basic_flow_control": {"api_rate_limit": 1}},
        ]});
        let keeper = keeper_for(&tree, None);
        keeper.rate_store(0, "name a", "basic_flow_control", "basic_flow_control");
        keeper.rate_store(1, "name a", "basic_flow_control", "basic_flow_control");
        let (carry, _) = keeper.finish();
        let keeper = keeper_for(&tree, Some(&carry));
        keeper.rate_store(0, "name a", "basic_flow_control", "basic_flow_control");
        assert_eq!(keeper.finish().1.rate_stores, 0);
    }

    #[test]
    fn the_nonce_store_is_kept_while_its_block_is_unchanged() {
        let none: Value = serde_json::json!({"apis": []});
        let keeper = keeper_for(&none, None);
        keeper.nonce_store(|| Ok(MemoryNonceStore::new())).unwrap();
        let (carry, _) = keeper.finish();
        let keeper = keeper_for(&none, Some(&carry));
        keeper.nonce_store(|| panic!("the previous store is kept")).unwrap();
        assert!(keeper.finish().1.nonces);

        let sized: Value = serde_json::json!({"nonce_store": {"capacity": 10}});
        let keeper = keeper_for(&sized, Some(&carry));
        let mut made = false;
        keeper
            .nonce_store(|| {
                made = true;
                Ok(MemoryNonceStore::with_capacity(10))
            })
            .unwrap();
        assert!(made);
        assert!(!keeper.finish().1.nonces);
    }

    #[test]
    fn identities() {
        let methods = ["post".to_owned(), " GET".to_owned(), "POST".to_owned()];
        assert_eq!(identity(None, &methods, " /a "), "route GET,POST /a");
        assert_eq!(identity(Some("x"), &methods, "/a"), "name x");
        assert_ne!(identity(None, &[], "/a"), identity(None, &["GET".to_owned()], "/a"));
    }
}
