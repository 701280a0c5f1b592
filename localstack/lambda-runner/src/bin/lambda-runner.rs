//! `lambda-runner --listen 127.0.0.1:9001 --function NAME=PATH [--instances N]`
//! Serves the Invoke API for the given bootstrap binaries until Ctrl-C.

use std::net::SocketAddr;

use lambda_runner::{FunctionSpec, Runner};

fn usage() -> ! {
    eprintln!("usage: lambda-runner [--listen ADDR] [--instances N] [--log-dir DIR] --function NAME=PATH ...");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 9001).into();
    let mut instances = 1;
    let mut log_dir = None;
    let mut specs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => listen = v.parse().unwrap_or_else(|_| usage()),
            "--instances" => instances = v.parse().unwrap_or_else(|_| usage()),
            "--log-dir" => log_dir = Some(v.into()),
            "--function" => {
                let (name, path) = v.split_once('=').unwrap_or_else(|| usage());
                specs.push(FunctionSpec::new(name, path));
            }
            _ => usage(),
        }
    }
    if specs.is_empty() || !listen.ip().is_loopback() {
        usage();
    }
    for s in &mut specs {
        s.instances = instances;
    }
    let runner = match Runner::start(listen, specs, log_dir).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lambda-runner: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("lambda-runner: Invoke API on {}", runner.endpoint());
    let _ = tokio::signal::ctrl_c().await;
    runner.shutdown().await;
}
