//! A throwaway `redis-server` on a free loopback port, for tests (feature `testing`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child process on 127.0.0.1, without persistence, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port. `None` when `redis-server` is not installed; under
    /// `CI=true` that panics instead, so a test cannot pass by skipping.
    pub fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let mut server = Self { port, child: None };
        match server.spawn() {
            Ok(()) => Some(server),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("redis-server is required under CI=true: {e}")
            }
            Err(e) => {
                eprintln!("skipped: redis-server is not available ({e})");
                None
            }
        }
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        wait_for(self.port)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (a crash: nothing is saved).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.spawn()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A throwaway Redis Cluster of three masters on free loopback ports (feature `testing` and
/// `cluster`), built with `redis-cli --cluster create`; killed on drop.
#[cfg(feature = "cluster")]
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    dir: std::path::PathBuf,
}

#[cfg(feature = "cluster")]
impl RedisCluster {
    /// Starts one. `None` when `redis-server` or `redis-cli` is missing; under `CI=true`
    /// that panics instead.
    pub fn start() -> Option<Self> {
        match Self::try_start() {
            Ok(cluster) => Some(cluster),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("a Redis Cluster is required under CI=true: {e}")
            }
            Err(e) => {
                eprintln!("skipped: no Redis Cluster ({e})");
                None
            }
        }
    }

    fn try_start() -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("tollgate-redis-cluster-{}-{}", std::process::id(), nanos_now()));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = Self { nodes: Vec::new(), ports: Vec::new(), dir };
        for _ in 0..3 {
            let port = cluster_port()?;
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes", "--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            cluster.nodes.push(child);
            cluster.ports.push(port);
            wait_for(port)?;
        }
        let nodes: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !created.success() {
            return Err(std::io::Error::other("redis-cli --cluster create failed"));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let info =
                Command::new("redis-cli").args(["-p", &cluster.ports[0].to_string(), "cluster", "info"]).output()?;
            if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                return Ok(cluster);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(std::io::Error::other("the cluster did not reach cluster_state:ok"))
    }

    /// `redis://127.0.0.1:PORT` of each node.
    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect()
    }
}

#[cfg(feature = "cluster")]
impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free loopback port whose cluster bus port (10,000 above it, where a node listens for
/// the others) is free too. A node on a port above 55,535 has no bus port and exits at once
/// ("Redis port number too high"). Linux hands a listener asking for any port one from the
/// lower half of its range (up to about 46,900) while that half has room, and from up to
/// 60,999 once it is crowded, as on a CI machine running many loopback tests at once: the
/// cluster test's one flaky failure ("did not start listening").
#[cfg(feature = "cluster")]
fn cluster_port() -> std::io::Result<u16> {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if let Some(bus) = port.checked_add(10_000)
            && TcpListener::bind(("127.0.0.1", bus)).is_ok()
        {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port with a free cluster bus port"))
}

#[cfg(feature = "cluster")]
fn nanos_now() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

fn wait_for(port: u16) -> std::io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(std::io::Error::other("redis-server did not start listening"))
}
