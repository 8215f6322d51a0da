//! Security options through the real docker CLI: the default seccomp profile (what the kernel
//! alone would allow is refused), `seccomp=unconfined`, `--privileged`, a user's profile
//! file, capabilities opening their syscalls, and no-new-privileges.

mod engine;

use engine::{fails, stderr, Daemon};

/// Creating a user namespace needs no capability, so only seccomp can refuse it.
const NEW_USERNS: [&str; 4] = ["busybox", "unshare", "-U", "true"];

fn run(d: &Daemon, opts: &[&str], cmd: &[&str]) -> std::process::Output {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend(opts);
    args.push("busybox");
    args.extend(cmd);
    d.docker(&args)
}

#[test]
fn default_seccomp_profile_refuses_what_capabilities_do_not_cover() {
    if !engine::usable() {
        return;
    }
    if std::fs::read_to_string("/proc/sys/user/max_user_namespaces").is_ok_and(|n| n.trim() == "0")
    {
        eprintln!("SKIP: user namespaces are disabled on this kernel");
        return;
    }
    let d = Daemon::start();
    // The kernel would let any process make a user namespace; the profile does not.
    let out = run(&d, &[], &NEW_USERNS);
    assert!(!out.status.success(), "unshare -U was allowed");
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
    // The container says it is filtered.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert!(
        out.ends_with('2'),
        "Seccomp mode should be 2 (filter): {out}"
    );
    // Unconfined, and privileged: allowed, no filter.
    for opts in [
        &["--security-opt", "seccomp=unconfined"][..],
        &["--privileged"],
    ] {
        let out = run(&d, opts, &NEW_USERNS);
        assert!(out.status.success(), "{opts:?}: {}", stderr(&out));
        let out = run(
            &d,
            opts,
            &["busybox", "grep", "Seccomp:", "/proc/self/status"],
        );
        assert!(
            engine::stdout(&out).trim().ends_with('0'),
            "{opts:?}: {}",
            engine::stdout(&out)
        );
    }
    // A process exec'd into a running container gets the container's filter too.
    let id = d.ok(&["run", "-d", "--network", "none", "busybox", "sleep", "600"]);
    let mut exec = vec!["exec", id.as_str()];
    exec.extend(NEW_USERNS);
    let out = d.docker(&exec);
    assert!(!out.status.success(), "unshare -U was allowed in exec");
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
    d.ok(&["rm", "-f", &id]);
    // Everyday work is untouched: threads, pipes, files, sockets, clone for a fork.
    assert_eq!(
        d.ok(&[
            "run", "--rm", "--network", "none", "busybox", "sh", "-c",
            "mkdir /t && echo ok > /t/f && cat /t/f | busybox wc -c && (sleep 0; true) && busybox ping -c1 -W1 127.0.0.1 >/dev/null && echo done",
        ]),
        "3\ndone"
    );
}

#[test]
fn capabilities_open_their_syscalls_and_a_user_profile_is_applied() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    // mount(2) needs CAP_SYS_ADMIN from the kernel and from the profile.
    let mount = ["sh", "-c", "mkdir /m && busybox mount -t tmpfs t /m"];
    let out = run(&d, &[], &mount);
    assert!(!out.status.success(), "mount without CAP_SYS_ADMIN");
    let out = run(&d, &["--cap-add", "SYS_ADMIN"], &mount);
    assert!(out.status.success(), "{}", stderr(&out));
    // --cap-drop: the kernel refuses chown.
    let out = run(
        &d,
        &["--cap-drop", "CHOWN", "-u", "0"],
        &["busybox", "chown", "1:1", "/bin"],
    );
    assert!(!out.status.success(), "chown without CAP_CHOWN");

    // A docker-format profile file: everything allowed but mkdir.
    let profile = d.dir.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = run(&d, &["--security-opt", &opt], &["mkdir", "/x"]);
    assert!(!out.status.success(), "mkdir under a no-mkdir profile");
    assert!(
        stderr(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
    let out = run(&d, &["--security-opt", &opt], &["touch", "/x"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A broken profile is refused at create, saying why.
    std::fs::write(&profile, r#"{"syscalls": []}"#).unwrap();
    fails(
        &run(&d, &["--security-opt", &opt], &["true"]),
        "invalid seccomp profile",
    );
    assert!(
        d.all_ids().is_empty(),
        "a refused container was left behind"
    );

    // no-new-privileges reaches the process.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "busybox",
        "grep",
        "NoNewPrivs:",
        "/proc/self/status",
    ]);
    assert!(out.ends_with('1'), "{out}");
}

#[test]
fn exec_privileged_gets_every_capability_and_plain_exec_the_containers() {
    if !engine::usable() {
        return;
    }
    let d = Daemon::start();
    let caps = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["busybox", "grep", "CapEff", "/proc/self/status"]);
        d.ok(&a)
    };
    let id = d.ok(&["run", "-d", "--network", "none", "busybox", "sleep", "600"]);
    let full = caps(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--privileged",
        "busybox",
    ]);
    let plain = caps(&["exec", &id]);
    assert_ne!(plain, full);
    assert_eq!(
        plain,
        caps(&["run", "--rm", "--network", "none", "busybox"])
    );
    assert_eq!(caps(&["exec", "--privileged", &id]), full);
    d.ok(&["rm", "-f", &id]);
}
