//! `docker commit`: a container's changes stored as a new image on top of its own. A running
//! container is paused while its layer is written (unless asked not to be), as dockerd does.

use crate::container::Status;
use crate::engine::Engine;
use crate::error::{Context, Error, Result};
use serde_json::{Map, Value};
use std::io::Write;

/// `POST /commit`'s query and body.
#[derive(Debug, Default)]
pub struct CommitRequest {
    /// `repo[:tag]` to name the image; none leaves it untagged.
    pub repo: Option<String>,
    pub tag: Option<String>,
    pub comment: String,
    pub author: String,
    /// Dockerfile instructions (`CMD ["x"]`) applied to the new image's config.
    pub changes: Vec<String>,
    pub pause: bool,
    /// Fields of the request body's config, over the container's.
    pub config: Map<String, Value>,
}

impl Engine {
    /// Store the container's changes as an image; its id (`sha256:...`).
    pub fn commit(&self, name: &str, req: &CommitRequest) -> Result<String> {
        let rec = self.find(name)?;
        if matches!(rec.state.status, Status::Creating | Status::Removing) {
            return Err(Error::State(format!(
                "container {} is {}: try again once it has settled",
                rec.id,
                rec.state.status.docker()
            )));
        }
        let reference = match &req.repo {
            Some(r) => {
                let tag = req.tag.as_deref().unwrap_or("latest");
                let r = berth_image::Reference::parse(&format!("{r}:{tag}"))
                    .map_err(|e| Error::Invalid(format!("invalid reference format: {e}")))?;
                Some(r)
            }
            None => None,
        };
        let parent = match berth_image::Digest::parse(&rec.image_manifest) {
            Ok(m) => m,
            Err(_) => self.images.resolve(&rec.image_id)?.manifest,
        };
        let mut config = match serde_json::to_value(&rec.config)? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        for (k, v) in &req.config {
            let empty = v.is_null() || v == "" || v.as_array().is_some_and(Vec::is_empty);
            if !empty {
                config.insert(k.clone(), v.clone());
            }
        }
        let dir = self.container_dir(&rec.id);
        let spool = dir.join("commit.tar.tmp");
        let paused =
            req.pause && rec.state.status == Status::Running && self.pause(&rec.id).is_ok();
        let written = (|| -> Result<()> {
            let f =
                std::fs::File::create(&spool).ctx(|| format!("creating {}", spool.display()))?;
            let mut w = std::io::BufWriter::with_capacity(256 << 10, f);
            let skip = crate::changes::skipped(&rec);
            crate::changes::write_layer(&dir.join("upper"), &skip, &mut w)?;
            w.flush().ctx(|| "writing the layer".into())
        })();
        if paused {
            let _ = self.unpause(&rec.id);
        }
        let loaded = written.and_then(|()| {
            let layer =
                std::fs::File::open(&spool).ctx(|| format!("opening {}", spool.display()))?;
            let created_by = std::iter::once(rec.path.as_str())
                .chain(rec.args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ");
            let opts = berth_image::archive::CommitOpts {
                reference: reference.as_ref(),
                config,
                changes: &req.changes,
                comment: &req.comment,
                author: &req.author,
                created_by: &created_by,
                container: &rec.id,
            };
            Ok(berth_image::archive::commit(
                &self.images.store,
                &parent,
                layer,
                &opts,
            )?)
        });
        let _ = std::fs::remove_file(&spool);
        let loaded = loaded?;
        self.emit(&rec, "commit");
        Ok(loaded.config_digest.to_string())
    }
}
