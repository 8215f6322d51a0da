//! Pulling: fetch and verify the manifest (capped at `MAX_MANIFEST_SIZE`), resolve an
//! index to a platform, stream config and layers into the store 3 at a time, set the ref.

use std::io::Read;

use oci_spec::image::Descriptor;

use super::http::{content_length, expect, header, Call};
use super::progress::{BlobOutcome, Counting};
use super::{pull_scope, sources, Options, Registry};
use crate::digest::Digest;
use crate::error::{io_err, Error, Result};
use crate::manifest::{
    descriptor_digest, media_types as mt, parse_manifest, select_platform, Manifest, ManifestKind,
    Platform, MAX_MANIFEST_SIZE,
};
use crate::parallel::run_parallel;
use crate::reference::Reference;
use crate::store::Store;

/// What a pull stored.
#[derive(Clone, Debug)]
pub struct PulledImage {
    /// The reference pulled.
    pub reference: Reference,
    /// The refs-index name set (`reference.to_string()`).
    pub ref_name: String,
    /// The image manifest (for an index: the chosen platform's).
    pub manifest_digest: Digest,
    /// The image manifest's media type.
    pub media_type: String,
    /// The index / manifest list the manifest was chosen from, if any.
    pub index_digest: Option<Digest>,
    /// The image config.
    pub config_digest: Digest,
    /// The layers, in order.
    pub layers: Vec<Descriptor>,
}

/// Accept header for manifests: OCI manifest/index and Docker schema2 manifest/list.
pub(crate) fn manifest_accept() -> String {
    [
        mt::OCI_MANIFEST,
        mt::OCI_INDEX,
        mt::DOCKER_MANIFEST,
        mt::DOCKER_MANIFEST_LIST,
    ]
    .join(", ")
}

/// Pulls `reference` for `platform` into `store` (see [`Registry::pull`]).
pub fn pull(
    reference: &Reference,
    store: &Store,
    platform: &Platform,
    options: &Options,
) -> Result<PulledImage> {
    Registry::new(reference.domain(), options)?.pull(reference, store, platform)
}

impl Registry {
    /// Fetches a manifest or index by tag or digest; returns its bytes, digest and
    /// content type. The digest is checked against `expected` and against the
    /// registry's `Docker-Content-Digest`; more than `MAX_MANIFEST_SIZE` is refused
    /// before it is read.
    pub fn fetch_manifest(
        &self,
        path: &str,
        tag_or_digest: &str,
        expected: Option<&Digest>,
    ) -> Result<(Vec<u8>, Digest, Option<String>)> {
        let context = format!("fetching manifest {}/{path}:{tag_or_digest}", self.domain);
        let url = self.url(&format!("/v2/{path}/manifests/{tag_or_digest}"));
        let call = Call::get(url, &pull_scope(path), &context).header("Accept", manifest_accept());
        let resp = expect(self.send(&call)?, &[200], &context)?;
        let content_type = header(&resp, "content-type");
        let registry_digest = header(&resp, "docker-content-digest");
        if let Some(len) = content_length(&resp).filter(|l| *l > MAX_MANIFEST_SIZE) {
            return Err(Error::ManifestTooLarge {
                size: len,
                limit: MAX_MANIFEST_SIZE,
            });
        }
        let mut bytes = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_MANIFEST_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err(context))?;
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(Error::ManifestTooLarge {
                size: bytes.len() as u64,
                limit: MAX_MANIFEST_SIZE,
            });
        }
        let digest = Digest::of_bytes(&bytes);
        let claimed = match registry_digest.as_deref().map(Digest::parse) {
            Some(Ok(d)) => Some(d),
            // Another algorithm (or garbage) in the header: rely on our own digest.
            Some(Err(_)) | None => None,
        };
        for want in expected.into_iter().chain(claimed.as_ref()) {
            if *want != digest {
                return Err(Error::DigestMismatch {
                    expected: want.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        Ok((bytes, digest, content_type))
    }

    /// Pulls `reference` (from this registry) for `platform` into `store`: manifest
    /// (and index) blobs, config and layers, then points the ref `reference` at the
    /// image manifest. Blobs already in the store are not fetched again.
    pub fn pull(
        &self,
        reference: &Reference,
        store: &Store,
        platform: &Platform,
    ) -> Result<PulledImage> {
        let path = reference.path();
        let wanted = match (reference.digest(), reference.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => crate::reference::DEFAULT_TAG.to_string(),
        };
        let (mut bytes, mut digest, ct) = self.fetch_manifest(path, &wanted, reference.digest())?;
        let (mut kind, mut manifest) = parse_manifest(&bytes, ct.as_deref())?;
        let mut index_digest = None;
        if let Manifest::Index(index) = &manifest {
            let desc = select_platform(index, platform)?;
            let child = descriptor_digest(desc)?;
            store.put_bytes(&bytes)?;
            index_digest = Some(digest);
            let (b, d, ct) = self.fetch_manifest(path, &child.to_string(), Some(&child))?;
            let (k, m) = parse_manifest(&b, ct.as_deref())?;
            (bytes, digest, kind, manifest) = (b, d, k, m);
        }
        let Manifest::Image(image) = manifest else {
            return Err(Error::InvalidManifest(
                "an index entry points to another index".to_string(),
            ));
        };
        let mut blobs = vec![image.config().clone()];
        blobs.extend(image.layers().iter().cloned());
        let digests = blobs
            .iter()
            .map(descriptor_digest)
            .collect::<Result<Vec<_>>>()?;
        self.progress.image(&digests[0], &digests[1..]);
        run_parallel(&blobs, self.concurrency, |desc| {
            self.fetch_blob(path, desc, store).map(drop)
        })?;
        store.put_bytes(&bytes)?;
        let mut recorded = digests.clone();
        recorded.push(digest.clone());
        recorded.extend(index_digest.clone());
        sources::record(store, &reference.repository(), &recorded)?;
        let ref_name = reference.to_string();
        store.set_ref(&ref_name, &digest)?;
        Ok(PulledImage {
            reference: reference.clone(),
            ref_name,
            manifest_digest: digest,
            media_type: media_type_of(kind),
            index_digest,
            config_digest: digests[0].clone(),
            layers: image.layers().to_vec(),
        })
    }

    /// Streams one blob into the store, verified against the descriptor's digest and
    /// size; a blob the store already has is skipped.
    pub fn fetch_blob(&self, path: &str, desc: &Descriptor, store: &Store) -> Result<BlobOutcome> {
        let digest = descriptor_digest(desc)?;
        let size = desc.size();
        let progress = &*self.progress;
        if store.exists(&digest) {
            progress.finished(&digest, &BlobOutcome::Exists);
            return Ok(BlobOutcome::Exists);
        }
        let wrap = |source: Error| Error::Blob {
            digest: digest.to_string(),
            source: Box::new(source),
        };
        progress.started(&digest, size);
        let context = format!("fetching blob {digest} from {}/{path}", self.domain);
        let url = self.url(&format!("/v2/{path}/blobs/{digest}"));
        let call = Call::get(url, &pull_scope(path), &context);
        let resp = expect(self.send(&call)?, &[200], &context)?;
        if let Some(len) = content_length(&resp).filter(|l| *l != size) {
            return Err(wrap(Error::SizeMismatch {
                expected: size,
                actual: len,
            }));
        }
        let reader = Counting {
            inner: resp.into_body().into_reader(),
            digest: &digest,
            done: 0,
            total: size,
            progress,
        };
        store
            .put_stream(reader, Some((digest.clone(), size)))
            .map_err(wrap)?;
        progress.finished(&digest, &BlobOutcome::Fetched);
        Ok(BlobOutcome::Fetched)
    }
}

fn media_type_of(kind: ManifestKind) -> String {
    kind.media_type().to_string()
}
