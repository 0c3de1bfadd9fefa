//! A queue of work items with dependencies between them, after cargo's
//! `util/dependency_queue.rs`. It knows nothing of what the items are: the apply executor
//! keys it by operation and drives it with a limited pool, taking `ready()` items, running them
//! and reporting each `finish`.
//!
//! Rules:
//! - an item becomes ready when every dependency it has *in this queue* succeeded; a dependency
//!   on a key that was never enqueued is taken as already satisfied (it exists, or another
//!   run handles it);
//! - when an item fails, everything that depends on it, directly or not, is skipped and never
//!   handed out, while independent items carry on (one bad tenant must not stop the others);
//! - `ready()` hands items out in key order, so runs are reproducible;
//! - cycles and duplicate keys are refused when the queue is built, naming the keys.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How a handed-out item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// Waiting for dependencies, or ready but not yet handed out.
    Waiting,
    /// Handed out by `ready()`, not yet finished.
    Running,
    Succeeded,
    Failed,
    /// Never run because a dependency failed.
    Skipped,
}

/// An item that will never run, with the failed item that caused it (the root cause, not the
/// nearest skipped link, so the message can say what to fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem<K, V> {
    pub key: K,
    pub because: K,
    pub value: V,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError<K> {
    /// The keys around the cycle, starting and ending with the same key.
    Cycle(Vec<K>),
    Duplicate(K),
}

impl<K: fmt::Display> fmt::Display for BuildError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Cycle(keys) => {
                f.write_str("dependency cycle: ")?;
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" -> ")?;
                    }
                    write!(f, "{k}")?;
                }
                f.write_str(" (nothing in a cycle can go first; break one of these dependencies)")
            }
            BuildError::Duplicate(k) => write!(f, "`{k}` was queued twice"),
        }
    }
}

impl<K: fmt::Debug + fmt::Display> std::error::Error for BuildError<K> {}

/// `finish` was called for a key that is not running: a bug in the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRunning<K>(pub K);

impl<K: fmt::Display> fmt::Display for NotRunning<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "internal error: `{}` was finished but was not running",
            self.0
        )
    }
}

impl<K: fmt::Debug + fmt::Display> std::error::Error for NotRunning<K> {}

/// Collects items; `build` checks them and makes the queue.
pub struct QueueBuilder<K, V> {
    items: Vec<(K, BTreeSet<K>, V)>,
}

impl<K: Ord + Clone, V> Default for QueueBuilder<K, V> {
    fn default() -> Self {
        QueueBuilder { items: Vec::new() }
    }
}

impl<K: Ord + Clone, V> QueueBuilder<K, V> {
    pub fn enqueue(&mut self, key: K, deps: impl IntoIterator<Item = K>, value: V) {
        self.items.push((key, deps.into_iter().collect(), value));
    }

    pub fn build(self) -> Result<DependencyQueue<K, V>, BuildError<K>> {
        let mut entries = BTreeMap::new();
        for (key, deps, value) in self.items {
            if entries.contains_key(&key) {
                return Err(BuildError::Duplicate(key));
            }
            entries.insert(key, (deps, value));
        }
        let keys: BTreeSet<K> = entries.keys().cloned().collect();
        let mut items = BTreeMap::new();
        let mut dependents: BTreeMap<K, Vec<K>> = BTreeMap::new();
        for (key, (deps, value)) in entries {
            let waiting_on: BTreeSet<K> = deps.into_iter().filter(|d| keys.contains(d)).collect();
            for dep in &waiting_on {
                dependents.entry(dep.clone()).or_default().push(key.clone());
            }
            items.insert(
                key,
                Entry {
                    waiting_on,
                    state: ItemState::Waiting,
                    value: Some(value),
                },
            );
        }
        let queue = DependencyQueue {
            items,
            dependents,
            skipped: Vec::new(),
        };
        if let Some(cycle) = queue.find_cycle() {
            return Err(BuildError::Cycle(cycle));
        }
        Ok(queue)
    }
}

struct Entry<K, V> {
    /// Dependencies in the queue that have not succeeded yet.
    waiting_on: BTreeSet<K>,
    state: ItemState,
    /// Taken when the item is handed out or skipped.
    value: Option<V>,
}

pub struct DependencyQueue<K, V> {
    items: BTreeMap<K, Entry<K, V>>,
    /// Reverse edges: who waits on each key.
    dependents: BTreeMap<K, Vec<K>>,
    skipped: Vec<K>,
}

impl<K: Ord + Clone, V> DependencyQueue<K, V> {
    pub fn builder() -> QueueBuilder<K, V> {
        QueueBuilder::default()
    }

    /// Hands out every item whose dependencies all succeeded, in key order; each item is
    /// handed out once and is then running until `finish`.
    pub fn ready(&mut self) -> Vec<(K, V)> {
        let mut out = Vec::new();
        for (key, entry) in self.items.iter_mut() {
            if entry.state == ItemState::Waiting && entry.waiting_on.is_empty() {
                if let Some(value) = entry.value.take() {
                    entry.state = ItemState::Running;
                    out.push((key.clone(), value));
                }
            }
        }
        out
    }

    /// Records how a running item ended. On failure, returns the items skipped because of it
    /// (in key order), so the caller can journal them.
    pub fn finish(
        &mut self,
        key: &K,
        outcome: Outcome,
    ) -> Result<Vec<SkippedItem<K, V>>, NotRunning<K>> {
        match self.items.get_mut(key) {
            Some(entry) if entry.state == ItemState::Running => {
                entry.state = match outcome {
                    Outcome::Succeeded => ItemState::Succeeded,
                    Outcome::Failed => ItemState::Failed,
                };
            }
            _ => return Err(NotRunning(key.clone())),
        }
        let dependents = self.dependents.get(key).cloned().unwrap_or_default();
        match outcome {
            Outcome::Succeeded => {
                for d in dependents {
                    if let Some(entry) = self.items.get_mut(&d) {
                        entry.waiting_on.remove(key);
                    }
                }
                Ok(Vec::new())
            }
            Outcome::Failed => Ok(self.skip_dependents_of(key)),
        }
    }

    /// Every key in the order one worker would run them, each time the smallest ready key
    /// first: the planner's order, so a plan and its apply agree on what comes first.
    pub fn into_order(mut self) -> Vec<K> {
        // The ready keys kept sorted, rather than a scan of every item for each one handed
        // out: 50k tenant creates took 14 s of a 16 s plan that way.
        let mut ready: BTreeSet<K> = self
            .items
            .iter()
            .filter(|(_, e)| e.state == ItemState::Waiting && e.waiting_on.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        let mut order = Vec::with_capacity(self.items.len());
        while let Some(key) = ready.pop_first() {
            if let Some(entry) = self.items.get_mut(&key) {
                entry.state = ItemState::Running;
                entry.value = None;
            }
            // Cannot fail: the key was just set running.
            let _ = self.finish(&key, Outcome::Succeeded);
            for d in self.dependents.get(&key).into_iter().flatten() {
                if self
                    .items
                    .get(d)
                    .is_some_and(|e| e.state == ItemState::Waiting && e.waiting_on.is_empty())
                {
                    ready.insert(d.clone());
                }
            }
            order.push(key);
        }
        order
    }

    /// Every key skipped so far, in the order they were skipped.
    pub fn skipped(&self) -> Vec<K> {
        self.skipped.clone()
    }

    pub fn state(&self, key: &K) -> Option<ItemState> {
        self.items.get(key).map(|e| e.state)
    }

    /// True when nothing is waiting or running: every item succeeded, failed or was skipped.
    pub fn is_done(&self) -> bool {
        self.items
            .values()
            .all(|e| !matches!(e.state, ItemState::Waiting | ItemState::Running))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn skip_dependents_of(&mut self, failed: &K) -> Vec<SkippedItem<K, V>> {
        let mut to_visit: Vec<K> = self.dependents.get(failed).cloned().unwrap_or_default();
        let mut newly = BTreeMap::new();
        while let Some(k) = to_visit.pop() {
            let Some(entry) = self.items.get_mut(&k) else {
                continue;
            };
            // Only waiting items can be skipped; one already skipped by an earlier failure
            // keeps its first cause.
            if entry.state != ItemState::Waiting {
                continue;
            }
            entry.state = ItemState::Skipped;
            if let Some(value) = entry.value.take() {
                newly.insert(k.clone(), value);
            }
            to_visit.extend(self.dependents.get(&k).cloned().unwrap_or_default());
        }
        let out: Vec<SkippedItem<K, V>> = newly
            .into_iter()
            .map(|(key, value)| SkippedItem {
                key,
                because: failed.clone(),
                value,
            })
            .collect();
        self.skipped.extend(out.iter().map(|s| s.key.clone()));
        out
    }

    /// Depth-first search over the dependency edges; the first back edge found (in key order,
    /// so the report is stable) closes a cycle.
    fn find_cycle(&self) -> Option<Vec<K>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            OnPath,
            Done,
        }
        let mut marks: BTreeMap<&K, Mark> = BTreeMap::new();
        for start in self.items.keys() {
            if marks.contains_key(start) {
                continue;
            }
            // Explicit stack of (key, its deps still to look at), so deep chains cannot
            // overflow the call stack.
            let mut path: Vec<&K> = vec![start];
            let mut stack: Vec<std::collections::btree_set::Iter<'_, K>> =
                vec![self.items[start].waiting_on.iter()];
            marks.insert(start, Mark::OnPath);
            while let Some(deps) = stack.last_mut() {
                match deps.next() {
                    Some(dep) => match marks.get(dep) {
                        Some(Mark::OnPath) => {
                            let from = path.iter().position(|k| *k == dep).unwrap_or(0);
                            let mut cycle: Vec<K> =
                                path[from..].iter().map(|k| (*k).clone()).collect();
                            cycle.push(dep.clone());
                            return Some(cycle);
                        }
                        Some(Mark::Done) => {}
                        None => {
                            marks.insert(dep, Mark::OnPath);
                            path.push(dep);
                            stack.push(self.items[dep].waiting_on.iter());
                        }
                    },
                    None => {
                        stack.pop();
                        if let Some(k) = path.pop() {
                            marks.insert(k, Mark::Done);
                        }
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(items: &[(&'static str, &[&'static str])]) -> DependencyQueue<&'static str, u32> {
        let mut b = DependencyQueue::builder();
        for (i, (k, deps)) in items.iter().enumerate() {
            b.enqueue(*k, deps.iter().copied(), i as u32);
        }
        b.build().unwrap()
    }

    #[test]
    fn the_order_takes_the_smallest_ready_key_each_time() {
        // a and d are ready; a releases b, which is smaller than d; d releases c.
        let q = queue(&[("c", &["d"]), ("a", &[]), ("d", &[]), ("b", &["a"])]);
        assert_eq!(q.into_order(), ["a", "b", "d", "c"]);
    }

    fn keys<V>(v: Vec<(&'static str, V)>) -> Vec<&'static str> {
        v.into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn diamond_runs_in_dependency_order() {
        // top depends on left and right, both depend on base.
        let mut q = queue(&[
            ("top", &["left", "right"]),
            ("left", &["base"]),
            ("right", &["base"]),
            ("base", &[]),
        ]);
        assert_eq!(keys(q.ready()), ["base"]);
        assert!(q.ready().is_empty(), "an item is handed out once");
        q.finish(&"base", Outcome::Succeeded).unwrap();
        assert_eq!(keys(q.ready()), ["left", "right"]);
        q.finish(&"left", Outcome::Succeeded).unwrap();
        assert!(q.ready().is_empty(), "top still waits on right");
        q.finish(&"right", Outcome::Succeeded).unwrap();
        assert_eq!(keys(q.ready()), ["top"]);
        assert!(!q.is_done());
        q.finish(&"top", Outcome::Succeeded).unwrap();
        assert!(q.is_done());
        assert!(q.skipped().is_empty());
    }

    #[test]
    fn ready_items_come_in_key_order_with_their_values() {
        let mut q = queue(&[("c", &[]), ("a", &[]), ("b", &[])]);
        assert_eq!(q.ready(), vec![("a", 1), ("b", 2), ("c", 0)]);
    }

    #[test]
    fn failure_skips_dependents_transitively_and_others_continue() {
        let mut q = queue(&[
            ("perm", &[]),
            ("role", &["perm"]),
            ("defaults", &["role"]),
            ("other", &[]),
            ("other-child", &["other"]),
        ]);
        assert_eq!(keys(q.ready()), ["other", "perm"]);
        let skipped = q.finish(&"perm", Outcome::Failed).unwrap();
        assert_eq!(
            skipped,
            vec![
                SkippedItem {
                    key: "defaults",
                    because: "perm",
                    value: 2
                },
                SkippedItem {
                    key: "role",
                    because: "perm",
                    value: 1
                },
            ]
        );
        assert_eq!(q.state(&"role"), Some(ItemState::Skipped));
        assert_eq!(q.state(&"perm"), Some(ItemState::Failed));
        q.finish(&"other", Outcome::Succeeded).unwrap();
        assert_eq!(
            keys(q.ready()),
            ["other-child"],
            "independent work continues"
        );
        q.finish(&"other-child", Outcome::Succeeded).unwrap();
        assert!(q.is_done());
        let mut all = q.skipped();
        all.sort();
        assert_eq!(all, ["defaults", "role"]);
    }

    #[test]
    fn an_item_with_one_failed_and_one_good_dep_is_skipped() {
        let mut q = queue(&[("a", &[]), ("b", &[]), ("c", &["a", "b"])]);
        q.ready();
        q.finish(&"a", Outcome::Succeeded).unwrap();
        let skipped = q.finish(&"b", Outcome::Failed).unwrap();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].key, "c");
        assert!(q.ready().is_empty());
        assert!(q.is_done());
    }

    #[test]
    fn deps_outside_the_queue_are_satisfied() {
        let mut q = queue(&[("role", &["perm-that-exists"])]);
        assert_eq!(keys(q.ready()), ["role"]);
    }

    #[test]
    fn cycles_are_refused_naming_the_keys() {
        let mut b = DependencyQueue::builder();
        b.enqueue("a", ["b"], ());
        b.enqueue("b", ["c"], ());
        b.enqueue("c", ["a"], ());
        b.enqueue("d", [], ());
        let err = b.build().err().unwrap();
        assert_eq!(err, BuildError::Cycle(vec!["a", "b", "c", "a"]));
        assert_eq!(
            err.to_string().split(" (").next().unwrap(),
            "dependency cycle: a -> b -> c -> a"
        );

        let mut b = DependencyQueue::builder();
        b.enqueue("self", ["self"], ());
        assert_eq!(
            b.build().err().unwrap(),
            BuildError::Cycle(vec!["self", "self"])
        );
    }

    #[test]
    fn duplicates_are_refused() {
        let mut b = DependencyQueue::builder();
        b.enqueue("a", [], 1);
        b.enqueue("a", [], 2);
        assert_eq!(b.build().err().unwrap(), BuildError::Duplicate("a"));
    }

    #[test]
    fn finishing_an_item_that_is_not_running_is_an_error() {
        let mut q = queue(&[("a", &[]), ("b", &["a"])]);
        assert_eq!(q.finish(&"a", Outcome::Succeeded), Err(NotRunning("a")));
        assert_eq!(q.finish(&"zzz", Outcome::Succeeded), Err(NotRunning("zzz")));
        q.ready();
        q.finish(&"a", Outcome::Succeeded).unwrap();
        assert_eq!(q.finish(&"a", Outcome::Succeeded), Err(NotRunning("a")));
    }

    #[test]
    fn empty_queue_is_done() {
        let q: DependencyQueue<u32, ()> = DependencyQueue::builder().build().unwrap();
        assert!(q.is_done());
        assert!(q.is_empty());
    }
}
