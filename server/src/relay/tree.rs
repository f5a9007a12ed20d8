//! A server's place in a tree of relays: who it is ([`NodeId`]), its path to the origin, and the
//! relays it feeds (its children), at most `--max-relays` of them. A relay that asks a full
//! server is sent to one of its children, each in turn, so the tree grows level by level and
//! stays balanced, as Casty's root and branches do; a relay whose parent fails climbs its path.
//!
//! Sans-IO: a mutex over plain state, tested without sockets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use jukebox_protocol::{Hop, NodeId};

/// What a server says to a relay that asks to be its child.
#[derive(Debug)]
pub enum Admission {
    /// Taken in: the guard holds its place until the relay's stream ends.
    Child(ChildGuard),
    /// This server is full: ask this child of it instead (`host:port`).
    Redirect(String),
    /// Never from here: the reason, for the relay's log.
    Refused(String),
}

/// A child's place, given up when dropped (its stream ended, its connection closed).
#[derive(Debug)]
pub struct ChildGuard {
    tree: Weak<Tree>,
    id: u64,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(tree) = self.tree.upgrade() {
            tree.lock().children.retain(|c| c.id != self.id);
        }
    }
}

#[derive(Debug)]
struct Child {
    id: u64,
    node: NodeId,
    address: String,
}

#[derive(Debug, Default)]
struct State {
    path: Vec<Hop>,
    children: Vec<Child>,
    next_id: u64,
    /// The child the next redirect names (modulo their number).
    turn: usize,
}

/// One server's view of the tree.
#[derive(Debug)]
pub struct Tree {
    node: NodeId,
    /// `usize::MAX`: any number.
    max_children: AtomicUsize,
    state: Mutex<State>,
}

impl Tree {
    /// A server with a fresh random identity, taking at most `max_children` relays directly
    /// (`None`: any number).
    pub fn new(max_children: Option<usize>) -> Arc<Tree> {
        Tree::with_node(NodeId(fastrand::u64(1..)), max_children)
    }

    /// A server with identity `node`, for tests.
    pub fn with_node(node: NodeId, max_children: Option<usize>) -> Arc<Tree> {
        let max = AtomicUsize::new(max_children.unwrap_or(usize::MAX));
        Arc::new(Tree { node, max_children: max, state: Mutex::default() })
    }

    /// Takes at most `max` relays directly from now on (`None`: any number); those already
    /// fed stay.
    pub fn set_max_children(&self, max: Option<usize>) {
        self.max_children.store(max.unwrap_or(usize::MAX), Ordering::Relaxed);
    }

    /// Whether this server feeds relays at all (not `--max-relays 0`): a relay that does not
    /// tells its parent so (Listen Port 0), and is never named in a REDIRECT.
    pub fn feeds_relays(&self) -> bool {
        self.max_children.load(Ordering::Relaxed) > 0
    }

    /// This server's identity.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// This server's path to the origin, origin first (empty at the origin).
    pub fn path(&self) -> Vec<Hop> {
        self.lock().path.clone()
    }

    /// This relay reached the station through `path` (its parent last).
    pub fn set_path(&self, path: Vec<Hop>) {
        self.lock().path = path;
    }

    /// The relays fed directly now: (identity, address).
    pub fn children(&self) -> Vec<(NodeId, String)> {
        self.lock().children.iter().map(|c| (c.node, c.address.clone())).collect()
    }

    /// Decides on a relay `node`, which serves at `address`, asking to be a child.
    pub fn admit(self: &Arc<Self>, node: NodeId, address: String) -> Admission {
        if node == self.node {
            return Admission::Refused("this is the relay itself: a relay cannot feed itself".into());
        }
        let mut state = self.lock();
        if state.path.iter().any(|hop| hop.node == node) {
            return Admission::Refused(
                "that relay is on this server's own path to the origin: feeding it from here would make a loop"
                    .into(),
            );
        }
        // A relay that comes back before its old connection has been noticed gone takes its
        // old place: it must not be redirected to itself. (From the same address only: node
        // ids are no secret, and another peer must not push a child out.)
        state.children.retain(|c| c.node != node || c.address != address);
        let full = state.children.len() >= self.max_children.load(Ordering::Relaxed);
        if full {
            // Only children that feed relays themselves (port 0: they do not) are named.
            let feeders: Vec<&Child> = state.children.iter().filter(|c| !c.address.ends_with(":0")).collect();
            if feeders.is_empty() {
                return Admission::Refused(
                    "this server feeds no more relays, and its relays feed none".into(),
                );
            }
            let turn = state.turn % feeders.len();
            let to = feeders[turn].address.clone();
            state.turn = state.turn.wrapping_add(1);
            return Admission::Redirect(to);
        }
        state.next_id += 1;
        let id = state.next_id;
        state.children.push(Child { id, node, address });
        Admission::Child(ChildGuard { tree: Arc::downgrade(self), id })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(admission: Admission) -> ChildGuard {
        match admission {
            Admission::Child(guard) => guard,
            other => panic!("expected a child, got {other:?}"),
        }
    }

    fn redirect(admission: Admission) -> String {
        match admission {
            Admission::Redirect(to) => to,
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn a_full_server_sends_relays_to_its_children_in_turn() {
        let tree = Tree::with_node(NodeId(1), Some(2));
        let _a = child(tree.admit(NodeId(10), "a:1".into()));
        let _b = child(tree.admit(NodeId(11), "b:1".into()));
        let sent: Vec<String> =
            (12..16).map(|n| redirect(tree.admit(NodeId(n), format!("x{n}:1")))).collect();
        assert_eq!(sent, ["a:1", "b:1", "a:1", "b:1"]);
    }

    #[test]
    fn a_child_that_goes_frees_its_place() {
        let tree = Tree::with_node(NodeId(1), Some(1));
        let a = child(tree.admit(NodeId(10), "a:1".into()));
        assert_eq!(redirect(tree.admit(NodeId(11), "b:1".into())), "a:1");
        drop(a);
        let _b = child(tree.admit(NodeId(11), "b:1".into()));
        assert_eq!(tree.children(), [(NodeId(11), "b:1".to_string())]);
    }

    #[test]
    fn a_relay_that_comes_back_takes_its_old_place_and_is_never_sent_to_itself() {
        let tree = Tree::with_node(NodeId(1), Some(1));
        let old = child(tree.admit(NodeId(10), "a:1".into()));
        let new = child(tree.admit(NodeId(10), "a:1".into()));
        assert_eq!(tree.children().len(), 1);
        // The old connection's end, noticed late, does not take the new place with it.
        drop(old);
        assert_eq!(tree.children().len(), 1);
        drop(new);
        assert!(tree.children().is_empty());
    }

    #[test]
    fn loops_are_refused() {
        let tree = Tree::with_node(NodeId(1), None);
        tree.set_path(vec![Hop { node: NodeId(7), address: "origin:1".into() }]);
        assert!(matches!(tree.admit(NodeId(1), "me:1".into()), Admission::Refused(_)));
        assert!(matches!(tree.admit(NodeId(7), "origin:1".into()), Admission::Refused(_)));
        let none = Tree::with_node(NodeId(2), Some(0));
        assert!(matches!(none.admit(NodeId(3), "c:1".into()), Admission::Refused(_)));
    }

    #[test]
    fn children_that_feed_no_relays_are_never_named_and_ids_cannot_push_a_child_out() {
        let tree = Tree::with_node(NodeId(1), Some(2));
        let _leaf = child(tree.admit(NodeId(10), "10.0.0.1:0".into()));
        let _feeder = child(tree.admit(NodeId(11), "10.0.0.2:7".into()));
        for n in 12..16 {
            assert_eq!(redirect(tree.admit(NodeId(n), format!("x:{n}"))), "10.0.0.2:7");
        }
        // Someone else with the feeder's id, from elsewhere: redirected, the feeder stays.
        assert_eq!(redirect(tree.admit(NodeId(11), "10.6.6.6:7".into())), "10.0.0.2:7");
        assert_eq!(tree.children().len(), 2);
        let full_of_leaves = Tree::with_node(NodeId(2), Some(1));
        let _only = child(full_of_leaves.admit(NodeId(3), "10.0.0.3:0".into()));
        assert!(matches!(full_of_leaves.admit(NodeId(4), "x:1".into()), Admission::Refused(_)));
    }
}
