//! Disk usage and cleanup: `system df` (summary and `-v`) and `system prune`.

use clap::Args;
use serde_json::{json, Value};

use super::{i, s, strs};
use crate::error::Result;
use crate::format;
use crate::http::{filters_json, query, Client};
use crate::humanize;
use crate::output::{confirm, out, outln};

/// `system df [OPTIONS]`
#[derive(Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
}

/// `system prune [OPTIONS]`
#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long)]
    pub filter: Vec<String>,
}

fn with_pct(amount: i64, total: i64) -> String {
    if total > 0 {
        format!(
            "{} ({}%)",
            humanize::size(amount as f64),
            amount * 100 / total
        )
    } else {
        humanize::size(amount as f64)
    }
}

/// The four summary rows of `system df`.
pub fn df_rows(v: &Value) -> Vec<Value> {
    let arr = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let images = arr("Images");
    let total = i(v, "LayersSize");
    let used: i64 = images
        .iter()
        .filter(|im| i(im, "Containers") > 0 && i(im, "SharedSize") >= 0)
        .map(|im| i(im, "Size") - i(im, "SharedSize"))
        .sum();
    let containers = arr("Containers");
    let active = |c: &Value| matches!(s(c, "State"), "running" | "paused" | "restarting");
    let csize: i64 = containers.iter().map(|c| i(c, "SizeRw")).sum();
    let creclaim: i64 = containers
        .iter()
        .filter(|c| !active(c))
        .map(|c| i(c, "SizeRw"))
        .sum();
    let volumes = arr("Volumes");
    let vsize = |x: &Value| i(&x["UsageData"], "Size").max(0);
    let vused = |x: &Value| i(&x["UsageData"], "RefCount") > 0;
    let vtotal: i64 = volumes.iter().map(vsize).sum();
    let vreclaim: i64 = volumes.iter().filter(|x| !vused(x)).map(vsize).sum();
    let cache = arr("BuildCache");
    let bsize: i64 = cache
        .iter()
        .filter(|b| !b["Shared"].as_bool().unwrap_or(false))
        .map(|b| i(b, "Size"))
        .sum();
    let breclaim: i64 = cache
        .iter()
        .filter(|b| {
            !b["InUse"].as_bool().unwrap_or(false) && !b["Shared"].as_bool().unwrap_or(false)
        })
        .map(|b| i(b, "Size"))
        .sum();
    vec![
        json!({"Type": "Images", "TotalCount": images.len().to_string(),
               "Active": images.iter().filter(|im| i(im, "Containers") > 0).count().to_string(),
               "Size": humanize::size(total as f64), "Reclaimable": with_pct(total - used, total)}),
        json!({"Type": "Containers", "TotalCount": containers.len().to_string(),
               "Active": containers.iter().filter(|c| active(c)).count().to_string(),
               "Size": humanize::size(csize as f64), "Reclaimable": with_pct(creclaim, csize)}),
        json!({"Type": "Local Volumes", "TotalCount": volumes.len().to_string(),
               "Active": volumes.iter().filter(|x| vused(x)).count().to_string(),
               "Size": humanize::size(vtotal as f64), "Reclaimable": with_pct(vreclaim, vtotal)}),
        json!({"Type": "Build Cache", "TotalCount": cache.len().to_string(),
               "Active": cache.iter().filter(|b| b["InUse"].as_bool().unwrap_or(false)).count().to_string(),
               "Size": humanize::size(bsize as f64), "Reclaimable": humanize::size(breclaim as f64)}),
    ]
}

pub fn df(client: &Client, a: &DfArgs) -> Result<i32> {
    let v = client.get_json("/system/df")?;
    let header = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    let default = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
    if !a.verbose {
        out(&format::list(
            a.format.as_deref(),
            default,
            &header,
            &df_rows(&v),
        )?)?;
        return Ok(0);
    }
    let now = humanize::now_unix();
    let images: Vec<Value> = v["Images"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|im| super::images::image_rows(im, false, true, now))
        .collect();
    out("Images space usage:\n\n")?;
    out(&format::list(
        Some("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"),
        "",
        &json!({"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED", "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}),
        &images,
    )?)?;
    let containers: Vec<Value> = v["Containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| super::ps::row(c, true, now))
        .collect();
    out("\nContainers space usage:\n\n")?;
    out(&format::list(
        Some("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"),
        "",
        &super::ps::header(),
        &containers,
    )?)?;
    let volumes: Vec<Value> = v["Volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| json!({"Name": s(x, "Name"), "Links": i(&x["UsageData"], "RefCount").to_string(), "Size": humanize::size(i(&x["UsageData"], "Size").max(0) as f64)}))
        .collect();
    out("\nLocal Volumes space usage:\n\n")?;
    out(&format::list(
        Some("table {{.Name}}\t{{.Links}}\t{{.Size}}"),
        "",
        &json!({"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}),
        &volumes,
    )?)?;
    let rows = df_rows(&v);
    out(&format!("\nBuild cache usage: {}\n\n", s(&rows[3], "Size")))?;
    Ok(0)
}

pub fn prune(client: &Client, a: &PruneArgs) -> Result<i32> {
    let mut warning = String::from(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
    );
    if a.volumes {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warning.push_str(if a.all {
        "  - all images without at least one container associated to them\n"
    } else {
        "  - all dangling images\n"
    });
    warning.push_str("  - unused build cache\n");
    if !a.force && !confirm(&warning)? {
        return Ok(0);
    }
    let fq = |extra: Option<&str>| -> Result<String> {
        let mut f = a.filter.clone();
        f.extend(extra.map(String::from));
        Ok(match filters_json(&f)? {
            Some(j) => query(&[("filters", j)]),
            None => String::new(),
        })
    };
    let mut reclaimed = 0;
    let c = client.post_json(&format!("/containers/prune{}", fq(None)?), None)?;
    reclaimed += i(&c, "SpaceReclaimed");
    super::volume::print_deleted("Deleted Containers:", &strs(&c, "ContainersDeleted"))?;
    let n = client.post_json(&format!("/networks/prune{}", fq(None)?), None)?;
    super::volume::print_deleted("Deleted Networks:", &strs(&n, "NetworksDeleted"))?;
    if a.volumes {
        let v = client.post_json(&format!("/volumes/prune{}", fq(None)?), None)?;
        reclaimed += i(&v, "SpaceReclaimed");
        super::volume::print_deleted("Deleted Volumes:", &strs(&v, "VolumesDeleted"))?;
    }
    let dangling = format!("dangling={}", !a.all);
    let im = client.post_json(&format!("/images/prune{}", fq(Some(&dangling))?), None)?;
    reclaimed += i(&im, "SpaceReclaimed");
    super::images::print_image_prune(&im)?;
    match client.post_json(&format!("/build/prune{}", fq(None)?), None) {
        Ok(b) => {
            reclaimed += i(&b, "SpaceReclaimed");
            super::volume::print_deleted(
                "Deleted build cache objects:",
                &strs(&b, "CachesDeleted"),
            )?;
        }
        Err(e) if e.is_status(404) => {}
        Err(e) => return Err(e),
    }
    outln(&format!(
        "Total reclaimed space: {}",
        humanize::size(reclaimed as f64)
    ))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_summary() {
        let v = json!({
            "LayersSize": 10_000_000,
            "Images": [{"Containers": 1, "Size": 3_000_000, "SharedSize": 0}, {"Containers": 0, "Size": 7_000_000, "SharedSize": 0}],
            "Containers": [{"State": "running", "SizeRw": 100}, {"State": "exited", "SizeRw": 50}],
            "Volumes": [{"UsageData": {"Size": 0, "RefCount": 1}}],
            "BuildCache": []
        });
        let rows = df_rows(&v);
        let header = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
        let t = format::list(
            None,
            "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
            &header,
            &rows,
        )
        .unwrap();
        assert_eq!(
            t,
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
             Images          2         1         10MB      7MB (70%)\n\
             Containers      2         1         150B      50B (33%)\n\
             Local Volumes   1         1         0B        0B\n\
             Build Cache     0         0         0B        0B\n"
        );
    }
}
