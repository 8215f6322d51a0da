//! The daemon's event stream (`/events`, and what waiters block on): every subscriber gets
//! every event from the moment it subscribed; the last [`KEPT`] events are kept for a
//! subscriber that asks for those `since` a time, and [`Filter`] is docker's event filter.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

/// How many past events are kept for `since` (dockerd keeps 256 too).
pub const KEPT: usize = 256;

/// One event, shaped like docker's `/events` message.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    /// Old-style fields docker still sends for containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Default)]
pub struct Events {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    subs: Vec<Sender<Event>>,
    recent: VecDeque<Event>,
}

impl Events {
    /// Events from now on.
    pub fn subscribe(&self) -> Receiver<Event> {
        self.subscribe_since(None).1
    }

    /// The kept events at or after `since_nano` (none without it), and every later event:
    /// taken under one lock, so none is lost or seen twice between the two.
    pub fn subscribe_since(&self, since_nano: Option<i64>) -> (Vec<Event>, Receiver<Event>) {
        let (tx, rx) = channel();
        let Ok(mut inner) = self.inner.lock() else {
            return (Vec::new(), rx);
        };
        let past = match since_nano {
            Some(since) => inner
                .recent
                .iter()
                .filter(|e| e.time_nano >= since)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        inner.subs.push(tx);
        (past, rx)
    }

    pub fn publish(&self, typ: &str, action: &str, id: &str, attrs: &[(&str, &str)]) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let attributes = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>();
        let container = typ == "container";
        let ev = Event {
            typ: typ.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: attributes.clone(),
            },
            time: now.as_secs() as i64,
            time_nano: now.as_nanos() as i64,
            status: container.then(|| action.to_string()),
            id: container.then(|| id.to_string()),
            from: container.then(|| attributes.get("image").cloned().unwrap_or_default()),
        };
        if let Ok(mut inner) = self.inner.lock() {
            if inner.recent.len() == KEPT {
                inner.recent.pop_front();
            }
            inner.recent.push_back(ev.clone());
            inner.subs.retain(|tx| tx.send(ev.clone()).is_ok());
        }
    }
}

/// docker's `/events` filters: every key given must match one of its values (`label`: all of
/// them), as dockerd's `daemon/events/filter.go` decides.
#[derive(Debug, Default)]
pub struct Filter(HashMap<String, Vec<String>>);

impl Filter {
    pub fn new(filters: HashMap<String, Vec<String>>) -> Filter {
        Filter(filters)
    }

    pub fn matches(&self, ev: &Event) -> bool {
        let attr = |k: &str| ev.actor.attributes.get(k).map(String::as_str);
        let action = ev.action.split(':').next().unwrap_or("");
        let image_name = attr(if ev.typ == "image" { "name" } else { "image" });
        self.exact("type", Some(&ev.typ))
            && self.exact("event", Some(action))
            && self.named("container", ev, attr("name"))
            && self.named("volume", ev, attr("name"))
            && self.named("network", ev, attr("name"))
            && (self.exact("image", Some(&ev.actor.id))
                || self.exact("image", image_name)
                || self.exact("image", image_name.map(strip_tag)))
            && self.exact("scope", Some("local"))
            && self.labels(&ev.actor.attributes)
    }

    /// No values for `key`, or one of them is `value`.
    fn exact(&self, key: &str, value: Option<&str>) -> bool {
        match self.0.get(key) {
            None => true,
            Some(vals) => value.is_some_and(|v| vals.iter().any(|x| x == v)),
        }
    }

    /// No values for `key`, or one is a prefix of the actor's id or its name.
    fn named(&self, key: &str, ev: &Event, name: Option<&str>) -> bool {
        match self.0.get(key) {
            None => true,
            Some(vals) => vals.iter().any(|x| {
                !x.is_empty() && ev.actor.id.starts_with(x.as_str())
                    || name.is_some_and(|n| n.starts_with(x.as_str()))
            }),
        }
    }

    /// Each `label` filter, `key` or `key=value`, holds for the attributes.
    fn labels(&self, attrs: &BTreeMap<String, String>) -> bool {
        self.0.get("label").is_none_or(|vals| {
            vals.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => attrs.get(k).is_some_and(|a| a == v),
                None => attrs.contains_key(l.as_str()),
            })
        })
    }
}

/// `name:tag` without the tag (a registry's port is not a tag).
fn strip_tag(name: &str) -> &str {
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(pairs: &[(&str, &str)]) -> Filter {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        Filter::new(m)
    }

    #[test]
    fn since_returns_kept_events_then_live_ones() {
        let ev = Events::default();
        ev.publish("container", "create", "aaa", &[("name", "one")]);
        let t = ev.subscribe_since(Some(0)).0[0].time_nano;
        for i in 0..KEPT + 10 {
            ev.publish("volume", "create", &format!("v{i}"), &[]);
        }
        let (past, rx) = ev.subscribe_since(Some(t));
        assert_eq!(past.len(), KEPT, "only the last {KEPT} are kept");
        assert_eq!(past[0].actor.id, "v10");
        assert!(ev.subscribe_since(None).0.is_empty());
        ev.publish("network", "create", "n", &[]);
        assert_eq!(rx.try_recv().expect("live").actor.id, "n");
    }

    #[test]
    fn filters_match_like_dockerd() {
        let ev = Events::default();
        let (_, rx) = ev.subscribe_since(None);
        ev.publish(
            "container",
            "start",
            "abcdef",
            &[
                ("image", "busybox:latest"),
                ("name", "web"),
                ("team", "blue"),
            ],
        );
        let e = rx.try_recv().expect("event");
        assert!(filter(&[]).matches(&e));
        assert!(filter(&[("container", "web"), ("container", "other")]).matches(&e));
        assert!(filter(&[("container", "abc")]).matches(&e));
        assert!(!filter(&[("container", "db")]).matches(&e));
        assert!(filter(&[("type", "container"), ("event", "start")]).matches(&e));
        assert!(!filter(&[("event", "die")]).matches(&e));
        assert!(filter(&[("image", "busybox")]).matches(&e));
        assert!(filter(&[("label", "team=blue"), ("label", "team")]).matches(&e));
        assert!(!filter(&[("label", "team=blue"), ("label", "tier")]).matches(&e));
        assert_eq!(strip_tag("localhost:5000/a:1"), "localhost:5000/a");
        assert_eq!(strip_tag("localhost:5000/a"), "localhost:5000/a");
    }
}
