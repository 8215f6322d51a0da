//! The daemon's event stream (`/events`, and what waiters block on): every subscriber gets
//! every event from the moment it subscribed.

use serde::Serialize;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

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
    pub attributes: std::collections::BTreeMap<String, String>,
}

#[derive(Default)]
pub struct Events {
    subs: Mutex<Vec<Sender<Event>>>,
}

impl Events {
    pub fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = channel();
        if let Ok(mut s) = self.subs.lock() {
            s.push(tx);
        }
        rx
    }

    pub fn publish(&self, typ: &str, action: &str, id: &str, attrs: &[(&str, &str)]) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let attributes = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>();
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
        if let Ok(mut s) = self.subs.lock() {
            s.retain(|tx| tx.send(ev.clone()).is_ok());
        }
    }
}
