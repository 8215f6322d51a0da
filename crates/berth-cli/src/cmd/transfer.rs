//! Moving images: `pull`, `push`, `save`, `load`, `import`, with docker's progress output;
//! `export`, a container's filesystem as a tar, and `commit`, its changes as an image.

use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};

use clap::Args;

use super::auth::registry_auth;
use crate::error::{Error, Result};
use crate::http::{enc_path, query, Client, Response};
use crate::output::outln;
use crate::reference::{self, Reference};
use crate::stream;
use crate::term;

/// `pull [OPTIONS] NAME[:TAG|@DIGEST]`
#[derive(Args, Debug)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    pub name: String,
}

/// `push [OPTIONS] NAME[:TAG]`
#[derive(Args, Debug)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    pub name: String,
}

/// `save [OPTIONS] IMAGE [IMAGE...]`
#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// `export [OPTIONS] CONTAINER`
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    pub container: String,
}

/// `commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`
#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long)]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pause: bool,
    pub container: String,
    pub reference: Option<String>,
}

/// `load [OPTIONS]`
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long)]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]`
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long)]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    pub source: String,
    pub reference: Option<String>,
}

/// Shows a JSON message stream on stdout (or stderr), as a terminal or as plain lines.
fn show(resp: Response, to_stderr: bool, quiet: bool) -> Result<()> {
    if quiet {
        return stream::display_messages(resp, &mut io::sink(), false, 0, |_| {});
    }
    if to_stderr {
        let tty = io::stderr().is_terminal();
        stream::display_messages(resp, &mut io::stderr(), tty, term::width(), |_| {})
    } else {
        let tty = term::stdout_is_tty();
        stream::display_messages(resp, &mut io::stdout(), tty, term::width(), |_| {})
    }
}

/// Pulls one reference (`POST /images/create?fromImage=&tag=`), showing progress.
pub fn pull_reference(
    client: &Client,
    r: &Reference,
    platform: Option<&str>,
    quiet: bool,
    to_stderr: bool,
) -> Result<()> {
    let mut q = vec![("fromImage", r.name())];
    if let Some(t) = r.tag_or_digest() {
        q.push(("tag", t));
    }
    if let Some(p) = platform {
        q.push(("platform", p.to_lowercase()));
    }
    let resp = client
        .req("POST", &format!("/images/create{}", query(&q)))
        .header("X-Registry-Auth", registry_auth(&r.domain))
        .call()?;
    show(resp, to_stderr, quiet)
}

/// `berth pull`.
pub fn pull(client: &Client, a: &PullArgs) -> Result<i32> {
    let mut r = reference::parse(&a.name)?;
    if a.all_tags {
        if r.tag.is_some() || r.digest.is_some() {
            return Err(Error::msg("tag can't be used with --all-tags/-a"));
        }
    } else if r.tag.is_none() && r.digest.is_none() {
        r = r.tag_name_only();
        if !a.quiet {
            outln("Using default tag: latest")?;
        }
    }
    pull_reference(client, &r, a.platform.as_deref(), a.quiet, false)?;
    outln(&r.full_string())?;
    Ok(0)
}

/// `berth push`.
pub fn push(client: &Client, a: &PushArgs) -> Result<i32> {
    let r = reference::parse(&a.name)?;
    if a.all_tags && r.tag.is_some() {
        return Err(Error::msg("tag can't be used with --all-tags/-a"));
    }
    let r = if a.all_tags { r } else { r.tag_name_only() };
    if !a.all_tags && r.tag.is_none() && r.digest.is_none() {
        outln("Using default tag: latest")?;
    }
    let q = match &r.tag {
        Some(t) => query(&[("tag", t.clone())]),
        None => String::new(),
    };
    let resp = client
        .req("POST", &format!("/images/{}/push{q}", enc_path(&r.name())))
        .header("X-Registry-Auth", registry_auth(&r.domain))
        .call()?;
    show(resp, false, a.quiet)?;
    if a.quiet {
        outln(&r.familiar_string())?;
    }
    Ok(0)
}

/// `berth save`: a tar of the images to a file or stdout.
pub fn save(client: &Client, a: &SaveArgs) -> Result<i32> {
    refuse_terminal(&a.output, "save")?;
    let q: Vec<(&str, String)> = a.images.iter().map(|i| ("names", i.clone())).collect();
    let resp = client
        .req("GET", &format!("/images/get{}", query(&q)))
        .call()?;
    write_tar(resp, &a.output)?;
    Ok(0)
}

/// `berth export`: the container's filesystem as a tar, to a file or stdout.
pub fn export(client: &Client, a: &ExportArgs) -> Result<i32> {
    refuse_terminal(&a.output, "save")?;
    let resp = client
        .req(
            "GET",
            &format!("/containers/{}/export", enc_path(&a.container)),
        )
        .call()?;
    write_tar(resp, &a.output)?;
    Ok(0)
}

/// `berth commit`: prints the new image's id.
pub fn commit(client: &Client, a: &CommitArgs) -> Result<i32> {
    let mut q = vec![("container", a.container.clone())];
    if let Some(r) = &a.reference {
        let r = reference::parse(r)?;
        q.push(("repo", r.name()));
        q.push(("tag", r.tag.clone().unwrap_or_else(|| "latest".into())));
    }
    q.push(("comment", a.message.clone().unwrap_or_default()));
    q.push(("author", a.author.clone().unwrap_or_default()));
    q.push(("pause", a.pause.to_string()));
    if !a.change.is_empty() {
        q.push(("changes", a.change.join("\n")));
    }
    let v = client.post_json(&format!("/commit{}", query(&q)), None)?;
    outln(v["Id"].as_str().unwrap_or(""))?;
    Ok(0)
}

/// A tar is not for a terminal (docker's words, for `save` and `export` alike).
fn refuse_terminal(output: &Option<String>, verb: &str) -> Result<()> {
    if output.is_none() && term::stdout_is_tty() {
        return Err(Error::msg(format!(
            "cowardly refusing to {verb} to a terminal. Use the -o flag or redirect"
        )));
    }
    Ok(())
}

/// The response's body into `output` (whole or not at all), or to stdout.
fn write_tar(mut resp: Response, output: &Option<String>) -> Result<()> {
    match output {
        Some(path) => {
            let tmp = format!("{path}.berth-tmp");
            let mut f = File::create(&tmp)?;
            io::copy(&mut resp, &mut f)?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
        }
        None => {
            let mut o = io::stdout().lock();
            io::copy(&mut resp, &mut o)?;
            o.flush()?;
        }
    }
    Ok(())
}

/// A tar body from a file (with its length) or from stdin (chunked).
fn tar_source(path: Option<&str>) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
    match path {
        Some(p) if p != "-" => {
            let f = File::open(p)
                .map_err(|e| Error::msg(format!("open {p}: {}", crate::opts::io_text(&e))))?;
            let len = f.metadata()?.len();
            Ok((Box::new(f), Some(len)))
        }
        _ => Ok((Box::new(io::stdin()), None)),
    }
}

/// `berth load`.
pub fn load(client: &Client, a: &LoadArgs) -> Result<i32> {
    if a.input.is_none() && term::stdin_is_tty() {
        return Err(Error::msg("requested load from stdin, but stdin is empty"));
    }
    let (body, len) = tar_source(a.input.as_deref())?;
    let q = query(&[("quiet", if a.quiet { "1" } else { "0" }.into())]);
    let mut resp = client
        .req("POST", &format!("/images/load{q}"))
        .stream(body, "application/x-tar", len)
        .call_while_sending()?;
    if resp
        .header("content-type")
        .is_some_and(|c| c.contains("json"))
    {
        stream::display_messages(
            resp,
            &mut io::stdout(),
            term::stdout_is_tty(),
            term::width(),
            |_| {},
        )?;
    } else {
        io::copy(&mut resp, &mut io::stdout())?;
    }
    Ok(0)
}

/// `berth import`.
pub fn import(client: &Client, a: &ImportArgs) -> Result<i32> {
    let is_url = a.source.starts_with("http://") || a.source.starts_with("https://");
    let mut q = vec![(
        "fromSrc",
        if is_url { a.source.clone() } else { "-".into() },
    )];
    if let Some(r) = &a.reference {
        // The repository and its tag apart: daemons that take a tag inside `repo` and those
        // that do not both understand this.
        let parsed = reference::parse(r)?;
        let name = r.strip_suffix(&format!(":{}", parsed.tag.clone().unwrap_or_default()));
        q.push((
            "repo",
            name.filter(|_| parsed.tag.is_some())
                .unwrap_or(r)
                .to_string(),
        ));
        if let Some(t) = parsed.tag {
            q.push(("tag", t));
        }
    }
    if let Some(m) = &a.message {
        q.push(("message", m.clone()));
    }
    if let Some(p) = &a.platform {
        q.push(("platform", p.to_lowercase()));
    }
    for c in &a.change {
        q.push(("changes", c.clone()));
    }
    let req = client.req("POST", &format!("/images/create{}", query(&q)));
    let resp = if is_url {
        req.call()?
    } else {
        let (body, len) = tar_source(Some(&a.source))?;
        req.stream(body, "application/x-tar", len).call()?
    };
    show(resp, false, false)?;
    Ok(0)
}
