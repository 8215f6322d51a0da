//! Unpack throughput: `cargo run --release -p berth-image --example unpack_speed LAYER DIR [N]`
//! unpacks the layer (tar, tar.gz or tar.zst) N times (default 3) into fresh directories
//! under DIR and prints the median time and the uncompressed MB/s.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: unpack_speed LAYER DIR [N]");
        std::process::exit(2);
    }
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut times = Vec::new();
    let mut size = 0;
    for i in 0..n {
        let dest = std::path::Path::new(&args[2]).join(format!("unpack-speed-{i}"));
        let file = std::fs::File::open(&args[1]).expect("opening the layer");
        let t = Instant::now();
        let out = berth_image::unpack::unpack_layer(file, &dest, None).expect("unpacking");
        times.push(t.elapsed().as_secs_f64());
        size = out.size;
        std::fs::remove_dir_all(&dest).expect("removing the unpacked layer");
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{} MB uncompressed, median {:.3} s, {:.0} MB/s",
        size / 1_000_000,
        median,
        size as f64 / median / 1e6
    );
}
