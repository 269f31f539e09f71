//! IP access control: the compiled lookup (sorted, merged ranges, binary search) next to a
//! naive scan over `ipnet` networks, at 10, 1,000 and 100,000 entries, for addresses in the
//! list (hit) and outside it (miss); and the whole layer per request.

#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use tollgate_ip::{IpAccessLayer, IpRanges};

/// A small deterministic generator (xorshift64*), so every run sees the same lists.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `n` entries, 80% IPv4 (prefixes /16 to /32) and 20% IPv6 (/32 to /128).
fn list(n: usize, rng: &mut Rng) -> Vec<IpNet> {
    (0..n)
        .map(|_| {
            let r = rng.next();
            if r.is_multiple_of(5) {
                let p = 32 + (r >> 8) as u8 % 97;
                IpNet::V6(
                    Ipv6Net::new(Ipv6Addr::from(((rng.next() as u128) << 64) | rng.next() as u128), p).unwrap().trunc(),
                )
            } else {
                let p = 16 + (r >> 8) as u8 % 17;
                IpNet::V4(Ipv4Net::new(Ipv4Addr::from(rng.next() as u32), p).unwrap().trunc())
            }
        })
        .collect()
}

/// A random address inside `net`.
fn inside(net: IpNet, rng: &mut Rng) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let span = u32::from(n.broadcast()) - u32::from(n.network());
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) + (rng.next() as u32 & span)))
        }
        IpNet::V6(n) => {
            let span = u128::from(n.broadcast()) - u128::from(n.network());
            let r = ((rng.next() as u128) << 64) | rng.next() as u128;
            IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) + (r & span)))
        }
    }
}

/// 1,024 probe addresses inside the list (each in a random entry, at a random offset) and
/// 1,024 outside it (random, in the list's 80/20 mix of IPv4 and IPv6).
fn probes(nets: &[IpNet], ranges: &IpRanges, rng: &mut Rng) -> (Vec<IpAddr>, Vec<IpAddr>) {
    let hits: Vec<IpAddr> = (0..PROBES).map(|_| inside(nets[rng.next() as usize % nets.len()], rng)).collect();
    let mut misses = Vec::with_capacity(PROBES);
    while misses.len() < PROBES {
        let r = rng.next();
        let ip = if r.is_multiple_of(5) {
            IpAddr::V6(Ipv6Addr::from(((rng.next() as u128) << 64) | rng.next() as u128))
        } else {
            IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
        };
        if !ranges.contains(ip) {
            misses.push(ip);
        }
    }
    assert!(hits.iter().all(|&ip| ranges.contains(ip) && nets.iter().any(|n| n.contains(&ip))));
    assert!(misses.iter().all(|&ip| !nets.iter().any(|n| n.contains(&ip))));
    (hits, misses)
}

const PROBES: usize = 1024;

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("ip");
    group.throughput(Throughput::Elements(1));
    for n in [10usize, 1_000, 100_000] {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
        let nets = list(n, &mut rng);
        let ranges = IpRanges::new(nets.iter().copied());
        let (hits, misses) = probes(&nets, &ranges, &mut rng);
        for (case, probes) in [("hit", &hits), ("miss", &misses)] {
            // each iteration checks the next probe address, so branch prediction and the
            // cache see a realistic stream of different clients
            let mut i = 0usize;
            group.bench_function(BenchmarkId::new(format!("compiled_{case}"), n), |b| {
                b.iter(|| {
                    i = (i + 1) % PROBES;
                    black_box(ranges.contains(black_box(probes[i])))
                })
            });
        }
        if n == 100_000 {
            // a naive check costs about half a millisecond here: fewer samples keep the run short
            group.sample_size(10).measurement_time(Duration::from_secs(3));
        }
        for (case, probes) in [("hit", &hits), ("miss", &misses)] {
            let mut i = 0usize;
            group.bench_function(BenchmarkId::new(format!("naive_{case}"), n), |b| {
                b.iter(|| {
                    i = (i + 1) % PROBES;
                    let ip = black_box(probes[i]);
                    black_box(nets.iter().any(|net| net.contains(&ip)))
                })
            });
        }
    }
    group.finish();
}

fn layer(c: &mut Criterion) {
    use http::{Request, Response};
    use tollgate::PeerAddr;
    use tower::{Layer, Service, ServiceExt};

    let mut rng = Rng(42);
    let nets: Vec<String> = list(1_000, &mut rng).iter().map(|n| n.to_string()).collect();
    let layer = IpAccessLayer::deny(&nets).unwrap();
    let mut svc = layer
        .layer(tower::service_fn(|_req: Request<()>| async { Ok::<_, std::convert::Infallible>(Response::new(())) }));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let peer = PeerAddr("203.0.113.9:4000".parse().unwrap());
    c.bench_function("ip/layer_deny_1000_pass", |b| {
        b.iter(|| {
            let mut req = Request::new(());
            req.extensions_mut().insert(peer);
            rt.block_on(async { svc.ready().await.unwrap().call(req).await.unwrap() })
        })
    });
}

criterion_group!(benches, lookup, layer);
criterion_main!(benches);
