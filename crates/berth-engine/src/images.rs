//! Images for the engine: names and ids resolved through berth-image's store, layers
//! unpacked once into shared snapshots, and the list/tag/remove/history operations.

use crate::error::{Error, Result};
use crate::model::ContainerConfig;
use crate::unpack::{layer_jobs, Unpacker};
use berth_image::manifest::{parse_manifest, select_platform};
use berth_image::{Digest, Manifest, Platform, Reference, Snapshots, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAX_MANIFEST: u64 = 4 << 20;
pub(crate) const MAX_CONFIG: u64 = 8 << 20;
/// The name an untagged image a container still uses is kept under (`<none>@<manifest>`).
const DANGLING: &str = "<none>@";

/// One image as the engine sees it: docker's image id is the config digest.
#[derive(Clone, Debug)]
pub struct Image {
    pub id: Digest,
    pub manifest: Digest,
    /// The whole config blob (architecture, os, config, rootfs, history, created).
    pub config: serde_json::Value,
    pub layers: Vec<Digest>,
    pub diff_ids: Vec<Digest>,
    /// Familiar names (`busybox:latest`) pointing at this image.
    pub repo_tags: Vec<String>,
    /// Familiar `name@sha256:...` refs pointing at this image (set by pull and push).
    pub repo_digests: Vec<String>,
    /// Sum of the layer blobs' sizes.
    pub size: u64,
}

impl Image {
    /// The image's container defaults (`Env`, `Cmd`, `Entrypoint`, ...), docker's names.
    pub fn container_config(&self) -> ContainerConfig {
        serde_json::from_value(self.config["config"].clone()).unwrap_or_default()
    }
    pub fn created(&self) -> &str {
        self.config["created"].as_str().unwrap_or("")
    }
}

pub struct Images {
    pub store: Store,
    pub snapshots: Snapshots,
    pub(crate) unpacker: Unpacker,
}

impl Images {
    pub fn open(root: &Path) -> Result<Images> {
        let store = Store::open(root.join("content"))?;
        let snapshots = Snapshots::open(root.join("snapshots"))?;
        snapshots.remove_leftovers()?;
        Ok(Images {
            unpacker: Unpacker {
                store: store.clone(),
                snapshots: snapshots.clone(),
                inflight: Arc::default(),
                background: Arc::default(),
            },
            store,
            snapshots,
        })
    }

    /// The image a name, a full or short id, or a `name@digest` refers to.
    pub fn resolve(&self, name: &str) -> Result<Image> {
        if let Some(img) = self.by_id(name)? {
            return Ok(img);
        }
        let r = Reference::parse(name).map_err(|_| Error::no_image(name))?;
        let digest = match self.store.get_ref(&r.to_string())? {
            Some(d) => d,
            None => match r.digest() {
                Some(d) if self.store.exists(d) => d.clone(),
                _ => return Err(Error::no_image(name)),
            },
        };
        self.load(&digest)
    }

    /// A lookup by image id (`sha256:<hex>`, or a hex prefix of at least 4 characters).
    fn by_id(&self, name: &str) -> Result<Option<Image>> {
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() < 4
            || !hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Ok(None);
        }
        let mut found: Option<Image> = None;
        for img in self.list()? {
            if img.id.hex().starts_with(hex) {
                if found.as_ref().is_some_and(|f| f.id != img.id) {
                    return Err(Error::Invalid(format!(
                        "image id prefix {name} is ambiguous"
                    )));
                }
                found = Some(img);
            }
        }
        Ok(found)
    }

    /// The image a manifest (or index) digest names.
    pub fn by_manifest(&self, manifest: &Digest) -> Result<Image> {
        self.load(manifest)
    }

    /// Read the manifest (choosing the host's platform in an index) and the config.
    fn load(&self, manifest: &Digest) -> Result<Image> {
        let bytes = self.store.read_verified(manifest, MAX_MANIFEST)?;
        let (_, m) = parse_manifest(&bytes, None)?;
        let m = match m {
            Manifest::Image(m) => m,
            Manifest::Index(idx) => {
                let d = select_platform(&idx, &Platform::host())?;
                let child = Digest::parse(d.digest().as_ref())?;
                let bytes = self.store.read_verified(&child, MAX_MANIFEST)?;
                match parse_manifest(&bytes, None)?.1 {
                    Manifest::Image(m) => m,
                    Manifest::Index(_) => {
                        return Err(Error::Invalid("nested image index".into()));
                    }
                }
            }
        };
        let id = Digest::parse(m.config().digest().as_ref())?;
        let config: serde_json::Value =
            serde_json::from_slice(&self.store.read_verified(&id, MAX_CONFIG)?)?;
        let diff_ids = diff_ids(&config)?;
        let layers = m
            .layers()
            .iter()
            .map(|l| Digest::parse(l.digest().as_ref()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let size = m.layers().iter().map(|l| l.size()).sum();
        let mut img = Image {
            id,
            manifest: manifest.clone(),
            config,
            layers,
            diff_ids,
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            size,
        };
        for (name, d) in self.store.refs()? {
            if &d == manifest {
                if let Ok(r) = Reference::parse(&name) {
                    if r.tag().is_some() {
                        img.repo_tags.push(r.familiar());
                    } else if r.digest().is_some() {
                        img.repo_digests.push(r.familiar());
                    }
                }
            }
        }
        Ok(img)
    }

    /// Every tagged image, one entry per image id.
    pub fn list(&self) -> Result<Vec<Image>> {
        let mut by_manifest: BTreeMap<Digest, ()> = BTreeMap::new();
        for (_, d) in self.store.refs()? {
            by_manifest.insert(d, ());
        }
        let mut out: Vec<Image> = Vec::new();
        for d in by_manifest.keys() {
            let Ok(img) = self.load(d) else { continue };
            match out.iter_mut().find(|i| i.id == img.id) {
                Some(i) => {
                    i.repo_tags.extend(img.repo_tags);
                    i.repo_digests.extend(img.repo_digests);
                }
                None => out.push(img),
            }
        }
        Ok(out)
    }

    /// Unpack every layer not yet unpacked (in parallel, waiting for any a background
    /// unpack has in hand); the lower directories, topmost first.
    pub fn lowers(&self, img: &Image) -> Result<Vec<PathBuf>> {
        let jobs = layer_jobs(&img.id, &img.layers, &img.diff_ids)?;
        self.unpacker.run(&jobs)?;
        Ok(jobs
            .iter()
            .rev()
            .map(|j| self.snapshots.fs_path(&j.chain))
            .collect())
    }

    /// Start unpacking the image's layers on a background thread, so that the first
    /// container after a pull or a load does not wait for them (a run that comes first
    /// waits only for what is still in hand). Errors are left for that run to report.
    pub fn unpack_in_background(&self, img: &Image) {
        let Ok(jobs) = layer_jobs(&img.id, &img.layers, &img.diff_ids) else {
            return;
        };
        self.unpacker.in_background(move |u| {
            if let Err(e) = u.run(&jobs) {
                eprintln!("berth: unpacking in the background: {e}");
            }
        });
    }

    /// Record `repo@digest` (the digest a registry knows the image by) for the image
    /// whose manifest is `manifest`, as docker's RepoDigests after a pull or a push.
    pub fn record_digest(&self, r: &Reference, digest: &Digest, manifest: &Digest) -> Result<()> {
        self.store
            .set_ref(&r.with_digest(digest).to_string(), manifest)?;
        Ok(())
    }

    /// Point `target` (`repo[:tag]`) at the image `source` names.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let img = self.resolve(source)?;
        let r = Reference::parse(target)
            .map_err(|e| Error::Invalid(format!("invalid reference format: {e}")))?;
        self.store.set_ref(&r.to_string(), &img.manifest)?;
        Ok(())
    }

    /// `rmi`: untag a name, or with an id remove all its tags. Returns docker's
    /// `[{"Untagged": ..}, {"Deleted": ..}]` entries. `in_use` says whether a container
    /// uses an image id; such an image is refused unless `force`.
    pub fn remove(
        &self,
        name: &str,
        force: bool,
        in_use: impl Fn(&Digest) -> Option<String>,
    ) -> Result<Vec<(String, String)>> {
        let img = self.resolve(name)?;
        let by_name = Reference::parse(name)
            .ok()
            .filter(|r| self.store.get_ref(&r.to_string()).ok().flatten().is_some());
        let refs = self.refs_of(&img.id)?;
        let mut out = Vec::new();
        // What goes: by id, every name; by name, that name, and (docker does this) when it
        // was its repository's last tag of the image, that repository's digest names too.
        let names: Vec<String> = match &by_name {
            Some(r) => {
                let mut names = vec![r.to_string()];
                let repo = r.repository();
                let same_repo: Vec<Reference> = refs
                    .iter()
                    .filter_map(|n| Reference::parse(n).ok())
                    .filter(|o| o.repository() == repo && o.to_string() != names[0])
                    .collect();
                if r.digest().is_none() && !same_repo.iter().any(|o| o.digest().is_none()) {
                    names.extend(same_repo.iter().map(|o| o.to_string()));
                }
                names
            }
            None => refs.clone(),
        };
        let deleting = refs.iter().all(|n| names.contains(n));
        let user = if deleting { in_use(&img.id) } else { None };
        if let (Some(c), false) = (&user, force) {
            return Err(Error::Conflict(format!(
                "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                &c[..12.min(c.len())],
                &img.id.hex()[..12]
            )));
        }
        for n in &names {
            self.store.remove_ref(n)?;
            let shown = Reference::parse(n)
                .map(|r| r.familiar())
                .unwrap_or(n.clone());
            out.push(("Untagged".to_string(), shown));
        }
        // Forced while a container uses it: untagged, but kept (as docker's `<none>` image)
        // for that container, under a name no reference parses as.
        if deleting && user.is_some() {
            self.store
                .set_ref(&format!("{DANGLING}{}", img.manifest), &img.manifest)?;
        }
        if deleting && user.is_none() {
            out.push(("Deleted".to_string(), img.id.to_string()));
            self.gc()?;
        }
        Ok(out)
    }

    /// `image prune`: the untagged images no container uses any more go, then what no
    /// image uses. Returns the ids deleted.
    pub fn prune(&self, in_use: impl Fn(&Digest) -> bool) -> Result<Vec<Digest>> {
        let mut deleted = Vec::new();
        for (name, manifest) in self.store.refs()? {
            if !name.starts_with(DANGLING) {
                continue;
            }
            let id = self.load(&manifest).map(|i| i.id).ok();
            if !id.as_ref().is_some_and(&in_use) {
                self.store.remove_ref(&name)?;
                if let Some(id) = id.filter(|id| self.refs_of(id).is_ok_and(|r| r.is_empty())) {
                    deleted.push(id);
                }
            }
        }
        self.gc()?;
        Ok(deleted)
    }

    /// Every name (tag or digest ref) that points at the image `id`.
    fn refs_of(&self, id: &Digest) -> Result<Vec<String>> {
        Ok(self
            .store
            .refs()?
            .into_iter()
            .filter(|(_, d)| self.load(d).map(|i| i.id == *id).unwrap_or(false))
            .map(|(n, _)| n)
            .collect())
    }

    /// Remove blobs and snapshots no tagged image uses (after background unpacks have
    /// finished, so none of them leaves a snapshot of a removed image behind).
    pub fn gc(&self) -> Result<()> {
        self.unpacker.wait_background();
        let mut keep_blobs = std::collections::HashSet::new();
        let mut keep_snaps = std::collections::HashSet::new();
        for (_, d) in self.store.refs()? {
            keep_blobs.insert(d.clone());
            if let Ok(bytes) = self.store.read_verified(&d, MAX_MANIFEST) {
                if let Ok((_, Manifest::Index(idx))) = parse_manifest(&bytes, None) {
                    for m in idx.manifests() {
                        if let Ok(c) = Digest::parse(m.digest().as_ref()) {
                            keep_blobs.insert(c);
                        }
                    }
                }
            }
            if let Ok(img) = self.load(&d) {
                keep_blobs.insert(img.id.clone());
                keep_blobs.extend(img.layers.iter().cloned());
                let mut parent = None;
                for diff in &img.diff_ids {
                    let c = berth_image::chain_id(parent.as_ref(), diff);
                    keep_snaps.insert(c.clone());
                    parent = Some(c);
                }
            }
        }
        for b in self.store.list()? {
            if !keep_blobs.contains(&b) {
                self.store.delete(&b)?;
            }
        }
        for s in self.snapshots.list()? {
            if !keep_snaps.contains(&s) {
                self.snapshots.remove(&s)?;
            }
        }
        Ok(())
    }
}

/// The config's `rootfs.diff_ids` (none when it has none).
pub(crate) fn diff_ids(config: &serde_json::Value) -> Result<Vec<Digest>> {
    Ok(config["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str())
                .map(Digest::parse)
                .collect()
        })
        .transpose()?
        .unwrap_or_default())
}
