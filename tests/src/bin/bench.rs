//! `bash tests/bench.sh`: the broker's speed and memory figures, against the
//! local stack and a local upstream, through the real release `inject`
//! binary under lambda-runner. Prints a report and writes
//! `target/bench/results.json`. Figures are medians/percentiles over repeated
//! runs; nothing here asserts a time (docs/BENCHMARKS.md has the targets).
//!
//! Figures are for the stack's transport (TLS unless the stack was started
//! with `KEYBROKER_STACK_TLS=0`) and go to `target/bench/results-tls.json` or
//! `results-plain.json`; `--compare` prints the two side by side.
//!
//! `--quick` shrinks the repetitions for a smoke run; `--warm-only` prints
//! the warm figures alone (for A/B runs of one setting), `--cold-only` the
//! cold starts with the warm-up on and off. `--callgrind` instead counts
//! instructions per warm injection under valgrind (the `profiling` build)
//! and prints where they go. The load test (`keybroker_tests::load`, scale
//! from `KEYBROKER_LOAD`) runs last; `--no-load` skips it, `--load-only`
//! runs it alone and writes `target/bench/load-<transport>.json`. Each step
//! is recorded whatever happens to the others (`bench_steps`).

// Bench driver: a panic is how it reports a broken setup.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use keybroker_tests::bench_report::{
    callgrind, compare, cpu_ns, ms, peak_rss_mb, summary, user_system_ms,
};
use keybroker_tests::bench_steps::Steps;
use keybroker_tests::lambda_env::{LambdaEnv, RunOptions, Upstream};
use keybroker_tests::{setup, Env};
use serde_json::{json, Value};

const AGENT: &str = "bench-agent";

struct Fixture {
    env: Env,
    up: Upstream,
    /// A second bound host, first contacted after the sandbox is warm: its
    /// extra cost is the upstream handshake a pre-connect at init would save.
    up2: Upstream,
    ws: String,
}

/// A BYOK workspace with one bound secret and a permissive policy, set up
/// through the library (the admin function is not what is measured).
async fn fixture() -> Fixture {
    let env = setup().await;
    let up = Upstream::start().await;
    let up2 = Upstream::start().await;
    let ws = broker_core::WorkspaceId::new(keybroker_tests::unique("bench")).unwrap();
    env.onboard_customer(&ws).await;
    let binding: broker_core::Binding = serde_json::from_value(json!({
        "hosts": [up.addr.to_string(), up2.addr.to_string()],
        "inject": { "type": "header", "name": "Authorization", "template": "Bearer {secret}" }
    }))
    .unwrap();
    let value = broker_core::SecretValue::from_string("sk-bench-0123456789abcdef".into()).unwrap();
    env.broker
        .put_bound_secret(
            &ws,
            &broker_core::SecretName::new("api").unwrap(),
            &value,
            &binding,
        )
        .await
        .unwrap();
    env.broker
        .set_policy(
            &ws,
            &format!(r#"permit(principal == Agent::"{AGENT}", action, resource);"#),
        )
        .await
        .unwrap();
    Fixture {
        env,
        up,
        up2,
        ws: ws.to_string(),
    }
}

fn event(f: &Fixture) -> Value {
    event_to(f, &format!("{}/data", f.up.base()))
}

fn event_to(f: &Fixture, url: &str) -> Value {
    json!({ "workspace": f.ws, "secret": "api", "agent": AGENT,
            "request": { "method": "GET", "url": url } })
}

/// `tls` or `plain`: the local stack's transport (`KEYBROKER_STACK_TLS`).
fn transport() -> &'static str {
    if keybroker_tests::tls::enabled() {
        "tls"
    } else {
        "plain"
    }
}

fn opts(instances: usize) -> RunOptions {
    // The functions' injection limits: the deployment default unless the
    // bench is run with KEYBROKER_DEFAULT_LIMITS set (`off`, or both
    // counters), to measure what each costs (docs/BENCHMARKS.md).
    let limits = broker_core::BrokerConfig::DEFAULT_LIMITS_VAR;
    RunOptions {
        profile: "release",
        instances,
        rust_log: "warn",
        env: std::env::var(limits)
            .map(|v| vec![(limits.to_owned(), v)])
            .unwrap_or_default(),
        ..RunOptions::default()
    }
}

/// Fresh sandboxes, with the connection warm-up in init (`on`) or without
/// (`off`): spawn → first Runtime API poll (init), spawn → first completed
/// injection (what a caller of a cold function waits for, minus the
/// Invoke API hop), CPU spent by then; then one injection to a second bound
/// host (a fresh upstream handshake, AWS connections warm) and one more to
/// the first host (everything warm): their difference is what pre-connecting
/// to bound hosts at init would save on a first request.
async fn cold_starts(f: &Fixture, runs: usize, warm_up: &str) -> Value {
    let (mut to_poll, mut to_first, mut cpu_first) = (Vec::new(), Vec::new(), Vec::new());
    let (mut poll_to_first, mut new_host, mut warm_host) = (Vec::new(), Vec::new(), Vec::new());
    let (mut new_host_cpu, mut warm_host_cpu) = (Vec::new(), Vec::new());
    let mut o = opts(1);
    o.env.push(("KEYBROKER_WARM_UP".into(), warm_up.into()));
    let (ev, ev2) = (event(f), event_to(f, &format!("{}/data", f.up2.base())));
    for _ in 0..runs {
        let lambda = LambdaEnv::start_with(&f.env, &o).await;
        let sent = Instant::now();
        let r = lambda.invoke("inject", &ev).await;
        let done = Instant::now();
        assert_eq!(r["ok"], true, "{r}");
        let pid = lambda.runner().pids_of("inject")[0];
        cpu_first.push(cpu_ns(pid) as f64 / 1e6);
        // Both functions start; the inject instance is the one measured.
        let c = lambda
            .runner()
            .cold_starts()
            .into_iter()
            .find(|c| c.function == "inject")
            .expect("inject polled");
        // As a Lambda cold start: init, then the first invocation, timed from
        // when both it and the sandbox were ready. The harness's own set-up
        // between spawning `inject` and invoking it (it starts `admin` too,
        // as a session of its own role) is not the broker's and is left out.
        let first = done - sent.max(c.spawned + c.to_first_poll);
        to_poll.push(ms(c.to_first_poll));
        to_first.push(ms(c.to_first_poll + first));
        poll_to_first.push(ms(first));
        for (e, lat, cpu) in [
            (&ev2, &mut new_host, &mut new_host_cpu),
            (&ev, &mut warm_host, &mut warm_host_cpu),
        ] {
            let (c0, t0) = (cpu_ns(pid), Instant::now());
            assert_eq!(lambda.invoke("inject", e).await["ok"], true);
            lat.push(ms(t0.elapsed()));
            cpu.push((cpu_ns(pid) - c0) as f64 / 1e6);
        }
        lambda.stop().await;
    }
    json!({
        "spawn_to_first_poll_ms": summary(to_poll),
        "spawn_to_first_injection_ms": summary(to_first),
        "first_poll_to_first_injection_ms": summary(poll_to_first),
        "cpu_ms_spawn_to_first_injection": summary(cpu_first),
        "second_injection_new_upstream_host_ms": summary(new_host),
        "second_injection_new_upstream_host_cpu_ms": summary(new_host_cpu),
        "third_injection_same_host_ms": summary(warm_host),
        "third_injection_same_host_cpu_ms": summary(warm_host_cpu),
    })
}

/// Reconnects: the upstream closes every connection (`/close`), so each
/// injection opens a new one. Over TLS the test upstream counts full and
/// resumed handshakes: resumed means the broker's client presented a
/// session ticket from an earlier connection.
async fn reconnects(f: &Fixture, n: usize) -> Value {
    let lambda = LambdaEnv::start_with(&f.env, &opts(1)).await;
    let ev = event_to(f, &format!("{}/close", f.up.base()));
    for _ in 0..5 {
        assert_eq!(lambda.invoke("inject", &ev).await["ok"], true);
    }
    let pid = lambda.runner().pids_of("inject")[0];
    let (full0, resumed0) = keybroker_tests::tls::handshakes();
    let (mut lat, mut cpu) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let (c0, t0) = (cpu_ns(pid), Instant::now());
        assert_eq!(lambda.invoke("inject", &ev).await["ok"], true);
        lat.push(ms(t0.elapsed()));
        cpu.push((cpu_ns(pid) - c0) as f64 / 1e6);
    }
    let (full1, resumed1) = keybroker_tests::tls::handshakes();
    lambda.stop().await;
    json!({
        "injections": n,
        "upstream_handshakes_full": full1 - full0,
        "upstream_handshakes_resumed": resumed1 - resumed0,
        "latency_ms": summary(lat),
        "cpu_ms_per_injection": summary(cpu),
    })
}

async fn warm(f: &Fixture, n: usize) -> Value {
    let lambda = LambdaEnv::start_with(&f.env, &opts(1)).await;
    let ev = event(f);
    for _ in 0..50 {
        lambda.invoke("inject", &ev).await;
    }
    let pid = lambda.runner().pids_of("inject")[0];
    let before_audit = lambda.audit_records().len();
    let (mut lat, mut cpu) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (user0, sys0) = user_system_ms(pid);
    for _ in 0..n {
        let c0 = cpu_ns(pid);
        let t0 = Instant::now();
        let r = lambda.invoke("inject", &ev).await;
        lat.push(ms(t0.elapsed()));
        cpu.push((cpu_ns(pid) - c0) as f64 / 1e6);
        assert_eq!(r["ok"], true);
    }
    let audit = lambda.audit_records();
    let measured = &audit[before_audit..];
    let calls = |k: &str| {
        measured
            .iter()
            .map(|a| a["aws_calls"][k].as_u64().unwrap_or(0))
            .sum::<u64>() as f64
            / measured.len() as f64
    };
    let (user1, sys1) = user_system_ms(pid);
    let rss = peak_rss_mb(pid);
    lambda.stop().await;

    // The same upstream called directly, for the ratio.
    let client = reqwest::Client::new();
    let url = format!("{}/data", f.up.base());
    let mut direct = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        client
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        direct.push(ms(t0.elapsed()));
    }
    let lat_s = summary(lat);
    let direct_s = summary(direct);
    json!({
        "latency_ms": lat_s,
        "direct_upstream_ms": direct_s,
        "ratio_p50": lat_s["p50"].as_f64().unwrap() / direct_s["p50"].as_f64().unwrap(),
        "aws_calls_per_injection": { "dynamodb": calls("dynamodb"), "kms": calls("kms"), "sts": calls("sts") },
        "cpu_ms_per_injection": summary(cpu),
        "cpu_split_mean_ms_per_injection": {
            "user": (user1 - user0) / n as f64, "system": (sys1 - sys0) / n as f64 },
        "peak_rss_mb": rss,
    })
}

async fn scaling(f: &Fixture, levels: &[usize], rounds: usize) -> Value {
    let mut out = serde_json::Map::new();
    for &c in levels {
        let lambda = LambdaEnv::start_with(&f.env, &opts(c)).await;
        let ev = event(f);
        let mut lat = Vec::new();
        for round in 0..=rounds {
            let calls = (0..c).map(|_| async {
                let t0 = Instant::now();
                let r = lambda.invoke("inject", &ev).await;
                assert_eq!(r["ok"], true, "{r}");
                ms(t0.elapsed())
            });
            let times = futures::future::join_all(calls).await;
            if round > 0 {
                lat.extend(times); // round 0 warms every sandbox
            }
        }
        let audit = lambda.audit_records();
        let sts: u64 = audit
            .iter()
            .map(|a| a["aws_calls"]["sts"].as_u64().unwrap_or(0))
            .sum();
        let sandboxes_used = audit
            .iter()
            .filter(|a| a["aws_calls"]["sts"].as_u64() == Some(1))
            .count();
        out.insert(
            c.to_string(),
            json!({ "latency_ms": summary(lat), "invocations": audit.len(),
                    "sts_calls": sts, "sandboxes_that_assumed_role": sandboxes_used, "sandboxes": c }),
        );
        lambda.stop().await;
    }
    Value::Object(out)
}

fn binary_size_mb(name: &str) -> f64 {
    let path = keybroker_tests::lambda_env::workspace_bin(name, "release");
    std::fs::metadata(path)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let (cold_runs, warm_n, rounds) = if quick { (3, 100, 2) } else { (20, 1000, 10) };
    if args.iter().any(|a| a == "--compare") {
        compare();
        return;
    }
    let f = fixture().await;
    if args.iter().any(|a| a == "--callgrind") {
        callgrind(&f.env, opts(1), &event(&f), if quick { 20 } else { 200 }).await;
        return;
    }
    if args.iter().any(|a| a == "--warm-only") {
        // A/B runs of one setting (e.g. an SDK env var the functions
        // inherit): the warm figures only, printed, no results file.
        let warm = warm(&f, warm_n).await;
        println!("{}", serde_json::to_string_pretty(&warm).unwrap());
        return;
    }
    if args.iter().any(|a| a == "--cold-only") {
        // The warm-up decision (docs/BENCHMARKS.md): both modes, printed.
        let cold = json!({
            "warm_up_on": cold_starts(&f, cold_runs, "on").await,
            "warm_up_off": cold_starts(&f, cold_runs, "off").await,
        });
        println!("{}", serde_json::to_string_pretty(&cold).unwrap());
        return;
    }
    let load_only = args.iter().any(|a| a == "--load-only");
    let no_load = args.iter().any(|a| a == "--no-load");
    eprintln!("bench: transport {} (KEYBROKER_STACK_TLS)", transport());
    // Each step is recorded whether or not the others fail; the file is
    // written at the end either way and names the failed steps.
    let mut steps = Steps::default();
    if !load_only {
        let (on, off) = (
            cold_starts(&f, cold_runs, "on"),
            cold_starts(&f, cold_runs, "off"),
        );
        steps.run("cold_start_warm_up_on", on).await;
        steps.run("cold_start_warm_up_off", off).await;
        steps.run("warm", warm(&f, warm_n)).await;
        steps.run("reconnect", reconnects(&f, warm_n / 5)).await;
        steps
            .run("scaling", scaling(&f, &[1, 10, 100], rounds))
            .await;
    }
    if !no_load {
        match keybroker_tests::load::Scale::from_env() {
            Ok(scale) => steps.run("load", keybroker_tests::load::run(scale)).await,
            Err(e) => steps.insert("load", json!({ "failed": e })),
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    steps.insert(
        "machine",
        json!({ "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
                "loadavg_at_end": load.trim() }),
    );
    steps.insert("transport", json!(transport()));
    steps.insert("quick", json!(quick));
    steps.insert(
        "binary_size_mb",
        json!({ "inject": binary_size_mb("inject"), "admin": binary_size_mb("admin") }),
    );
    let failed = steps.failed().to_vec();
    let results = steps.into_json();
    let dir = keybroker_tests::repo_root().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let file = if load_only {
        format!("load-{}.json", transport())
    } else {
        format!("results-{}.json", transport())
    };
    std::fs::write(
        dir.join(&file),
        serde_json::to_string_pretty(&results).unwrap(),
    )
    .unwrap();
    println!("{}", serde_json::to_string_pretty(&results).unwrap());
    if !failed.is_empty() {
        eprintln!(
            "bench: failed steps: {} (the others are in target/bench/{file})",
            failed.join(", ")
        );
        std::process::exit(1);
    }
}
