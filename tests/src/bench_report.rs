//! The bench's measuring helpers (percentiles, a process's CPU and memory
//! from /proc), `--compare` (the TLS and plain results side by side) and
//! `--callgrind`: kept apart from `src/bin/bench.rs` so the driver stays
//! about its steps.

// Bench support: a panic is how it reports a broken setup.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{json, Value};

use crate::lambda_env::{LambdaEnv, RunOptions};
use crate::Env;

/// The `p` quantile of sorted samples (nearest rank); NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// n, p50, p90, p99 and max of the samples, as JSON.
pub fn summary(mut v: Vec<f64>) -> Value {
    v.sort_by(|a, b| a.total_cmp(b));
    json!({ "n": v.len(), "p50": percentile(&v, 0.5), "p90": percentile(&v, 0.9),
            "p99": percentile(&v, 0.99), "max": v.last().copied().unwrap_or(f64::NAN) })
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Total on-CPU time of a process, all threads, in nanoseconds
/// (`/proc/<pid>/task/*/schedstat`, first field: ns resolution).
pub fn cpu_ns(pid: u32) -> u64 {
    let mut total = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            total += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// User and system CPU time of a process so far, in ms (`/proc/<pid>/stat`
/// utime and stime: clock ticks of 10 ms, so only sums over many calls say
/// anything).
pub fn user_system_ms(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse::<f64>().unwrap_or(f64::NAN) * 10.0)
        .collect();
    (
        f.first().copied().unwrap_or(f64::NAN),
        f.get(1).copied().unwrap_or(f64::NAN),
    )
}

/// Peak resident set size in MB (`VmHWM`).
pub fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// `--compare`: the headline figures of `target/bench/results-tls.json` and
/// `results-plain.json` side by side (bench.sh runs both transports first).
pub fn compare() {
    let dir = crate::repo_root().join("target/bench");
    let load = |t: &str| -> Value {
        std::fs::read_to_string(dir.join(format!("results-{t}.json")))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null)
    };
    let (tls, plain) = (load("tls"), load("plain"));
    let rows: [(&str, &str); 16] = [
        (
            "cold, warm-up on: spawn → first poll p50 ms",
            "/cold_start_warm_up_on/spawn_to_first_poll_ms/p50",
        ),
        (
            "cold, warm-up on: spawn → first injection p50 ms",
            "/cold_start_warm_up_on/spawn_to_first_injection_ms/p50",
        ),
        (
            "cold, warm-up on: CPU to first injection p50 ms",
            "/cold_start_warm_up_on/cpu_ms_spawn_to_first_injection/p50",
        ),
        (
            "cold, warm-up off: spawn → first poll p50 ms",
            "/cold_start_warm_up_off/spawn_to_first_poll_ms/p50",
        ),
        (
            "cold, warm-up off: spawn → first injection p50 ms",
            "/cold_start_warm_up_off/spawn_to_first_injection_ms/p50",
        ),
        (
            "cold, warm-up off: CPU to first injection p50 ms",
            "/cold_start_warm_up_off/cpu_ms_spawn_to_first_injection/p50",
        ),
        (
            "2nd injection, new upstream host p50 ms",
            "/cold_start_warm_up_on/second_injection_new_upstream_host_ms/p50",
        ),
        (
            "3rd injection, same host p50 ms",
            "/cold_start_warm_up_on/third_injection_same_host_ms/p50",
        ),
        ("warm latency p50 ms", "/warm/latency_ms/p50"),
        ("warm latency p99 ms", "/warm/latency_ms/p99"),
        (
            "warm CPU per injection p50 ms",
            "/warm/cpu_ms_per_injection/p50",
        ),
        (
            "warm CPU per injection p99 ms",
            "/warm/cpu_ms_per_injection/p99",
        ),
        (
            "reconnect CPU per injection p50 ms",
            "/reconnect/cpu_ms_per_injection/p50",
        ),
        (
            "reconnect: resumed / full upstream handshakes",
            "/reconnect/upstream_handshakes_resumed",
        ),
        ("peak RSS MB", "/warm/peak_rss_mb"),
        ("100 concurrent p50 ms", "/scaling/100/latency_ms/p50"),
    ];
    let fmt = |v: Option<&Value>| match v.and_then(Value::as_f64) {
        Some(x) => format!("{x:.2}"),
        None => "-".to_owned(),
    };
    println!("{:<52} {:>10} {:>10}", "figure", "TLS", "plain");
    for (label, ptr) in rows {
        let (a, b) = (fmt(tls.pointer(ptr)), fmt(plain.pointer(ptr)));
        let (a, b) = if ptr.ends_with("resumed") {
            let full = |r: &Value| fmt(r.pointer("/reconnect/upstream_handshakes_full"));
            (
                format!("{a}/{}", full(&tls)),
                format!("{b}/{}", full(&plain)),
            )
        } else {
            (a, b)
        };
        println!("{label:<52} {a:>10} {b:>10}");
    }
}

/// Instructions per warm injection, counted by callgrind over `n`
/// injections of the `profiling` build (release with symbols). Counting is
/// switched on only after the sandbox is warm, so init and the first
/// AssumeRole are excluded. Writes `target/bench/callgrind.out.*` and
/// prints the top functions by inclusive cost.
pub async fn callgrind(env: &Env, mut o: RunOptions, ev: &Value, n: usize) {
    let dir = crate::repo_root().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("callgrind.out.%p");
    o.profile = "profiling";
    o.inject_wrapper = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        &format!("--callgrind-out-file={}", out.display()),
    ]
    .map(String::from)
    .to_vec();
    let lambda = LambdaEnv::start_with(env, &o).await;
    for _ in 0..20 {
        assert_eq!(lambda.invoke("inject", ev).await["ok"], true);
    }
    let pid = lambda.runner().pids_of("inject")[0].to_string();
    let control = |args: &[&str]| {
        let ok = std::process::Command::new("callgrind_control")
            .args(args)
            .arg(&pid)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "callgrind_control {args:?} failed");
    };
    control(&["--instr=on"]);
    for _ in 0..n {
        assert_eq!(lambda.invoke("inject", ev).await["ok"], true);
    }
    control(&["--dump"]);
    lambda.stop().await;
    let dump = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("callgrind.out.{pid}")))
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .expect("callgrind wrote a dump");
    let text = std::fs::read_to_string(&dump).unwrap();
    let total: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:").or(l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    println!(
        "callgrind: {:.0} instructions per warm injection (n = {n}); dump: {}",
        total / n as f64,
        dump.display()
    );
    let annotate = std::process::Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=99"])
        .arg(&dump)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&annotate.stdout);
    for line in report.lines().take(80) {
        println!("{line}");
    }
}
