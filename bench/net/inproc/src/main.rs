//! berth-net's setup and teardown as the engine calls them (in-process: no process start, no
//! nsenter), timed with 1, 100, 1000... containers already attached to one network. Runs in
//! its own fresh "host" netns (unshare), so the host is never touched; each container netns is
//! made by a thread's unshare and held only by an fd, so dropping it frees it.
//!
//! Usage: bench-net-inproc CYCLES LEVEL...   (levels ascending, e.g. `20 1 100 1000`)
//! Prints one line per level: `LEVEL SETUP_MS TEARDOWN_MS FILL_MS` (medians of CYCLES attach +
//! detach of a fresh container; FILL_MS: median setup of the containers added to reach LEVEL).

use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use berth_net::Request;
use nix::sched::{unshare, CloneFlags};

const TABLE: &str = "berth";

/// An experiment, to see what IPv6's link-local traffic (DAD, router and MLD solicitations,
/// flooded by the bridge to every port) costs at scale: BENCH_NO_IPV6=host turns IPv6 off in
/// the "host" netns (bridge and host-side veths), =containers in every container netns, =1 in
/// both; always before any link exists.
fn no_ipv6_in(which: &str) -> bool {
    match std::env::var("BENCH_NO_IPV6").as_deref() {
        Ok("1") => true,
        Ok(v) => v == which,
        Err(_) => false,
    }
}

/// Turns IPv6 off in the calling thread's netns (/proc/sys/net is the opener's netns).
fn disable_ipv6() {
    for conf in ["all", "default"] {
        std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"),
            "1",
        )
        .ok();
    }
}

fn new_netns() -> OwnedFd {
    std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare netns");
        if no_ipv6_in("containers") {
            disable_ipv6();
        }
        OwnedFd::from(std::fs::File::open("/proc/thread-self/ns/net").expect("open netns"))
    })
    .join()
    .expect("netns thread")
}

/// The same JSON `berth net setup` reads (bench/net/run.sh's request for berth): container i on
/// 10.60.0.0/16, no published ports. Built as JSON so this helper follows the CLI's contract.
fn request(i: u32) -> Request {
    let ip = format!("10.60.{}.{}", (i + 2) / 250, (i + 2) % 250 + 2);
    let json = format!(
        r#"{{"network":{{"name":"bench","bridge":"bbench","subnet":"10.60.0.0/16","gateway":"10.60.0.1"}},"endpoint":{{"container_id":"c{i}","ip":"{ip}","ports":[]}}}}"#
    );
    serde_json::from_str(&json).expect("request JSON")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: bench-net-inproc CYCLES LEVEL..."))
        .collect();
    let (cycles, levels) = args.split_first().expect("usage: bench-net-inproc CYCLES LEVEL...");
    unshare(CloneFlags::CLONE_NEWNET).expect("a fresh host netns (needs root)");
    if no_ipv6_in("host") {
        disable_ipv6();
    }

    // The containers kept attached; the first one also makes the bridge and the table.
    let mut kept: Vec<OwnedFd> = Vec::new();
    let mut next = 0u32; // container numbers 0.. are kept ones, 60000.. the timed ones
    let mut timed = 60000u32; // a new id per timed cycle: the host veth is named after it
    for &level in levels {
        let mut fill = Vec::new();
        while kept.len() < level as usize {
            let ns = new_netns();
            let t = Instant::now();
            berth_net::setup(&request(next), ns.as_fd(), TABLE).expect("setup (fill)");
            fill.push(ms(t));
            next += 1;
            kept.push(ns);
        }
        let (mut s, mut d) = (Vec::new(), Vec::new());
        for _ in 0..*cycles {
            let ns = new_netns();
            timed += 1;
            let r = request(timed);
            let t0 = Instant::now();
            berth_net::setup(&r, ns.as_fd(), TABLE).expect("setup");
            let t1 = Instant::now();
            s.push(t1.duration_since(t0).as_secs_f64() * 1000.0);
            berth_net::teardown(&r, TABLE, false).expect("teardown");
            d.push(ms(t1));
            drop(ns); // the kernel reaps the veth with the netns, as in the engine
        }
        // the fill's last containers (at most 20) are the ones nearest this level
        let tail = fill.len().saturating_sub(20);
        println!(
            "{level} {:.3} {:.3} {:.3}",
            median(&mut s),
            median(&mut d),
            median(&mut fill[tail..])
        );
    }
}
