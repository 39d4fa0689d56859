//! `edgeauth-spin-host`: serves the Spin component over HTTP on loopback the way `spin up` does,
//! for the tests (the Spin CLI cannot be installed here).
//!
//! It reads the real `spin.toml` and obeys it: the component it names, the key-value stores and
//! SQLite databases it grants, its `allowed_outbound_hosts`, and its variables (from
//! `SPIN_VARIABLE_<NAME>` in the environment, as Spin's environment provider reads them).
//! wasi:http comes from wasmtime-wasi-http, with a fresh instance per request from one
//! pre-instantiated component (as Spin does); Spin's own interfaces from `spin_interfaces`. Each
//! request carries Spin's `spin-full-url` and `spin-client-addr` headers, set here as Spin sets them.
//!
//! Usage (the flags `spin up` has, plus test-only ones):
//!
//! ```text
//! edgeauth-spin-host [--from spin.toml] [--listen 127.0.0.1:PORT] [--state-dir DIR]
//!                    [--sqlite @FILE | --sqlite STATEMENTS]... [--key-value KEY=VALUE]...
//!                    [--allow-outbound URL]... [--test-controls]
//! ```
//!
//! `--sqlite` runs statements against the `default` database before serving, as `spin up` does.
//! `--allow-outbound` adds entries to the component's `allowed_outbound_hosts` (what a local
//! manifest would add: the tests serve a client's JWKS on loopback). `--test-controls` makes the
//! host answer `POST /__test/clock/advance?secs=N` by moving the WASI wall clock the component sees.
//! The first line printed is `listening on http://ADDR`.

mod manifest;
mod outbound;
mod spin_interfaces;

use wasmtime::error::{Context as _, Result};
use wasmtime::bail;
use hyper::server::conn::http1;
use outbound::{AllowedHost, OutboundPolicy};
use spin_interfaces::{Host_ as SpinHost, SpinStores};
use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Per-request store data.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: OutboundPolicy,
    pub table: ResourceTable,
    pub stores: Arc<SpinStores>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.outbound }
    }
}

/// The WASI wall clock, shifted by a test-controlled offset (zero unless `--test-controls` moves it).
#[derive(Clone)]
struct ShiftedClock(Arc<AtomicI64>);

impl HostWallClock for ShiftedClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        let real = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        real + Duration::from_secs(self.0.load(Ordering::Relaxed).max(0) as u64)
    }
}

struct Server {
    pre: ProxyPre<State>,
    stores: Arc<SpinStores>,
    allowed: Arc<Vec<AllowedHost>>,
    clock_offset: Arc<AtomicI64>,
    test_controls: bool,
    origin: String,
}

type HostResponse = hyper::Response<HyperOutgoingBody>;

impl Server {
    async fn handle(self: Arc<Self>, peer: std::net::SocketAddr, mut req: hyper::Request<hyper::body::Incoming>) -> Result<HostResponse> {
        if self.test_controls && req.uri().path() == "/__test/clock/advance" {
            return self.advance_clock(&req);
        }
        // Spin tells the component the URL it was called at, its authority from the Host header as
        // `spin up` takes it (the listening address only when the request has none).
        let authority = req.headers().get(hyper::header::HOST).and_then(|h| h.to_str().ok()).filter(|h| h.parse::<http::uri::Authority>().is_ok());
        let origin = authority.map(|a| format!("http://{a}")).unwrap_or_else(|| self.origin.clone());
        let full_url = format!("{origin}{}", req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
        req.headers_mut().insert("spin-full-url", full_url.parse()?);
        // As `spin up` does: the connection's peer as `IP:port`, replacing any value the client sent.
        req.headers_mut().insert("spin-client-addr", peer.to_string().parse()?);
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stderr().inherit_stdout().wall_clock(ShiftedClock(self.clock_offset.clone()));
        let state = State { wasi: wasi.build(), http: WasiHttpCtx::new(), outbound: OutboundPolicy { allowed: self.allowed.clone() }, table: ResourceTable::new(), stores: self.stores.clone() };
        let mut store = Store::new(self.pre.engine(), state);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy.wasi_http_incoming_handler().call_handle(store, incoming, out).await
        });
        match receiver.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => {
                let e = match task.await {
                    Ok(Ok(())) => wasmtime::format_err!("the component never set a response"),
                    Ok(Err(e)) => e,
                    Err(e) => e.into(),
                };
                Err(e.context("the component failed"))
            }
        }
    }

    fn advance_clock(&self, req: &hyper::Request<hyper::body::Incoming>) -> Result<HostResponse> {
        use http_body_util::{BodyExt, Full};
        let secs = req.uri().query().unwrap_or("").split('&').find_map(|kv| kv.strip_prefix("secs=")).and_then(|v| v.parse::<i64>().ok());
        let status = match (req.method().as_str(), secs) {
            ("POST", Some(s)) if s >= 0 => {
                self.clock_offset.fetch_add(s, Ordering::Relaxed);
                200
            }
            _ => 400,
        };
        let body = Full::new(bytes::Bytes::new()).map_err(|never| match never {}).boxed_unsync();
        Ok(hyper::Response::builder().status(status).body(body)?)
    }
}

struct Options {
    manifest: PathBuf,
    listen: String,
    state_dir: Option<PathBuf>,
    sqlite: Vec<String>,
    key_values: Vec<(String, String)>,
    allow_outbound: Vec<String>,
    test_controls: bool,
}

fn parse_args() -> Result<Options> {
    let mut o = Options { manifest: "spin.toml".into(), listen: "127.0.0.1:3000".into(), state_dir: None, sqlite: vec![], key_values: vec![], allow_outbound: vec![], test_controls: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--from" | "-f" => o.manifest = value()?.into(),
            "--listen" => o.listen = value()?,
            "--state-dir" => o.state_dir = Some(value()?.into()),
            "--sqlite" => o.sqlite.push(value()?),
            "--key-value" => {
                let kv = value()?;
                let (k, v) = kv.split_once('=').context("--key-value takes KEY=VALUE")?;
                o.key_values.push((k.to_string(), v.to_string()));
            }
            "--allow-outbound" => o.allow_outbound.push(value()?),
            "--test-controls" => o.test_controls = true,
            a => bail!("unknown argument {a}"),
        }
    }
    Ok(o)
}

/// Removes the state directory when the host made it itself (a fresh one per start).
struct TempState(Option<PathBuf>);

impl Drop for TempState {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> Result<()> {
    let o = parse_args()?;
    let component = manifest::load(&o.manifest, |name| std::env::var(format!("SPIN_VARIABLE_{}", name.to_uppercase())).ok())?;

    // Spin's defaults: only the label `default` exists without a runtime configuration.
    for label in component.key_value_stores.iter().chain(&component.sqlite_databases) {
        if label != "default" {
            bail!("the manifest grants the store {label:?}, which needs a runtime configuration this host does not read");
        }
    }
    let (state_dir, _cleanup) = match &o.state_dir {
        Some(d) => (d.clone(), TempState(None)),
        None => {
            let mut r = [0u8; 8];
            getrandom::getrandom(&mut r).map_err(|e| wasmtime::format_err!("OS randomness: {e}"))?;
            let d = std::env::temp_dir().join(format!("edgeauth-spin-host-{}", u64::from_le_bytes(r)));
            (d.clone(), TempState(Some(d)))
        }
    };
    std::fs::create_dir_all(&state_dir)?;
    let databases: HashMap<String, PathBuf> = component.sqlite_databases.iter().map(|l| (l.clone(), state_dir.join("sqlite_db.db"))).collect();

    // `--sqlite` statements run before the first request, against the default database.
    if !o.sqlite.is_empty() {
        let path = databases.get("default").context("--sqlite needs the component to be granted the `default` database")?;
        let conn = rusqlite::Connection::open(path)?;
        for s in &o.sqlite {
            let sql = match s.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
                None => s.clone(),
            };
            conn.execute_batch(&sql).with_context(|| format!("--sqlite {s}"))?;
        }
    }

    let stores = Arc::new(SpinStores {
        kv: Mutex::new(SpinStores::open_kv(&state_dir.join("sqlite_key_value.db"))?),
        kv_labels: component.key_value_stores.iter().cloned().collect::<HashSet<_>>(),
        databases,
        variables: component.variables.clone(),
    });
    for (k, v) in &o.key_values {
        stores.kv_set("default", k, v.as_bytes())?;
    }
    let allowed = component
        .allowed_outbound_hosts
        .iter()
        .chain(&o.allow_outbound)
        .map(|e| AllowedHost::parse(e).with_context(|| format!("invalid allowed_outbound_hosts entry {e:?}")))
        .collect::<Result<Vec<_>>>()?;

    let mut config = Config::new();
    // Compiling the component takes seconds; every test file starts a host, so keep the machine
    // code beside the component (wasmtime keys the cache by the wasm's hash and the engine's flags).
    let mut cache = wasmtime::CacheConfig::new();
    cache.with_directory(component.source.parent().unwrap_or(std::path::Path::new(".")).join("wasmtime-cache"));
    config.cache(Some(wasmtime::Cache::new(cache)?));
    // As Spin does (spin-core's default configuration): the pooling instance allocator, so a
    // per-request instance takes its linear memory, tables and async stack from slots reserved at
    // start instead of mapping and unmapping them (with a TLB shootdown) for every request. Spin's
    // limits, except the number of slots: 1000 there, enough for this host's concurrency here.
    let mut pooling = wasmtime::PoolingAllocationConfig::default();
    pooling
        .total_component_instances(128)
        .total_core_instances(256)
        .total_memories(256)
        .total_tables(512)
        .total_stacks(128)
        .max_component_instance_size(10 << 20)
        .max_core_instance_size(10 << 20)
        .max_core_instances_per_component(200)
        .max_memories_per_component(32)
        .max_tables_per_component(20)
        .table_elements(100_000)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(1 << 19);
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    // For `perf` (bench/spin.mjs with BENCH_PROFILE): /tmp/perf-PID.map names the compiled functions.
    if std::env::var_os("WASMTIME_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config)?;
    let wasm = Component::from_file(&engine, &component.source).with_context(|| format!("loading {}", component.source.display()))?;
    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    SpinHost::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    // Fails here, before serving, if the component imports something neither WASI nor Spin 2.0 has.
    let pre = ProxyPre::new(linker.instantiate_pre(&wasm)?)?;

    let listener = TcpListener::bind(&o.listen).await.with_context(|| format!("listening on {}", o.listen))?;
    let addr = listener.local_addr()?;
    let server = Arc::new(Server { pre, stores, allowed: Arc::new(allowed), clock_offset: Arc::new(AtomicI64::new(0)), test_controls: o.test_controls, origin: format!("http://{addr}") });
    println!("listening on http://{addr}");
    std::io::stdout().flush()?;

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let (client, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = terminate.recv() => return Ok(()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let server = server.clone();
        tokio::task::spawn(async move {
            let service = hyper::service::service_fn(move |req| server.clone().handle(peer, req));
            if let Err(e) = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(client), service).await {
                eprintln!("edgeauth-spin-host: connection error: {e:?}");
            }
        });
    }
}
