//! IP access control: the compiled lookup (sorted, merged ranges, binary search) next to a
//! naive scan over `ipnet` networks, at 10, 1,000 and 100,000 entries; and the whole layer
//! per request.

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
            if r % 5 == 0 {
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

/// 1,024 probe addresses: half inside some entry (hits), half random (mostly misses).
fn probes(nets: &[IpNet], rng: &mut Rng) -> Vec<IpAddr> {
    (0..1024)
        .map(|i| {
            if i % 2 == 0 {
                let net = nets[rng.next() as usize % nets.len()];
                match net {
                    IpNet::V4(n) => IpAddr::V4(n.network()),
                    IpNet::V6(n) => IpAddr::V6(n.network()),
                }
            } else {
                IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
            }
        })
        .collect()
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("ip");
    group.throughput(Throughput::Elements(1));
    for n in [10usize, 1_000, 100_000] {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
        let nets = list(n, &mut rng);
        let ranges = IpRanges::new(nets.iter().copied());
        let probes = probes(&nets, &mut rng);
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("compiled", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(ranges.contains(black_box(probes[i])))
            })
        });
        if n == 100_000 {
            group.sample_size(10).measurement_time(Duration::from_secs(3));
        }
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("naive_scan", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let ip = black_box(probes[i]);
                black_box(nets.iter().any(|net| net.contains(&ip)))
            })
        });
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
