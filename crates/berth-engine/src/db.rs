//! The daemon's durable state: one redb file, a few tables of JSON values keyed by id/name.
//! Every write is one durable transaction, so a killed daemon finds each record either
//! entirely written or not at all.

use crate::error::Result;
use redb::{Database, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// The tables berth keeps.
#[derive(Clone, Copy, Debug)]
pub enum Table {
    Containers,
    Volumes,
    Networks,
    Meta,
}

impl Table {
    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(match self {
            Table::Containers => "containers",
            Table::Volumes => "volumes",
            Table::Networks => "networks",
            Table::Meta => "meta",
        })
    }
}

pub struct Db {
    db: Database,
}

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        for t in [
            Table::Containers,
            Table::Volumes,
            Table::Networks,
            Table::Meta,
        ] {
            tx.open_table(t.def())?;
        }
        tx.commit()?;
        Ok(Db { db })
    }

    pub fn put<T: Serialize>(&self, table: Table, key: &str, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value)?;
        let tx = self.db.begin_write()?;
        tx.open_table(table.def())?.insert(key, bytes.as_slice())?;
        tx.commit()?;
        Ok(())
    }

    pub fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(table.def())?;
        let Some(v) = t.get(key)? else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_slice(v.value())?))
    }

    pub fn delete(&self, table: Table, key: &str) -> Result<()> {
        let tx = self.db.begin_write()?;
        tx.open_table(table.def())?.remove(key)?;
        tx.commit()?;
        Ok(())
    }

    /// Every record of a table; a record that no longer parses is skipped, not fatal.
    pub fn list<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<(String, T)>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(table.def())?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            if let Ok(val) = serde_json::from_slice(v.value()) {
                out.push((k.value().to_string(), val));
            }
        }
        Ok(out)
    }
}
