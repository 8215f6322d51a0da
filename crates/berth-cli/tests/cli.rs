//! End-to-end tests of the `berth` commands against a fake Docker Engine API server on a unix
//! socket: the test binary re-runs itself as the CLI (BERTH_CLI_CHILD) so stdout, stderr and
//! the exit code can be checked byte for byte.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Command as Proc, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

use clap::Parser;

#[derive(Parser)]
#[command(name = "berth")]
struct Cli {
    #[command(flatten)]
    global: berth_cli::GlobalArgs,
    #[command(subcommand)]
    cmd: berth_cli::Command,
}

/// One request the fake daemon received.
#[derive(Debug, Clone)]
struct Req {
    /// The order in which the connection carrying this request was accepted.
    conn: usize,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Handler = dyn Fn(&Req, &mut UnixStream) + Send + Sync;

/// A fake daemon answering with `handler`; records every request.
struct Fake {
    _dir: tempfile::TempDir,
    sock: PathBuf,
    log: Arc<Mutex<Vec<Req>>>,
}

fn read_request(r: &mut BufReader<UnixStream>, conn: usize) -> Option<Req> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut req = Req {
        conn,
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if let Some(n) = req.header("content-length") {
        let mut body = vec![0; n.parse().ok()?];
        r.read_exact(&mut body).ok()?;
        req.body = body;
    } else if req.header("transfer-encoding") == Some("chunked") {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            req.body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(req)
}

impl Fake {
    fn start(handler: impl Fn(&Req, &mut UnixStream) + Send + Sync + 'static) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("d.sock");
        let listener = UnixListener::bind(&sock).unwrap();
        let log: Arc<Mutex<Vec<Req>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let l2 = log.clone();
        thread::spawn(move || {
            for (seq, conn) in listener.incoming().enumerate() {
                let Ok(conn) = conn else { return };
                let (log, handler) = (l2.clone(), handler.clone());
                thread::spawn(move || {
                    let mut w = conn.try_clone().unwrap();
                    let mut r = BufReader::new(conn);
                    while let Some(req) = read_request(&mut r, seq) {
                        log.lock().unwrap().push(req.clone());
                        handler(&req, &mut w);
                        if req.header("upgrade").is_some() {
                            return;
                        }
                    }
                });
            }
        });
        Fake {
            _dir: dir,
            sock,
            log,
        }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }

    /// Runs `berth -H <fake> args...` with `stdin`; (stdout, stderr, exit code).
    fn berth(&self, args: &[&str], stdin: &[u8]) -> (String, String, i32) {
        let mut argv = vec!["berth".to_string(), "-H".into(), self.host()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut child = Proc::new(std::env::current_exe().unwrap())
            .env("BERTH_CLI_CHILD", serde_json::to_string(&argv).unwrap())
            .env_remove("BERTH_HOST")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }
}

fn respond(w: &mut UnixStream, status: &str, ctype: &str, body: &str) {
    let _ = write!(
        w,
        "HTTP/1.1 {status}\r\nApi-Version: 1.43\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

fn json(w: &mut UnixStream, status: &str, body: &str) {
    respond(w, status, "application/json", body);
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind, 0, 0, 0];
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Sends `data` as a chunked body split into pieces of `piece` bytes.
fn chunked(w: &mut UnixStream, ctype: &str, data: &[u8], piece: usize) {
    let _ = write!(
        w,
        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for c in data.chunks(piece) {
        let _ = write!(w, "{:x}\r\n", c.len());
        let _ = w.write_all(c);
        let _ = w.write_all(b"\r\n");
        let _ = w.flush();
    }
    let _ = w.write_all(b"0\r\n\r\n");
}

fn upgrade(w: &mut UnixStream) {
    let _ = w.write_all(
        b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
    );
}

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn test_ps() {
    let fake = Fake::start(|req, w| {
        assert!(
            req.path.starts_with("/v1.43/containers/json"),
            "{}",
            req.path
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body = serde_json::json!([{
            "Id": ID, "Names": ["/web"], "Image": "busybox", "Command": "sleep 1000",
            "Created": now - 150, "State": "running", "Status": "Up 2 minutes",
            "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]
        }]);
        json(w, "200 OK", &body.to_string());
    });
    let (out, err, code) = fake.berth(&["ps", "-a", "--filter", "status=running"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "CONTAINER ID   IMAGE     COMMAND        CREATED         STATUS         PORTS                  NAMES\n\
         0123456789ab   busybox   \"sleep 1000\"   2 minutes ago   Up 2 minutes   0.0.0.0:8080->80/tcp   web\n"
    );
    let reqs = fake.requests();
    assert_eq!(
        reqs[0].path,
        "/v1.43/containers/json?all=1&filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%7D"
    );
    let (out, _, code) = fake.berth(&["ps", "-q", "--no-trunc"], b"");
    assert_eq!((out.as_str(), code), (format!("{ID}\n").as_str(), 0));
    let (out, _, _) = fake.berth(&["ps", "--format", "{{.Names}}\\t{{json .State}}"], b"");
    assert_eq!(out, "web\t\"running\"\n");
    let (out, _, _) = fake.berth(&["ps", "--format", "table {{.Names}}\\t{{.Status}}"], b"");
    assert_eq!(out, "NAMES     STATUS\nweb       Up 2 minutes\n");
}

fn test_logs_chunked_stream() {
    let fake = Fake::start(|req, w| {
        if req.path == "/v1.43/containers/web/json" {
            json(
                w,
                "200 OK",
                &format!(r#"{{"Id":"{ID}","Config":{{"Tty":false}}}}"#),
            );
        } else if req
            .path
            .starts_with(&format!("/v1.43/containers/{ID}/logs"))
        {
            let mut data = frame(1, b"line one\n");
            data.extend(frame(2, b"oops\n"));
            data.extend(frame(1, b"line two\n"));
            // Chunks that cut frames and headers in odd places.
            chunked(w, "application/vnd.docker.multiplexed-stream", &data, 5);
        } else {
            json(w, "404 Not Found", r#"{"message":"page not found"}"#);
        }
    });
    let (out, err, code) = fake.berth(&["logs", "-f", "--tail", "10", "-t", "web"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "line one\nline two\n");
    assert_eq!(err, "oops\n");
    let logs = &fake.requests()[1];
    assert_eq!(
        logs.path,
        format!("/v1.43/containers/{ID}/logs?stdout=1&stderr=1&follow=1&tail=10&timestamps=1")
    );
}

fn test_error_response() {
    let fake =
        Fake::start(|_, w| json(w, "404 Not Found", r#"{"message":"No such container: x"}"#));
    let (out, err, code) = fake.berth(&["logs", "x"], b"");
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("", "Error response from daemon: No such container: x\n", 1)
    );
    let (_, err, code) = fake.berth(&["stop", "x", "y"], b"");
    assert_eq!(err, "Error response from daemon: No such container: x\nError response from daemon: No such container: x\n");
    assert_eq!(code, 1);
    let (out, err, code) = fake.berth(&["inspect", "x"], b"");
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("[]\n", "Error: No such object: x\n", 1)
    );
}

fn test_run_pulls_attaches_and_exits_with_status() {
    let created = Arc::new(Mutex::new(false));
    let c2 = created.clone();
    // Like berth's daemon, answer an attach only once the container has started.
    let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fake = Fake::start(move |req, w| {
        let p = req.path.as_str();
        if p.starts_with("/v1.43/containers/create") {
            let mut done = c2.lock().unwrap();
            if *done {
                json(
                    w,
                    "201 Created",
                    &format!(r#"{{"Id":"{ID}","Warnings":["careful"]}}"#),
                );
            } else {
                *done = true;
                json(
                    w,
                    "404 Not Found",
                    r#"{"message":"No such image: busybox:latest"}"#,
                );
            }
        } else if p.starts_with("/v1.43/images/create") {
            let msgs = concat!(
                r#"{"status":"Pulling from library/busybox","id":"latest"}"#,
                "\r\n",
                r#"{"status":"Pulling fs layer","progressDetail":{},"id":"a1b2"}"#,
                "\r\n",
                r#"{"status":"Downloading","progressDetail":{"current":5,"total":10},"progress":"[==>  ]","id":"a1b2"}"#,
                "\r\n",
                r#"{"status":"Pull complete","progressDetail":{},"id":"a1b2"}"#,
                "\r\n",
                r#"{"status":"Status: Downloaded newer image for busybox:latest"}"#,
                "\r\n",
            );
            chunked(w, "application/json", msgs.as_bytes(), 17);
        } else if p.contains("/attach?") {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while !started.load(std::sync::atomic::Ordering::SeqCst) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the client never started the container"
                );
                thread::sleep(std::time::Duration::from_millis(5));
            }
            upgrade(w);
            // Echo stdin back as stdout until the client closes its side.
            let mut input = Vec::new();
            let mut r = w.try_clone().unwrap();
            let _ = r.read_to_end(&mut input);
            let mut out = frame(1, b"got: ");
            out.extend(frame(1, &input));
            out.extend(frame(2, b"to stderr\n"));
            let _ = w.write_all(&out);
            let _ = w.shutdown(std::net::Shutdown::Both);
        } else if p.contains("/wait?") {
            json(w, "200 OK", r#"{"StatusCode":3,"Error":null}"#);
        } else if p.ends_with("/start") {
            started.store(true, std::sync::atomic::Ordering::SeqCst);
            respond(w, "204 No Content", "text/plain", "");
        } else {
            json(w, "404 Not Found", r#"{"message":"page not found"}"#);
        }
    });
    let (out, err, code) = fake.berth(
        &[
            "run",
            "-i",
            "--rm",
            "--name",
            "t1",
            "-p",
            "127.0.0.1:8080:80/udp",
            "-m",
            "32m",
            "busybox",
            "cat",
            "-n",
        ],
        b"hello\n",
    );
    assert_eq!(out, "got: hello\n");
    assert_eq!(
        err,
        "Unable to find image 'busybox:latest' locally\n\
         latest: Pulling from library/busybox\n\
         a1b2: Pulling fs layer\n\
         a1b2: Pull complete\n\
         Status: Downloaded newer image for busybox:latest\n\
         WARNING: careful\n\
         to stderr\n"
    );
    assert_eq!(code, 3);
    let reqs = fake.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths[0], "/v1.43/containers/create?name=t1");
    assert_eq!(
        paths[1],
        "/v1.43/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest"
    );
    assert_eq!(reqs[1].header("x-registry-auth"), Some("e30="));
    assert_eq!(paths[2], "/v1.43/containers/create?name=t1");
    let attach = reqs.iter().find(|r| r.path.contains("/attach")).unwrap();
    assert_eq!(
        attach.path,
        format!("/v1.43/containers/{ID}/attach?stream=1&stdin=1&stdout=1&stderr=1")
    );
    assert_eq!(attach.header("connection"), Some("Upgrade"));
    assert_eq!(attach.header("upgrade"), Some("tcp"));
    let wait = reqs.iter().position(|r| r.path.contains("/wait")).unwrap();
    let start = reqs
        .iter()
        .position(|r| r.path.ends_with("/start"))
        .unwrap();
    assert!(
        reqs[wait].conn < reqs[start].conn,
        "wait must be asked before start"
    );
    assert_eq!(
        reqs[wait].path,
        format!("/v1.43/containers/{ID}/wait?condition=removed")
    );
    let body = reqs[0].json();
    assert_eq!(body["Image"], "busybox");
    assert_eq!(body["Cmd"], serde_json::json!(["cat", "-n"]));
    assert_eq!(body["OpenStdin"], true);
    assert_eq!(body["StdinOnce"], true);
    assert_eq!(body["HostConfig"]["Memory"], 33554432);
    assert_eq!(body["HostConfig"]["AutoRemove"], true);
    assert_eq!(
        body["HostConfig"]["PortBindings"]["80/udp"],
        serde_json::json!([{"HostIp": "127.0.0.1", "HostPort": "8080"}])
    );
}

fn test_run_detached_and_start_failure() {
    let fake = Fake::start(|req, w| {
        if req.path.starts_with("/v1.43/containers/create?name=bad") {
            json(w, "201 Created", r#"{"Id":"badid","Warnings":[]}"#);
        } else if req.path.starts_with("/v1.43/containers/create") {
            json(
                w,
                "201 Created",
                &format!(r#"{{"Id":"{ID}","Warnings":[]}}"#),
            );
        } else if req.path == "/v1.43/containers/badid/start" {
            json(
                w,
                "400 Bad Request",
                r#"{"message":"failed to create task: exec: \"nope\": executable file not found in $PATH"}"#,
            );
        } else if req.path.ends_with("/start") {
            respond(w, "204 No Content", "text/plain", "");
        } else {
            json(w, "404 Not Found", r#"{"message":"page not found"}"#);
        }
    });
    let (out, err, code) = fake.berth(&["run", "-d", "busybox", "sleep", "9"], b"");
    assert_eq!((out, code), (format!("{ID}\n"), 0), "{err}");
    let (out, err, code) = fake.berth(&["run", "-d", "--name", "bad", "busybox", "nope"], b"");
    assert_eq!(out, "");
    assert_eq!(
        err,
        "berth: Error response from daemon: failed to create task: exec: \"nope\": executable file not found in $PATH\n\nRun 'berth run --help' for more information\n"
    );
    assert_eq!(code, 127);
    let (_, err, code) = fake.berth(&["run", "-p", "99999", "busybox"], b"");
    assert_eq!(code, 125);
    assert!(
        err.starts_with("berth: invalid containerPort: 99999\n"),
        "{err}"
    );
}

fn test_exec_exit_code() {
    let fake = Fake::start(|req, w| {
        let p = req.path.as_str();
        if p == "/v1.43/containers/web/exec" {
            json(w, "201 Created", r#"{"Id":"e1"}"#);
        } else if p == "/v1.43/exec/e1/start" {
            upgrade(w);
            let mut out = frame(1, b"hi\n");
            out.extend(frame(2, b"err\n"));
            let _ = w.write_all(&out);
            let _ = w.shutdown(std::net::Shutdown::Both);
        } else if p == "/v1.43/exec/e1/json" {
            json(w, "200 OK", r#"{"ExitCode":5,"Running":false}"#);
        } else {
            json(w, "404 Not Found", r#"{"message":"page not found"}"#);
        }
    });
    let (out, err, code) = fake.berth(
        &[
            "exec", "-e", "X=1", "-u", "root", "-w", "/tmp", "web", "sh", "-c", "ls -l",
        ],
        b"",
    );
    assert_eq!((out.as_str(), err.as_str(), code), ("hi\n", "err\n", 5));
    let reqs = fake.requests();
    assert_eq!(
        reqs[0].json(),
        serde_json::json!({"User":"root","Privileged":false,"Tty":false,"AttachStdin":false,"AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":["X=1"],"WorkingDir":"/tmp","Cmd":["sh","-c","ls -l"]})
    );
    assert_eq!(
        reqs[1].json(),
        serde_json::json!({"Detach": false, "Tty": false})
    );
    assert_eq!(reqs[1].header("upgrade"), Some("tcp"));
}

fn test_images_and_load() {
    let fake = Fake::start(|req, w| {
        if req.path.starts_with("/v1.43/images/json") {
            let created = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                - 3 * 86400;
            json(
                w,
                "200 OK",
                &format!(
                    r#"[{{"Id":"sha256:abcdef0123456789","RepoTags":["busybox:latest"],"RepoDigests":[],"Created":{created},"Size":4261000}}]"#
                ),
            );
        } else if req.path.starts_with("/v1.43/images/load") {
            assert_eq!(req.header("content-type"), Some("application/x-tar"));
            let body = format!(
                r#"{{"stream":"Loaded image: busybox:latest ({} bytes)\n"}}"#,
                req.body.len()
            );
            json(w, "200 OK", &body);
        } else {
            json(w, "404 Not Found", r#"{"message":"page not found"}"#);
        }
    });
    let (out, _, code) = fake.berth(&["images"], b"");
    assert_eq!(code, 0);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("REPOSITORY   TAG       IMAGE ID       CREATED      SIZE")
    );
    assert_eq!(
        lines.next(),
        Some("busybox      latest    abcdef012345   3 days ago   4.26MB")
    );
    let (out, err, code) = fake.berth(&["load"], &[7u8; 3000]);
    assert_eq!(
        (out.as_str(), code),
        ("Loaded image: busybox:latest (3000 bytes)\n", 0),
        "{err}"
    );
    let load = fake
        .requests()
        .into_iter()
        .find(|r| r.path.contains("load"))
        .unwrap();
    assert_eq!(load.method, "POST");
    assert_eq!(load.header("transfer-encoding"), Some("chunked"));
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
        } else {
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
        }
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn test_cp_both_ways() {
    use base64::Engine;
    let fake = Fake::start(|req, w| {
        let b64 =
            |v: serde_json::Value| base64::engine::general_purpose::STANDARD.encode(v.to_string());
        let p = req.path.as_str();
        if req.method == "GET" && p == "/v1.43/containers/web/archive?path=%2Fetc%2Fhosts" {
            let tar = tar_of(&[("hosts", b"127.0.0.1 localhost\n")]);
            let stat = b64(
                serde_json::json!({"name": "hosts", "size": 20, "mode": 420, "mtime": "2024-01-01T00:00:00Z", "linkTarget": ""}),
            );
            let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nX-Docker-Container-Path-Stat: {stat}\r\nContent-Length: {}\r\n\r\n", tar.len());
            let _ = w.write_all(&tar);
        } else if req.method == "GET" && p == "/v1.43/containers/web/archive?path=%2Fdata" {
            let tar = tar_of(&[
                ("data/", b""),
                ("data/a", b"A"),
                ("data/sub/", b""),
                ("data/sub/b", b"B"),
            ]);
            let stat = b64(
                serde_json::json!({"name": "data", "size": 4096, "mode": 2147484141u64, "mtime": "2024-01-01T00:00:00Z", "linkTarget": ""}),
            );
            let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nX-Docker-Container-Path-Stat: {stat}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n", tar.len());
            let _ = w.write_all(&tar);
            let _ = w.write_all(b"\r\n0\r\n\r\n");
        } else if req.method == "HEAD" {
            json(
                w,
                "404 Not Found",
                r#"{"message":"Could not find the file /tmp/new.txt in container web"}"#,
            );
        } else if req.method == "PUT" && p.starts_with("/v1.43/containers/web/archive?path=%2Ftmp&")
        {
            respond(w, "200 OK", "text/plain", "");
        } else {
            json(w, "404 Not Found", r#"{"message":"page not found"}"#);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let (_, err, code) = fake.berth(&["cp", "web:/etc/hosts", out.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "127.0.0.1 localhost\n"
    );
    let (_, err, code) = fake.berth(&["cp", "web:/data", dir.path().to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/sub/b")).unwrap(),
        "B"
    );
    let renamed = dir.path().join("copy");
    let (_, err, code) = fake.berth(&["cp", "web:/data", renamed.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(renamed.join("a")).unwrap(), "A");
    let (_, err, code) = fake.berth(&["cp", out.to_str().unwrap(), "web:/tmp/new.txt"], b"");
    assert_eq!(code, 0, "{err}");
    let put = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(
        put.path,
        "/v1.43/containers/web/archive?path=%2Ftmp&noOverwriteDirNonDir=true"
    );
    let mut archive = tar::Archive::new(put.body.as_slice());
    let mut entries = archive.entries().unwrap();
    let mut e = entries.next().unwrap().unwrap();
    assert_eq!(e.path().unwrap().to_str(), Some("new.txt"));
    let mut text = String::new();
    e.read_to_string(&mut text).unwrap();
    assert_eq!(text, "127.0.0.1 localhost\n");
}

/// clap's own consistency checks over the whole command tree (duplicate flags, bad
/// attributes), as the `berth` binary would hit them.
fn test_command_tree() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
    // docker's habits: -it combined, flags after the image belong to the command.
    let cli = Cli::try_parse_from([
        "berth", "run", "-it", "--rm", "-h", "box", "busybox", "ls", "-l", "--rm",
    ])
    .unwrap();
    let berth_cli::Command::Run(r) = cli.cmd else {
        panic!("not run")
    };
    assert_eq!(r.args, ["busybox", "ls", "-l", "--rm"]);
    assert!(r.flags.interactive && r.flags.tty && r.flags.rm);
    assert_eq!(r.flags.hostname.as_deref(), Some("box"));
    assert!(Cli::try_parse_from(["berth", "run", "--no-such-flag", "busybox"]).is_err());
    let cli = Cli::try_parse_from(["berth", "exec", "-it", "web", "sh", "-c", "echo -n"]).unwrap();
    let berth_cli::Command::Exec(e) = cli.cmd else {
        panic!("not exec")
    };
    assert_eq!(e.args, ["web", "sh", "-c", "echo -n"]);
}

fn child() -> ! {
    let argv: Vec<String> =
        serde_json::from_str(&std::env::var("BERTH_CLI_CHILD").unwrap()).unwrap();
    let cli = Cli::parse_from(argv);
    std::process::exit(berth_cli::main(cli.global, cli.cmd));
}

/// What `berth daemon` is when the CLI under test starts "the daemon" (its own executable):
/// a fake that answers `/_ping` on the default socket. Used by the manual autostart check
/// (`unshare -m` with a tmpfs on /run/berth), never by the tests below.
fn fake_daemon() -> ! {
    let sock = std::path::Path::new("/run/berth/berth.sock");
    let _ = std::fs::remove_file(sock);
    let listener = UnixListener::bind(sock).unwrap();
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let mut w = conn.try_clone().unwrap();
        let mut r = BufReader::new(conn);
        while let Some(req) = read_request(&mut r, 0) {
            if req.path == "/_ping" {
                respond(&mut w, "200 OK", "text/plain", "OK");
            } else {
                json(
                    &mut w,
                    "200 OK",
                    r#"{"Version":"fake","ApiVersion":"1.43","Os":"linux","Arch":"amd64"}"#,
                );
            }
        }
    }
    std::process::exit(0);
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("daemon") {
        fake_daemon();
    }
    if std::env::var_os("BERTH_CLI_CHILD").is_some() {
        child();
    }
    let tests: [(&str, fn()); 9] = [
        ("command_tree", test_command_tree),
        ("ps", test_ps),
        ("logs_chunked_stream", test_logs_chunked_stream),
        ("error_response", test_error_response),
        (
            "run_pulls_attaches_and_exits_with_status",
            test_run_pulls_attaches_and_exits_with_status,
        ),
        (
            "run_detached_and_start_failure",
            test_run_detached_and_start_failure,
        ),
        ("exec_exit_code", test_exec_exit_code),
        ("images_and_load", test_images_and_load),
        ("cp_both_ways", test_cp_both_ways),
    ];
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut failed = 0;
    for (name, f) in tests {
        if filter.as_deref().is_some_and(|p| !name.contains(p)) {
            continue;
        }
        match std::panic::catch_unwind(f) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        println!("{failed} failed");
        std::process::exit(1);
    }
}
