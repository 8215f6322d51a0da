//! In-process network setup/teardown timing (what the engine pays per container, with no
//! process start): run by bench/net/run.sh. Runs in its own fresh "host" netns; each
//! container netns is made by a thread's unshare and held only by an fd.
//! Usage: netbench N SCALE

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use berth_net::{Endpoint, Network, PortMapping, Protocol, Request};
use nix::sched::{unshare, CloneFlags};

fn new_netns() -> OwnedFd {
    std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare netns");
        OwnedFd::from(std::fs::File::open("/proc/thread-self/ns/net").expect("open netns"))
    })
    .join()
    .expect("netns thread")
}

fn req(net: &Network, i: u32, ports: bool) -> Request {
    let ip = Ipv4Addr::from(u32::from(net.subnet.addr) + 10 + i);
    Request {
        network: net.clone(),
        endpoint: Endpoint {
            container_id: format!("c{i}"),
            interface: "eth0".into(),
            ip,
            ip6: None,
            mac: None,
            ports: if ports {
                vec![PortMapping {
                    host_ip: None,
                    host_port: 8080,
                    container_port: 80,
                    protocol: Protocol::Tcp,
                    range: 1,
                }]
            } else {
                vec![]
            },
            default_route: true,
        },
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(40);
    let scale = args.get(1).copied().unwrap_or(1000);
    unshare(CloneFlags::CLONE_NEWNET).expect("a fresh host netns (needs root)");
    let net = Network {
        name: "bench".into(),
        bridge: "bbench".into(),
        subnet: "10.50.0.0/16".parse().expect("subnet"),
        gateway: Ipv4Addr::new(10, 50, 0, 1),
        internal: false,
        mtu: 1500,
        subnet6: None,
        gateway6: None,
    };
    let table = berth_net::DEFAULT_TABLE;
    // warm-up: the bridge and the table
    let warm = new_netns();
    berth_net::setup(&req(&net, 60000, false), warm.as_fd(), table).expect("warm-up setup");

    for ports in [false, true] {
        let (mut s, mut t, mut ns_make) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let t0 = Instant::now();
            let ns = new_netns();
            ns_make.push(ms(t0));
            let r = req(&net, i, ports);
            let t1 = Instant::now();
            berth_net::setup(&r, ns.as_fd(), table).expect("setup");
            s.push(ms(t1));
            let t2 = Instant::now();
            berth_net::teardown(&r, table, false).expect("teardown");
            t.push(ms(t2));
            drop(ns);
        }
        let (ms_s, ms_t) = (median(&mut s), median(&mut t));
        println!(
            "| berth (in-process) | {} | {ms_s:.2} | {ms_t:.2} | {:.2} | netns create {:.2} |",
            u8::from(ports),
            ms_s + ms_t,
            median(&mut ns_make)
        );
    }

    if scale > 0 {
        let mut keep = Vec::new();
        let mut times = Vec::new();
        for i in 0..scale {
            let ns = new_netns();
            let r = req(&net, 1000 + i, false);
            let t0 = Instant::now();
            berth_net::setup(&r, ns.as_fd(), table).expect("setup at scale");
            times.push(ms(t0));
            keep.push(ns);
        }
        let at = |a: usize, b: usize| {
            median(&mut times[a.min(times.len())..b.min(times.len())].to_vec())
        };
        let s = scale as usize;
        println!(
            "| berth (in-process) | {:.2} | {:.2} | {:.2} |",
            at(0, 10),
            at(90, 110),
            at(s.saturating_sub(10), s)
        );
    }
}
