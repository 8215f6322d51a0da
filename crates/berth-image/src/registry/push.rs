//! Pushing: for each blob HEAD, else cross-repository mount, else a monolithic or
//! chunked upload streamed from the store; then PUT the manifest (children of an index
//! first).

use std::io::{Read, Seek, SeekFrom};

use oci_spec::image::Descriptor;
use ureq::http::Method;

use super::http::{expect, header, Call, Opener, Payload};
use super::progress::{BlobOutcome, Counting};
use super::{push_scope, sources, Options, Registry};
use crate::digest::Digest;
use crate::error::{io_err, Error, Result};
use crate::manifest::{descriptor_digest, parse_manifest, Manifest, MAX_MANIFEST_SIZE};
use crate::parallel::run_parallel;
use crate::reference::Reference;
use crate::store::Store;

/// What a push did.
#[derive(Clone, Debug)]
pub struct PushedImage {
    /// Where it went.
    pub reference: Reference,
    /// The manifest (or index) pushed.
    pub manifest_digest: Digest,
    /// Each blob and what happened to it, in manifest order.
    pub blobs: Vec<(Digest, BlobOutcome)>,
}

/// Pushes the image the store's ref `reference` (or its digest) names to its registry.
pub fn push(reference: &Reference, store: &Store, options: &Options) -> Result<PushedImage> {
    Registry::new(reference.domain(), options)?.push(reference, store)
}

fn with_query(location: &str, query: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}{query}")
}

impl Registry {
    /// Pushes the manifest the ref `reference` points to (its digest when it has one).
    pub fn push(&self, reference: &Reference, store: &Store) -> Result<PushedImage> {
        let digest = match reference.digest() {
            Some(d) => d.clone(),
            None => store
                .get_ref(&reference.to_string())?
                .ok_or_else(|| Error::ImageNotFound(reference.to_string()))?,
        };
        self.push_manifest(reference, store, &digest)
    }

    /// Pushes manifest (or index) `digest` from `store` as `target`'s tag (or digest).
    pub fn push_manifest(
        &self,
        target: &Reference,
        store: &Store,
        digest: &Digest,
    ) -> Result<PushedImage> {
        let path = target.path();
        let bytes = store.read_verified(digest, MAX_MANIFEST_SIZE)?;
        let (kind, manifest) = parse_manifest(&bytes, None)?;
        let mut outcomes = Vec::new();
        match manifest {
            Manifest::Image(image) => {
                let mut blobs = vec![image.config().clone()];
                blobs.extend(image.layers().iter().cloned());
                outcomes = self.push_blobs(target, store, &blobs)?;
            }
            Manifest::Index(index) => {
                for child in index.manifests() {
                    let child_digest = descriptor_digest(child)?;
                    let pushed = self.push_manifest(
                        &target.with_digest(&child_digest),
                        store,
                        &child_digest,
                    )?;
                    outcomes.extend(pushed.blobs);
                }
            }
        }
        let tag_or_digest = match target.tag() {
            Some(t) => t.to_string(),
            None => digest.to_string(),
        };
        let context = format!("pushing manifest {}/{path}:{tag_or_digest}", self.domain);
        let url = self.url(&format!("/v2/{path}/manifests/{tag_or_digest}"));
        let call = Call::new(Method::PUT, url, &push_scope(path), &context)
            .header("Content-Type", kind.media_type())
            .body(Payload::Bytes(&bytes));
        let resp = expect(self.send(&call)?, &[200, 201], &context)?;
        if let Some(Ok(d)) = header(&resp, "docker-content-digest").map(|h| Digest::parse(&h)) {
            if d != *digest {
                return Err(Error::DigestMismatch {
                    expected: digest.to_string(),
                    actual: d.to_string(),
                });
            }
        }
        sources::record(store, &target.repository(), std::slice::from_ref(digest))?;
        Ok(PushedImage {
            reference: target.clone(),
            manifest_digest: digest.clone(),
            blobs: outcomes,
        })
    }

    fn push_blobs(
        &self,
        target: &Reference,
        store: &Store,
        blobs: &[Descriptor],
    ) -> Result<Vec<(Digest, BlobOutcome)>> {
        let digests = blobs
            .iter()
            .map(descriptor_digest)
            .collect::<Result<Vec<_>>>()?;
        let outcomes = std::sync::Mutex::new(Vec::new());
        let indexed: Vec<(usize, &Digest)> = digests.iter().enumerate().collect();
        run_parallel(&indexed, self.concurrency, |(i, d)| {
            let outcome = self.push_blob(target, store, d).map_err(|e| match e {
                Error::AuthenticationRequired { .. } => e,
                source => Error::Blob {
                    digest: d.to_string(),
                    source: Box::new(source),
                },
            })?;
            if let Ok(mut o) = outcomes.lock() {
                o.push((*i, (*d).clone(), outcome));
            }
            Ok(())
        })?;
        let mut outcomes = outcomes
            .into_inner()
            .map_err(|_| Error::RegistryProtocol("a push thread panicked".into()))?;
        outcomes.sort_by_key(|(i, _, _)| *i);
        sources::record(store, &target.repository(), &digests)?;
        Ok(outcomes.into_iter().map(|(_, d, o)| (d, o)).collect())
    }

    /// Makes one blob present in the target repository.
    fn push_blob(&self, target: &Reference, store: &Store, digest: &Digest) -> Result<BlobOutcome> {
        let path = target.path();
        let scope = push_scope(path);
        let progress = &*self.progress;
        let size = store.size(digest)?;
        let context = format!("checking blob {digest} in {}/{path}", self.domain);
        let url = self.url(&format!("/v2/{path}/blobs/{digest}"));
        let resp = self.send(&Call::new(Method::HEAD, url, &scope, &context))?;
        if resp.status().as_u16() == 200 {
            progress.finished(digest, &BlobOutcome::Exists);
            return Ok(BlobOutcome::Exists);
        }
        expect(resp, &[404], &context)?;
        let mut location = None;
        for from in self.mount_sources(target, store, digest)? {
            match self.try_mount(path, &from, digest)? {
                (Some(outcome), _) => {
                    progress.finished(digest, &outcome);
                    return Ok(outcome);
                }
                (None, Some(l)) => {
                    location = Some(l);
                    break;
                }
                (None, None) => {}
            }
        }
        let location = match location {
            Some(l) => l,
            None => {
                let context = format!("starting upload of {digest} to {}/{path}", self.domain);
                let url = self.url(&format!("/v2/{path}/blobs/uploads/"));
                let call = Call::new(Method::POST, url, &scope, &context);
                self.upload_location(expect(self.send(&call)?, &[202], &context)?)?
            }
        };
        progress.started(digest, size);
        self.upload(path, store, digest, size, location)?;
        progress.finished(digest, &BlobOutcome::Pushed);
        Ok(BlobOutcome::Pushed)
    }

    /// Other repositories on this registry known to hold `digest` (paths).
    fn mount_sources(
        &self,
        target: &Reference,
        store: &Store,
        digest: &Digest,
    ) -> Result<Vec<String>> {
        let prefix = format!("{}/", target.domain());
        Ok(sources::blob_sources(store, digest)?
            .into_iter()
            .filter(|r| *r != target.repository())
            .filter_map(|r| r.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }

    /// Asks for a mount of `digest` from repository `from`: `(Some(Mounted), _)` when
    /// done, `(None, Some(location))` when the registry started an upload instead,
    /// `(None, None)` when it refused (the caller falls back to uploading).
    fn try_mount(
        &self,
        path: &str,
        from: &str,
        digest: &Digest,
    ) -> Result<(Option<BlobOutcome>, Option<String>)> {
        let scope = format!("{} repository:{from}:pull", push_scope(path));
        let context = format!("mounting {digest} from {from}");
        let url = self.url(&format!(
            "/v2/{path}/blobs/uploads/?mount={digest}&from={from}"
        ));
        let resp = match self.send(&Call::new(Method::POST, url, &scope, &context)) {
            Ok(r) => r,
            Err(Error::AuthenticationRequired { .. } | Error::RegistryStatus { .. }) => {
                return Ok((None, None))
            }
            Err(e) => return Err(e),
        };
        match resp.status().as_u16() {
            201 => Ok((
                Some(BlobOutcome::Mounted(format!("{}/{from}", self.domain))),
                None,
            )),
            202 => Ok((None, Some(self.upload_location(resp)?))),
            _ => Ok((None, None)),
        }
    }

    fn upload_location(&self, resp: ureq::http::Response<ureq::Body>) -> Result<String> {
        header(&resp, "location")
            .map(|l| self.url(&l))
            .ok_or_else(|| Error::RegistryProtocol("upload answer without Location".into()))
    }

    /// Uploads the blob to an upload session: one PUT, or PATCHes of `chunk_size`.
    fn upload(
        &self,
        path: &str,
        store: &Store,
        digest: &Digest,
        size: u64,
        mut location: String,
    ) -> Result<()> {
        let scope = push_scope(path);
        let progress = &*self.progress;
        let context = format!("uploading {digest} to {}/{path}", self.domain);
        let open_at = |start: u64, len: u64| -> Result<Box<dyn Read + '_>> {
            let mut f = store.get(digest)?;
            f.seek(SeekFrom::Start(start))
                .map_err(io_err(format!("seeking blob {digest}")))?;
            Ok(Box::new(Counting {
                inner: f.take(len),
                digest,
                done: start,
                total: size,
                progress,
            }))
        };
        let mut start = 0;
        let chunk = self.chunk_size.filter(|c| *c < size);
        if let Some(chunk) = chunk {
            while start < size {
                let len = chunk.min(size - start);
                let open: &Opener<'_> = &|| open_at(start, len);
                let call = Call::new(Method::PATCH, location.clone(), &scope, &context)
                    .header("Content-Type", "application/octet-stream")
                    .header("Content-Range", format!("{start}-{}", start + len - 1))
                    .body(Payload::Stream { open, len });
                location = self.upload_location(expect(self.send(&call)?, &[202], &context)?)?;
                start += len;
            }
        }
        let url = with_query(&location, &format!("digest={digest}"));
        let len = size - start;
        let open: &Opener<'_> = &|| open_at(start, len);
        let call = Call::new(Method::PUT, url, &scope, &context)
            .header("Content-Type", "application/octet-stream")
            .body(if len == 0 && chunk.is_some() {
                Payload::Empty
            } else {
                Payload::Stream { open, len }
            });
        expect(self.send(&call)?, &[201, 204], &context).map(drop)
    }
}
