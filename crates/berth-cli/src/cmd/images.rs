//! Local images: `images` / `image ls`, `tag`, `rmi`, `history`, `image prune`.

use std::collections::BTreeMap;

use clap::{ArgAction, Args};
use serde_json::{json, Value};

use super::ps::ellipsis;
use super::{each, i, s, short_id, strs};
use crate::error::{Error, Result};
use crate::format;
use crate::http::{enc_path, filters_json, query, Client};
use crate::humanize;
use crate::output::{confirm, out, outln};
use crate::reference;

/// `images [OPTIONS] [REPOSITORY[:TAG]]`
#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    pub repository: Option<String>,
}

/// `tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`
#[derive(Args, Debug)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

/// `rmi [OPTIONS] IMAGE...`
#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// `history [OPTIONS] IMAGE`
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub human: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

/// `image prune [OPTIONS]`
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    pub filter: Vec<String>,
}

const IMAGES_DEFAULT: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const IMAGES_DIGESTS: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

fn images_header() -> Value {
    json!({
        "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "Containers": "CONTAINERS", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
        "UniqueSize": "UNIQUE SIZE",
    })
}

fn image_row(img: &Value, repo: &str, tag: &str, digest: &str, trunc: bool, now: i64) -> Value {
    let id = s(img, "Id");
    let created = i(img, "Created");
    let size = i(img, "Size");
    let shared = i(img, "SharedSize");
    let containers = i(img, "Containers");
    json!({
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Repository": repo,
        "Tag": tag,
        "Digest": digest,
        "CreatedSince": humanize::ago_from(created, now),
        "CreatedAt": humanize::go_time(created),
        "Size": humanize::size_prec(size as f64, 3),
        "VirtualSize": humanize::size(size as f64),
        "SharedSize": if shared < 0 { "N/A".to_string() } else { humanize::size_prec(shared as f64, 3) },
        "UniqueSize": if shared < 0 { "N/A".to_string() } else { humanize::size_prec((size - shared) as f64, 3) },
        "Containers": if containers < 0 { "N/A".to_string() } else { containers.to_string() },
    })
}

/// The rows docker shows for one image: one per repository and tag, `<none>` for dangling.
pub fn image_rows(img: &Value, digests_shown: bool, trunc: bool, now: i64) -> Vec<Value> {
    let tags: Vec<String> = strs(img, "RepoTags")
        .into_iter()
        .filter(|t| t != "<none>:<none>")
        .collect();
    let digests: Vec<String> = strs(img, "RepoDigests")
        .into_iter()
        .filter(|d| d != "<none>@<none>")
        .collect();
    if tags.is_empty() && digests.is_empty() {
        return vec![image_row(img, "<none>", "<none>", "<none>", trunc, now)];
    }
    let mut repo_tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut order = Vec::new();
    for t in &tags {
        let Ok(r) = reference::parse(t) else { continue };
        let name = r.familiar_name();
        if !repo_tags.contains_key(&name) {
            order.push(name.clone());
        }
        repo_tags
            .entry(name)
            .or_default()
            .push(r.tag.unwrap_or_default());
    }
    let mut repo_digests: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &digests {
        let Ok(r) = reference::parse(d) else { continue };
        repo_digests
            .entry(r.familiar_name())
            .or_default()
            .push(r.digest.unwrap_or_default());
    }
    let mut rows = Vec::new();
    for repo in &order {
        let ds = repo_digests.remove(repo).unwrap_or_default();
        for tag in &repo_tags[repo] {
            if !digests_shown || ds.is_empty() {
                rows.push(image_row(img, repo, tag, "<none>", trunc, now));
            } else {
                for d in &ds {
                    rows.push(image_row(img, repo, tag, d, trunc, now));
                }
            }
        }
    }
    for (repo, ds) in repo_digests {
        if digests_shown {
            for d in &ds {
                rows.push(image_row(img, &repo, "<none>", d, trunc, now));
            }
        } else {
            rows.push(image_row(img, &repo, "<none>", "", trunc, now));
        }
    }
    rows
}

/// `berth images`.
pub fn images(client: &Client, a: &ImagesArgs) -> Result<i32> {
    let mut filters = a.filter.clone();
    if let Some(r) = &a.repository {
        filters.push(format!("reference={r}"));
    }
    let mut q = Vec::new();
    if a.all {
        q.push(("all", "1".to_string()));
    }
    if let Some(f) = filters_json(&filters)? {
        q.push(("filters", f));
    }
    let list = client.get_json(&format!("/images/json{}", query(&q)))?;
    let now = humanize::now_unix();
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|img| image_rows(img, a.digests, !a.no_trunc, now))
        .collect();
    let default = if a.digests {
        IMAGES_DIGESTS
    } else {
        IMAGES_DEFAULT
    };
    let fmt = match (&a.format, a.quiet) {
        (Some(f), _) => f.as_str(),
        (None, true) => "{{.ID}}",
        (None, false) => default,
    };
    out(&format::list(Some(fmt), default, &images_header(), &rows)?)?;
    Ok(0)
}

/// `berth tag`.
pub fn tag(client: &Client, a: &TagArgs) -> Result<i32> {
    let r = reference::parse(&a.target)?;
    if r.digest.is_some() {
        return Err(Error::msg(
            "refusing to create a tag with a digest reference",
        ));
    }
    let r = r.tag_name_only();
    let q = query(&[
        ("repo", r.familiar_name()),
        ("tag", r.tag.clone().unwrap_or_default()),
    ]);
    client.post(&format!("/images/{}/tag{q}", enc_path(&a.source)))?;
    Ok(0)
}

/// Prints "Untagged: x" / "Deleted: y" lines of an image delete or prune answer.
fn print_deletes(items: &Value, lower: bool) -> Result<()> {
    for item in items.as_array().into_iter().flatten() {
        let (u, d) = if lower {
            ("untagged", "deleted")
        } else {
            ("Untagged", "Deleted")
        };
        if !s(item, "Untagged").is_empty() {
            outln(&format!("{u}: {}", s(item, "Untagged")))?;
        }
        if !s(item, "Deleted").is_empty() {
            outln(&format!("{d}: {}", s(item, "Deleted")))?;
        }
    }
    Ok(())
}

/// `berth rmi`.
pub fn rmi(client: &Client, a: &RmiArgs) -> Result<i32> {
    let mut q = Vec::new();
    if a.force {
        q.push(("force", "1".to_string()));
    }
    if a.no_prune {
        q.push(("noprune", "1".to_string()));
    }
    let q = query(&q);
    each(&a.images, false, |img| {
        let v = client.delete(&format!("/images/{}{q}", enc_path(img)))?;
        print_deletes(&v, false)
    })?;
    Ok(0)
}

/// `berth history`.
pub fn history(client: &Client, a: &HistoryArgs) -> Result<i32> {
    let list = client.get_json(&format!("/images/{}/history", enc_path(&a.image)))?;
    let now = humanize::now_unix();
    let trunc = !a.no_trunc;
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let id = s(h, "Id");
            let created = i(h, "Created");
            let by = s(h, "CreatedBy").replace('\t', " ");
            let size = i(h, "Size");
            json!({
                "ID": if id == "<missing>" || !trunc { id.to_string() } else { short_id(id) },
                "CreatedSince": if a.human { humanize::ago_from(created, now) } else { rfc3339(created) },
                "CreatedAt": rfc3339(created),
                "CreatedBy": if trunc { ellipsis(&by, 45) } else { by },
                "Size": if a.human { humanize::size_prec(size as f64, 3) } else { size.to_string() },
                "Comment": s(h, "Comment"),
            })
        })
        .collect();
    let default = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
    let fmt = match (&a.format, a.quiet) {
        (Some(f), _) => f.as_str(),
        (None, true) => "{{.ID}}",
        (None, false) => default,
    };
    let header = json!({
        "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
    });
    out(&format::list(Some(fmt), default, &header, &rows)?)?;
    Ok(0)
}

fn rfc3339(unix: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `berth image prune`.
pub fn prune(client: &Client, a: &PruneArgs) -> Result<i32> {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !a.force && !confirm(warning)? {
        return Ok(0);
    }
    let mut filters = a.filter.clone();
    filters.push(format!("dangling={}", !a.all));
    let q = query(&[("filters", filters_json(&filters)?.unwrap_or_default())]);
    let v = client.post_json(&format!("/images/prune{q}"), None)?;
    print_image_prune(&v)?;
    outln(&format!(
        "Total reclaimed space: {}",
        humanize::size(i(&v, "SpaceReclaimed") as f64)
    ))?;
    Ok(0)
}

/// The "Deleted Images:" block of a prune answer (nothing when none were deleted).
pub fn print_image_prune(v: &Value) -> Result<()> {
    let deleted = &v["ImagesDeleted"];
    if deleted.as_array().is_some_and(|a| !a.is_empty()) {
        outln("Deleted Images:")?;
        print_deletes(deleted, true)?;
        outln("")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_per_tag_and_dangling() {
        let img = json!({
            "Id": "sha256:0123456789abcdef", "Created": 0, "Size": 4_261_000,
            "RepoTags": ["busybox:latest", "busybox:1", "me/app:v1"],
            "RepoDigests": ["busybox@sha256:aaa", "other@sha256:bbb"],
        });
        let rows = image_rows(&img, false, true, 86400 * 3);
        let cells: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r["Repository"].as_str().unwrap().into(),
                    r["Tag"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(
            cells,
            vec![
                ("busybox".into(), "latest".into()),
                ("busybox".into(), "1".into()),
                ("me/app".into(), "v1".into()),
                ("other".into(), "<none>".into()),
            ]
        );
        assert_eq!(rows[0]["ID"], "0123456789ab");
        assert_eq!(rows[0]["Size"], "4.26MB");
        assert_eq!(rows[0]["CreatedSince"], "3 days ago");
        let dangling = json!({"Id": "sha256:ff", "RepoTags": ["<none>:<none>"], "RepoDigests": []});
        assert_eq!(image_rows(&dangling, false, true, 0)[0]["Tag"], "<none>");
    }

    #[test]
    fn images_table() {
        let img = json!({"Id": "sha256:0123456789abcdef", "Created": 0, "Size": 4_261_000, "RepoTags": ["busybox:latest"]});
        let rows = image_rows(&img, false, true, 86400 * 3);
        let t = format::list(None, IMAGES_DEFAULT, &images_header(), &rows).unwrap();
        assert_eq!(
            t,
            "REPOSITORY   TAG       IMAGE ID       CREATED      SIZE\n\
             busybox      latest    0123456789ab   3 days ago   4.26MB\n"
        );
    }
}
