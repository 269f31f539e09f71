//! The whole stack under load: a bare axum hello-world next to the same handler behind every
//! policy (request id, CORS, IP access, flow control by API and IP, Aliyun signature, replay
//! guard, flow control by app, parameter validation and injection), in-memory stores, both served on loopback and driven by
//! the same keep-alive HTTP/1.1 load generator in one run. Prints throughput, the ratio and
//! p50/p99 latency.
//!
//! `cargo bench --bench stack` (`STACK_ROUNDS`, default 5, of `STACK_SECONDS`, default 2, per
//! side; `STACK_CONNECTIONS`, default 32; `STACK_GATEWAY=1` serves the policies declared in
//! YAML and read into a `Gateway` instead of the hand-stacked ones, `STACK_GATEWAY=code` the
//! hand-stacked layers put in a `Gateway` in code). The servers run in a child process, as a real
//! service would, and the load generator in this one; the two sides take turns, round by
//! round, so a change in what else the machine does falls on both alike. On a 2-core
//! machine the load generator and the server share the cores, so read the ratio, not the
//! absolute rate. (Not a criterion bench: criterion times one call at a time; this measures
//! a server under concurrent load.)

#![allow(missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use bytes::Bytes;
use http::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tollgate::signature::aliyun_apigw::AliyunApiGateway;
use tollgate::signature::{Secret, Signer};

#[path = "support/stack.rs"]
mod support;
use support::{APP_KEY, SECRET, full_stack, gateway_stack};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    addr
}

#[derive(Default)]
struct Run {
    requests: usize,
    seconds: f64,
    latencies: Vec<Duration>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn add(&mut self, other: Run) {
        self.requests += other.requests;
        self.seconds += other.seconds;
        self.latencies.extend(other.latencies);
    }

    fn percentile(&self, p: f64) -> Duration {
        self.latencies[((self.latencies.len() as f64 * p) as usize).min(self.latencies.len() - 1)]
    }
}

/// A signed request with a fresh nonce, as HTTP/1.1 bytes.
fn signed_request(signer: &AliyunApiGateway, secret: &Secret, addr: SocketAddr) -> Vec<u8> {
    let (mut parts, ()) = Request::get("/").header(http::header::HOST, addr.to_string()).body(()).unwrap().into_parts();
    signer.sign(&mut parts, &mut Bytes::new(), APP_KEY, secret, SystemTime::now()).unwrap();
    let mut bytes = Vec::with_capacity(512);
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        bytes.extend_from_slice(name.as_str().as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// Reads one response off a keep-alive connection and returns its status; `buf` keeps any
/// bytes read past it (none: one request is in flight per connection).
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> u16 {
    buf.clear();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).unwrap();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")))
        .map_or(0, |(_, v)| v.trim().parse().unwrap());
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    status
}

/// Keeps `connections` requests in flight for `seconds` over keep-alive HTTP/1.1
/// connections, each request signed with a fresh nonce as a real client would (signing is
/// the client's work, outside the latency). The client is plain: bytes written, the
/// response read by its `Content-Length`, so that the server is what runs out of CPU.
async fn load(addr: SocketAddr, connections: usize, seconds: u64) -> Run {
    let signer = Arc::new(AliyunApiGateway::new());
    let secret = Secret::from(SECRET);
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (signer, secret) = (signer.clone(), secret.clone());
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut latencies, mut buf) = (Vec::new(), Vec::with_capacity(4096));
                while Instant::now() < until {
                    let request = signed_request(&signer, &secret, addr);
                    let sent = Instant::now();
                    stream.write_all(&request).await.unwrap();
                    assert_eq!(read_response(&mut stream, &mut buf).await, 200);
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    Run { requests: latencies.len(), seconds, latencies }
}

/// The child process: serves the bare route and the full stack, prints both addresses,
/// and serves until its standard input closes (the parent is gone).
fn serve_both() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let bare = serve(support::bare()).await;
        // STACK_GATEWAY=1: the same policies read from YAML into a `Gateway`; =code: the
        // hand-stacked layers put in a `Gateway` in code
        let stack = match std::env::var("STACK_GATEWAY").as_deref() {
            Ok("code") => support::gateway_in_code(),
            Ok(_) => gateway_stack(),
            Err(_) => full_stack(),
        };
        let full = serve(stack.unwrap()).await;
        println!("{bare} {full}");
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await.ok();
    });
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` and IDE discovery: nothing to list
    }
    if std::env::var_os("STACK_SERVE").is_some() {
        return serve_both();
    }
    let var = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (rounds, seconds, connections) =
        (var("STACK_ROUNDS", 5), var("STACK_SECONDS", 2), var("STACK_CONNECTIONS", 32) as usize);
    // STACK_SERVER_CPUS=0 pins the server to CPU 0 (with the load generator started under
    // `taskset -c 1`), so the server, not the client, is what runs out of CPU
    let exe = std::env::current_exe().unwrap();
    let mut command = match std::env::var("STACK_SERVER_CPUS") {
        Ok(cpus) => {
            let mut c = std::process::Command::new("taskset");
            c.arg("-c").arg(cpus).arg(&exe);
            c
        }
        Err(_) => std::process::Command::new(&exe),
    };
    let mut child = command
        .env("STACK_SERVE", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let mut addrs = line.split_whitespace().map(|a| a.parse::<SocketAddr>().unwrap());
    let (bare, full) = (addrs.next().unwrap(), addrs.next().unwrap());
    // the load generator takes one thread: on a 2-core machine the server gets the other core
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        // warm both up
        load(bare, connections, 1).await;
        load(full, connections, 1).await;
        let (mut bare_run, mut full_run) = (Run::default(), Run::default());
        for round in 0..rounds {
            // alternate which side goes first
            let order = if round % 2 == 0 { [(bare, true), (full, false)] } else { [(full, false), (bare, true)] };
            for (addr, is_bare) in order {
                let run = load(addr, connections, seconds).await;
                println!("round {round}: {:>5} {:>8.0} req/s", if is_bare { "bare" } else { "full" }, run.rate());
                if is_bare { bare_run.add(run) } else { full_run.add(run) }
            }
        }
        for (name, run) in [("bare axum", &mut bare_run), ("full tollgate stack", &mut full_run)] {
            run.latencies.sort();
            println!(
                "{name:>20}: {:>8.0} req/s  p50 {:>6.0} us  p99 {:>6.0} us  ({} requests)",
                run.rate(),
                run.percentile(0.50).as_secs_f64() * 1e6,
                run.percentile(0.99).as_secs_f64() * 1e6,
                run.requests
            );
        }
        println!("throughput ratio (full / bare): {:.1}%", 100.0 * full_run.rate() / bare_run.rate());
    });
    drop(child.stdin.take());
    child.wait().ok();
}
