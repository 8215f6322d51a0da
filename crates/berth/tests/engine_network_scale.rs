//! Networking through the engine at the edges item 7 of issue 5 names: UDP published ports
//! (outside client with its real address, the host's 127.0.0.1, hairpin, port ranges), 200
//! containers on one user network all reachable and resolvable, and removal leaving nothing
//! behind (no veth, bridge, address, route, nft element; the addresses free again).
//! Each test runs its own daemon in throw-away namespaces (see `engine/mod.rs`).

mod engine;

use engine::{eventually, stderr, stdout, Daemon, Outside};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const PY: &str = "/usr/bin/python3";

/// The host's /usr and libraries, read-only, so a busybox container can run python3
/// (`/lib` and `/lib64` by their real paths: on merged-/usr hosts they are symlinks).
fn py_mounts() -> Vec<String> {
    let mut v = vec!["-v".to_string(), "/usr:/usr:ro".to_string()];
    for dir in ["/lib", "/lib64"] {
        if let Ok(real) = std::fs::canonicalize(dir) {
            v.push("-v".into());
            v.push(format!("{}:{dir}:ro", real.display()));
        }
    }
    v
}

/// Whether the tools these tests need besides the engine's are here.
fn tools() -> bool {
    let nft = std::process::Command::new("nft").arg("--version").output();
    if !std::path::Path::new(PY).exists() || !nft.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIP: these tests need {PY} and nft");
        return false;
    }
    true
}

/// A UDP echo server on every port named in argv: it answers `<its port> <sender's
/// address> <payload>`.
const UDP_ECHO: &str = r#"
import selectors, socket, sys
sel = selectors.DefaultSelector()
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(p)))
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        data, peer = s.recvfrom(2048)
        s.sendto(b"%d %s %s" % (s.getsockname()[1], peer[0].encode(), data), peer)
"#;

/// Sends one datagram to argv[1]:argv[2] and prints the answer, `timeout` or `refused`.
const UDP_ASK: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.5)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
try:
    print(s.recvfrom(2048)[0].decode())
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
"#;

/// A one-line TCP server on argv[1]: it sends the client's address and closes.
const TCP_WHO: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
while True:
    c, a = s.accept()
    c.sendall((a[0] + "\n").encode())
    c.close()
"#;

/// Connects to argv[1]:argv[2] and prints what the server says, or the error.
const TCP_ASK: &str = r#"
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)
    print(c.recv(100).decode().strip())
except OSError as e:
    print("error", e)
"#;

/// Every element of every set and map in berth's table, by set name (`nft -j` as the
/// witness). Panics when the table cannot be listed.
fn nft_elements(d: &Daemon) -> BTreeMap<String, BTreeSet<String>> {
    let o = d.ns(&["nft", "-j", "list", "table", "inet", "berth"]);
    assert!(o.status.success(), "nft -j list table: {}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("nft -j output is JSON");
    let mut out = BTreeMap::new();
    for obj in v["nftables"].as_array().into_iter().flatten() {
        for kind in ["set", "map"] {
            if let Some(s) = obj.get(kind) {
                let name = s["name"].as_str().unwrap_or_default().to_string();
                let elems: BTreeSet<String> = s["elem"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(Value::to_string)
                    .collect();
                out.insert(name, elems);
            }
        }
    }
    out
}

/// The elements in `now` that `before` lacks, as `set: element` lines.
fn added(
    before: &BTreeMap<String, BTreeSet<String>>,
    now: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let none = BTreeSet::new();
    now.iter()
        .flat_map(|(set, elems)| {
            let was = before.get(set).unwrap_or(&none);
            elems
                .difference(was)
                .map(move |e| format!("{set}: {e}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Both ways: `+ set: element` for what `now` has more, `- set: element` for what it lacks.
fn diff(
    before: &BTreeMap<String, BTreeSet<String>>,
    now: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let plus = added(before, now).into_iter().map(|e| format!("+ {e}"));
    let minus = added(now, before).into_iter().map(|e| format!("- {e}"));
    plus.chain(minus).collect()
}

/// Asks `host:port` over UDP with `payload` from the daemon's netns.
fn udp_from_host(d: &Daemon, host: &str, port: &str, payload: &str) -> String {
    stdout(&d.ns(&[PY, "-c", UDP_ASK, host, port, payload]))
        .trim()
        .to_string()
}

fn udp_from(outside: &Outside, host: &str, port: &str, payload: &str) -> String {
    stdout(&outside.run(&[PY, "-c", UDP_ASK, host, port, payload]))
        .trim()
        .to_string()
}

fn tcp_from(outside: &Outside, host: &str, port: &str) -> String {
    stdout(&outside.run(&[PY, "-c", TCP_ASK, host, port]))
        .trim()
        .to_string()
}

fn ip_on(d: &Daemon, name: &str, net: &str) -> String {
    d.ok(&[
        "inspect",
        "-f",
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
        name,
    ])
}

#[test]
fn udp_published_ports_answer_outside_localhost_and_hairpin() {
    if !engine::usable() || !tools() {
        return;
    }
    let d = Daemon::start();
    let outside = Outside::new(&d);
    d.ok(&["network", "create", "--subnet", "10.91.0.0/24", "ud-net"]);
    let before = nft_elements(&d);

    let mut args = vec![
        "run",
        "-d",
        "--name",
        "ud-echo",
        "--network",
        "ud-net",
        "-p",
        "9053:5353/udp",
        "-p",
        "9100-9102:9100-9102/udp",
        "-p",
        "9200-9201:9110-9111/udp",
    ];
    let mounts = py_mounts();
    args.extend(mounts.iter().map(String::as_str));
    args.extend_from_slice(&[
        "busybox", PY, "-c", UDP_ECHO, "5353", "9100", "9101", "9102", "9110", "9111",
    ]);
    d.ok(&args);
    let ip = ip_on(&d, "ud-echo", "ud-net");
    assert!(
        eventually(Duration::from_secs(10), || d
            .ok(&["logs", "ud-echo"])
            .contains("ready")),
        "the echo server did not start: {}",
        d.ok(&["logs", "ud-echo"])
    );

    // The outside client: echoed, and the container saw its real address.
    let mut got = String::new();
    let answered = eventually(Duration::from_secs(5), || {
        got = udp_from(&outside, "198.51.100.1", "9053", "out");
        got.starts_with("5353 ")
    });
    assert!(answered, "the outside client got no answer: {got}");
    assert_eq!(
        got, "5353 198.51.100.2 out",
        "the container should see the outside client's address"
    );
    // A range, and a range mapped onto other container ports: each host port reaches its
    // own container port.
    for (host, cport) in [
        ("9100", "9100"),
        ("9101", "9101"),
        ("9102", "9102"),
        ("9200", "9110"),
        ("9201", "9111"),
    ] {
        let got = udp_from(&outside, "198.51.100.1", host, "r");
        assert_eq!(got, format!("{cport} 198.51.100.2 r"), "host port {host}");
    }
    // A port nobody published: no answer.
    let got = udp_from(&outside, "198.51.100.1", "9103", "x");
    assert!(!got.contains(" x"), "unpublished port 9103 answered: {got}");

    // The host itself, on 127.0.0.1 and on its own address.
    let got = udp_from_host(&d, "127.0.0.1", "9053", "lo");
    assert!(
        got.starts_with("5353 ") && got.ends_with(" lo"),
        "127.0.0.1: {got}"
    );
    let got = udp_from_host(&d, "198.51.100.1", "9101", "self");
    assert!(
        got.starts_with("9101 ") && got.ends_with(" self"),
        "host address: {got}"
    );

    // Another container, through the host's address (hairpin).
    let mut args = vec!["run", "--rm", "--name", "ud-client", "--network", "ud-net"];
    args.extend(mounts.iter().map(String::as_str));
    args.extend_from_slice(&["busybox", PY, "-c", UDP_ASK, "198.51.100.1", "9053", "pin"]);
    let got = d.ok(&args);
    assert!(
        got.starts_with("5353 ") && got.ends_with(" pin"),
        "hairpin: {got}"
    );

    // The published ports are elements (one per host port), and removal takes them out:
    // berth's sets are as before, nothing names the container's address, and the outside
    // client's datagram is no longer answered.
    let with = nft_elements(&d);
    let extra = added(&before, &with);
    assert_eq!(extra.len(), 6, "one element per published port: {extra:#?}");
    let quoted = format!("\"{ip}\"");
    assert!(extra.iter().all(|e| e.contains(&quoted)), "{extra:#?}");
    d.ok(&["rm", "-f", "ud-echo"]);
    let mut now = BTreeMap::new();
    let clean = eventually(Duration::from_secs(5), || {
        now = nft_elements(&d);
        now == before
    });
    assert!(clean, "after rm -f: {:#?}", diff(&before, &now));
    for host in ["9053", "9100", "9200"] {
        let got = udp_from(&outside, "198.51.100.1", host, "gone");
        assert!(!got.contains("gone"), "port {host} still answers: {got}");
    }
    d.ok(&["network", "rm", "ud-net"]);
    d.ns(&["ip", "link", "del", "bt-up"]);
}

#[test]
fn removing_a_container_takes_only_its_published_ports_away() {
    if !engine::usable() || !tools() {
        return;
    }
    let d = Daemon::start();
    let outside = Outside::new(&d);
    let before = nft_elements(&d);
    // Two TCP servers on the default bridge: `pr-gone` publishes on every host address and
    // on one (pub_addr4), plus a UDP port; `pr-stay` keeps its own port.
    let mounts = py_mounts();
    let server = |name: &str, ports: &[&str]| {
        let mut args = vec!["run", "-d", "--name", name];
        for p in ports {
            args.extend_from_slice(&["-p", p]);
        }
        args.extend(mounts.iter().map(String::as_str));
        args.extend_from_slice(&["busybox", PY, "-c", TCP_WHO, "80"]);
        d.ok(&args);
    };
    server(
        "pr-gone",
        &["8301:80", "198.51.100.1:8302:80", "8303:80/udp"],
    );
    server("pr-stay", &["8304:80"]);
    let gone_ip = ip_on(&d, "pr-gone", "bridge");
    let stay_ip = ip_on(&d, "pr-stay", "bridge");
    for port in ["8301", "8302", "8304"] {
        let mut got = String::new();
        let ok = eventually(Duration::from_secs(10), || {
            got = tcp_from(&outside, "198.51.100.1", port);
            got == "198.51.100.2"
        });
        assert!(
            ok,
            "port {port} should answer with the client's address: {got}"
        );
    }
    let with = nft_elements(&d);
    let extra = added(&before, &with);
    let names = |e: &String, ip: &str| e.contains(&format!("\"{ip}\""));
    let of = |ip: &str| extra.iter().filter(|e| names(e, ip)).count();
    assert_eq!(
        (of(&gone_ip), of(&stay_ip), extra.len()),
        (3, 1, 4),
        "{extra:#?}"
    );
    assert!(
        extra
            .iter()
            .any(|e| e.starts_with("pub_addr4") && names(e, &gone_ip)),
        "the address-bound port is in pub_addr4: {extra:#?}"
    );

    d.ok(&["rm", "-f", "pr-gone"]);
    let mut now = BTreeMap::new();
    let clean = eventually(Duration::from_secs(5), || {
        now = nft_elements(&d);
        added(&before, &now).len() == 1
    });
    let left = added(&before, &now);
    assert!(
        clean && names(&left[0], &stay_ip),
        "after rm -f pr-gone, only pr-stay's element should be left: {:#?}",
        diff(&before, &now)
    );
    for port in ["8301", "8302"] {
        let got = tcp_from(&outside, "198.51.100.1", port);
        assert!(got.starts_with("error"), "port {port} still answers: {got}");
    }
    assert_eq!(tcp_from(&outside, "198.51.100.1", "8304"), "198.51.100.2");
    d.ok(&["rm", "-f", "pr-stay"]);
    let clean = eventually(Duration::from_secs(5), || {
        now = nft_elements(&d);
        now == before
    });
    assert!(clean, "after rm -f: {:#?}", diff(&before, &now));
    d.ns(&["ip", "link", "del", "bt-up"]);
}

/// What the daemon's netns holds that a network could leave behind.
#[derive(Debug, PartialEq)]
struct Leftovers {
    veths: Vec<String>,
    addrs: Vec<String>,
    routes: Vec<String>,
    nft: BTreeMap<String, BTreeSet<String>>,
}

fn leftovers(d: &Daemon) -> Leftovers {
    let lines = |args: &[&str]| -> Vec<String> {
        stdout(&d.ns(args))
            .lines()
            .map(|l| l.trim().to_string())
            .collect()
    };
    Leftovers {
        veths: lines(&["ip", "-o", "link", "show", "type", "veth"]),
        addrs: lines(&["ip", "-o", "addr", "show"]),
        routes: [
            lines(&["ip", "route", "show", "table", "all"]),
            lines(&["ip", "-6", "route", "show", "table", "all"]),
        ]
        .concat(),
        nft: nft_elements(d),
    }
}

const SCALE: usize = 200;
const WORKERS: usize = 6;

#[test]
fn two_hundred_containers_on_one_network_are_all_reachable_and_leave_nothing() {
    if !engine::usable() || !tools() {
        return;
    }
    let d = Daemon::start();
    let before = leftovers(&d);
    let subnet = "10.95.0.0/24";
    let create_net = || {
        d.ok(&[
            "network",
            "create",
            "--subnet",
            subnet,
            "-o",
            "com.docker.network.bridge.name=sc-br",
            "sc-net",
        ]);
    };
    create_net();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "sc-pinger",
        "--network",
        "sc-net",
        "busybox",
        "sleep",
        "900",
    ]);

    // 200 `run -d`, by a few docker CLIs at once.
    let t0 = Instant::now();
    let names: Vec<String> = (0..SCALE).map(|i| format!("sc-{i:03}")).collect();
    std::thread::scope(|s| {
        for w in 0..WORKERS {
            let (d, names) = (&d, &names);
            s.spawn(move || {
                for name in names.iter().skip(w).step_by(WORKERS) {
                    d.ok(&[
                        "run",
                        "-d",
                        "--name",
                        name,
                        "--network",
                        "sc-net",
                        "busybox",
                        "sleep",
                        "900",
                    ]);
                }
            });
        }
    });
    eprintln!("{SCALE} containers started in {:?}", t0.elapsed());

    // Every one has its own address on the network and a port on the bridge.
    let eps = d.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}}={{.IPv4Address}} {{end}}",
        "sc-net",
    ]);
    let ips: BTreeMap<String, String> = eps
        .split_whitespace()
        .filter_map(|e| e.split_once('='))
        .map(|(n, a)| (n.to_string(), a.trim_end_matches("/24").to_string()))
        .collect();
    assert_eq!(ips.len(), SCALE + 1, "endpoints: {eps}");
    let distinct: BTreeSet<&String> = ips.values().collect();
    assert_eq!(distinct.len(), SCALE + 1, "an address twice: {ips:?}");
    assert!(ips.values().all(|ip| ip.starts_with("10.95.0.")), "{ips:?}");
    let ports = stdout(&d.ns(&["ip", "-o", "link", "show", "master", "sc-br"]));
    assert_eq!(ports.lines().count(), SCALE + 1, "bridge ports:\n{ports}");
    // The witness used below sees the network while it is there.
    let during = leftovers(&d);
    assert_eq!(during.veths.len(), before.veths.len() + SCALE + 1);
    assert!(during.addrs.iter().any(|a| a.contains("10.95.0.1/24")));
    assert!(during.routes.iter().any(|r| r.starts_with("10.95.0.0/24")));
    let elems = added(&before.nft, &during.nft);
    assert!(
        elems.iter().any(|e| e.contains("sc-br")) && elems.iter().any(|e| e.contains("10.95.0.0")),
        "the network's nft elements: {elems:#?}"
    );

    // All reachable: one container pings every other one (a second try before FAIL).
    let t0 = Instant::now();
    let targets: Vec<&str> = names.iter().map(|n| ips[n].as_str()).collect();
    let script = format!(
        "for ip in {}; do busybox ping -c1 -W1 $ip >/dev/null 2>&1 || busybox ping -c1 -W2 $ip >/dev/null 2>&1 || echo FAIL $ip; done; echo done",
        targets.join(" ")
    );
    let out = d.ok(&["exec", "sc-pinger", "sh", "-c", &script]);
    assert!(
        out.ends_with("done") && !out.contains("FAIL"),
        "unreachable:\n{out}"
    );
    eprintln!("{SCALE} pinged in {:?}", t0.elapsed());
    // Names resolve through the network's DNS, for a sample.
    for name in ["sc-000", "sc-001", "sc-099", "sc-150", "sc-199"] {
        let o = d.docker(&[
            "exec",
            "sc-pinger",
            "busybox",
            "nslookup",
            &format!("{name}."),
        ]);
        let got = format!("{}{}", stdout(&o), stderr(&o));
        let want = format!("Address: {}", ips[name]);
        assert!(
            got.lines().any(|l| l.trim() == want),
            "{name} should resolve to {}: {got}",
            ips[name]
        );
    }

    // Remove them all; their addresses are free again while the network stays.
    let t0 = Instant::now();
    let mut rm = vec!["rm", "-f", "sc-pinger"];
    rm.extend(names.iter().map(String::as_str));
    d.ok(&rm);
    eprintln!("{} containers removed in {:?}", SCALE + 1, t0.elapsed());
    assert_eq!(d.all_ids(), Vec::<String>::new(), "records left");
    assert_eq!(
        d.ok(&["network", "inspect", "-f", "{{len .Containers}}", "sc-net"]),
        "0"
    );
    for name in ["sc-000", "sc-pinger", "sc-199"] {
        d.ok(&[
            "run",
            "--rm",
            "--network",
            "sc-net",
            "--ip",
            &ips[name],
            "busybox",
            "true",
        ]);
    }
    d.ok(&["network", "rm", "sc-net"]);

    // Nothing remains: no veth, bridge, address, route or nft element of the network.
    let gone = |d: &Daemon| {
        let mut now = leftovers(d);
        let ok = eventually(Duration::from_secs(30), || {
            now = leftovers(d);
            now == before
        });
        assert!(
            ok,
            "left behind:\nveths {:?}\naddrs {:?}\nroutes {:?}\nnft {:#?}",
            now.veths,
            now.addrs
                .iter()
                .filter(|a| !before.addrs.contains(a))
                .collect::<Vec<_>>(),
            now.routes
                .iter()
                .filter(|a| !before.routes.contains(a))
                .collect::<Vec<_>>(),
            diff(&before.nft, &now.nft),
        );
        let br = d.ns(&["ip", "link", "show", "dev", "sc-br"]);
        assert!(!br.status.success(), "bridge sc-br is still there");
    };
    gone(&d);

    // The same subnet and bridge name again: the first address, reachable.
    create_net();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "sc-again",
        "--network",
        "sc-net",
        "busybox",
        "sleep",
        "900",
    ]);
    assert_eq!(ip_on(&d, "sc-again", "sc-net"), "10.95.0.2");
    let ping = d.ns(&["busybox", "ping", "-c1", "-W2", "10.95.0.2"]);
    assert!(ping.status.success(), "ping sc-again: {}", stdout(&ping));
    d.ok(&["rm", "-f", "sc-again"]);
    d.ok(&["network", "rm", "sc-net"]);
    gone(&d);
}
