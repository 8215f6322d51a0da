//! Containers' cgroups as the engine places them: under the daemon's `--cgroup-parent` or a
//! container's own `--cgroup-parent`, and the sweep at start that removes what a killed
//! daemon's containers left under the daemon's parent.

use crate::container::ContainerRecord;
use crate::engine::Engine;
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::path::{Component, Path};

/// A cgroup parent must name a path below the hierarchies' roots: no `..`, and something
/// besides slashes.
pub(crate) fn check_parent(parent: &str) -> Result<()> {
    let p = Path::new(parent);
    let climbs = p.components().any(|c| matches!(c, Component::ParentDir));
    let named = p.components().any(|c| matches!(c, Component::Normal(_)));
    if climbs || !named {
        return Err(Error::Invalid(format!(
            "invalid cgroup parent {parent:?}: want a path such as /berth or mygroup/sub, without \"..\""
        )));
    }
    Ok(())
}

/// `<parent>/<id>` with a leading `/`.
fn join(parent: &str, id: &str) -> String {
    format!("/{}/{id}", parent.trim_matches('/'))
}

/// Engine ids are 64 lowercase hex digits; anything else under the parent is not ours.
fn is_container_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Engine {
    /// The container's cgroup path, as the OCI spec's `cgroupsPath`.
    pub(crate) fn cgroups_path(&self, rec: &ContainerRecord) -> String {
        let own = &rec.host_config.cgroup_parent;
        join(
            if own.is_empty() {
                &self.cfg.cgroup_parent
            } else {
                own
            },
            &rec.id,
        )
    }

    /// After recovery: every cgroup under the daemon's parent that is named like a container
    /// and belongs to no container that is starting, running, paused or restarting is what a
    /// killed daemon (or a create cut short with it) left. Empty ones are removed; one with
    /// processes in it is reported and left alone. Returns the names removed.
    pub(crate) fn sweep_cgroups(&self) -> Vec<String> {
        let Ok(h) = berth_cgroups::Hierarchy::detect() else {
            return Vec::new();
        };
        let live: HashSet<String> = self
            .lock()
            .values()
            .filter(|r| r.state.status.is_live())
            .map(|r| r.id.clone())
            .collect();
        let parent = berth_cgroups::Cgroup::new(&h, &self.cfg.cgroup_parent);
        let mut removed = Vec::new();
        for name in parent.children() {
            if !is_container_id(&name) || live.contains(&name) {
                continue;
            }
            let cg = parent.child(&name);
            match cg.pids() {
                Ok(p) if p.is_empty() => match cg.destroy() {
                    Ok(()) => removed.push(name),
                    Err(e) => eprintln!("berth: removing a leftover cgroup: {e}"),
                },
                Ok(p) => eprintln!(
                    "berth: cgroup {}/{name} belongs to no running container but holds processes {p:?}; left alone",
                    self.cfg.cgroup_parent
                ),
                Err(e) => eprintln!("berth: reading a leftover cgroup: {e}"),
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_checked_and_joined() {
        for ok in ["/berth", "berth", "/a/b/", "x.slice"] {
            assert!(check_parent(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/", "//", "../x", "/a/../../b"] {
            let e = check_parent(bad).unwrap_err().to_string();
            assert!(e.contains("invalid cgroup parent"), "{bad}: {e}");
        }
        assert_eq!(join("/berth", "c1"), "/berth/c1");
        assert_eq!(join("a/b/", "c1"), "/a/b/c1");
    }

    #[test]
    fn only_container_ids_are_swept() {
        assert!(is_container_id(&"ab12".repeat(16)));
        for other in ["abc", &"AB12".repeat(16), &"zz12".repeat(16), "user.slice"] {
            assert!(!is_container_id(other), "{other}");
        }
    }
}
