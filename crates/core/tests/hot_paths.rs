//! The hot paths do no needless storage work: client_credentials with JWT access tokens, discovery,
//! JWKS and userinfo write nothing to KV, SQL or the session store; once an isolate's caches are
//! warm (configuration, keys, clients) client_credentials, discovery and JWKS read nothing either,
//! and userinfo and a code redemption make one database round trip each (a redemption's consume
//! and its grant read go in one batch). Counted by a runtime that wraps the native one and tallies
//! every store call. Its throttle counters are shaped like Workers' (remote: a Durable Object per
//! key), where a client authentication that succeeds must not touch them.
//!
//! With read replicas (D1's read replication on Workers) the reads that may be a little stale go to
//! a replica near the request; `sequential_primary_round_trips_per_flow` holds each flow to its
//! number of round trips to the primary, the ones that cross the world for a far relying party.

use edgeauth_core::http::form_encode;
use edgeauth_core::runtime::{Counter, CounterStore, KvStore, Lifetime, Runtime, SessionStore, SqlDatabase, SqlRow, SsoSession, Statement, StoreError};
use edgeauth_core::{Request, Response, Server};
use edgeauth_testkit::{block_on, MemoryKv, NativeRuntime, SqliteDb};
use serde_json::{json, Value};
use std::cell::Cell;

const ROOT: &str = "root-secret-for-tests-0123456789";
const ORIGIN: &str = "https://as.example";
const REDIRECT: &str = "https://rp.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[derive(Default, Debug, Clone, Copy, PartialEq)]
struct Counts {
    kv_reads: u32,
    kv_writes: u32,
    sql_reads: u32,
    sql_writes: u32,
    /// Queries and batches on the primary: what costs a network round trip to D1's one region.
    /// The engine awaits each before the next, so each is sequential.
    sql_round_trips: u32,
    /// Batches a read replica answered (near the request on Workers).
    replica_round_trips: u32,
    session_reads: u32,
    session_writes: u32,
    counter_reads: u32,
    counter_writes: u32,
}

#[derive(Default)]
struct Tally(Cell<Counts>);

impl Tally {
    fn bump(&self, f: impl FnOnce(&mut Counts)) {
        let mut c = self.0.get();
        f(&mut c);
        self.0.set(c);
    }
    fn take(&self) -> Counts {
        self.0.replace(Counts::default())
    }
}

struct CountingKv<'a>(&'a MemoryKv, &'a Tally);
/// The primary, the replica reads may go to (`None`: a database without replicas, as on Spin), and
/// the tally. A replica that is the primary itself is one that has caught up; a snapshot lags.
struct CountingSql<'a>(&'a SqliteDb, Option<std::cell::RefCell<SqliteDb>>, &'a Tally);
struct CountingSessions<'a, S: SessionStore>(&'a S, &'a Tally);
/// The native counters, counted, and reporting themselves remote as Workers' are.
struct CountingCounters<'a, C: CounterStore>(&'a C, &'a Tally);

impl KvStore for CountingKv<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.1.bump(|c| c.kv_reads += 1);
        self.0.get(key).await
    }
    async fn put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.1.bump(|c| c.kv_writes += 1);
        self.0.put(key, value).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.1.bump(|c| c.kv_writes += 1);
        self.0.delete(key).await
    }
}

/// Anything but a plain SELECT counts as a write.
fn is_write(sql: &str) -> bool {
    !sql.trim_start().to_ascii_uppercase().starts_with("SELECT")
}

/// The replica clock's statements ride along with reads (see `store::replica`); they are not the
/// work a path asks for, so they are not counted as its reads and writes.
fn is_clock(sql: &str) -> bool {
    sql == edgeauth_core::store::sql::REPLICA_CLOCK_GET || sql == edgeauth_core::store::sql::REPLICA_CLOCK_SET
}

impl CountingSql<'_> {
    fn count_statements(&self, stmts: &[Statement]) {
        for s in stmts.iter().filter(|s| !is_clock(s.sql)) {
            let write = is_write(s.sql);
            self.2.bump(|c| if write { c.sql_writes += 1 } else { c.sql_reads += 1 });
        }
    }
}

impl SqlDatabase for CountingSql<'_> {
    async fn query(&self, stmt: Statement) -> Result<Vec<SqlRow>, StoreError> {
        self.count_statements(std::slice::from_ref(&stmt));
        self.2.bump(|c| c.sql_round_trips += 1);
        self.0.query(stmt).await
    }
    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Vec<SqlRow>>, StoreError> {
        self.count_statements(&stmts);
        self.2.bump(|c| c.sql_round_trips += 1);
        self.0.batch(stmts).await
    }
    async fn read_replica(&self, stmts: &[Statement]) -> Option<Result<Vec<Vec<SqlRow>>, StoreError>> {
        let replica = self.1.as_ref()?.borrow().clone();
        assert!(stmts.iter().all(|s| !is_write(s.sql)), "a write sent to a replica: {stmts:?}");
        self.count_statements(stmts);
        self.2.bump(|c| c.replica_round_trips += 1);
        Some(replica.batch(stmts.to_vec()).await)
    }
}

impl<S: SessionStore> SessionStore for CountingSessions<'_, S> {
    async fn create(&self, session: &SsoSession) -> Result<(), StoreError> {
        self.1.bump(|c| c.session_writes += 1);
        self.0.create(session).await
    }
    async fn get(&self, sid: &str) -> Result<Option<SsoSession>, StoreError> {
        self.1.bump(|c| c.session_reads += 1);
        self.0.get(sid).await
    }
    async fn delete(&self, sid: &str) -> Result<(), StoreError> {
        self.1.bump(|c| c.session_writes += 1);
        self.0.delete(sid).await
    }
}

impl<C: CounterStore> CounterStore for CountingCounters<'_, C> {
    async fn get(&self, key: &str, now: i64) -> Result<Option<Counter>, StoreError> {
        self.1.bump(|c| c.counter_reads += 1);
        self.0.get(key, now).await
    }
    async fn increment(&self, key: &str, now: i64, lifetime: Lifetime<'_>) -> Result<Counter, StoreError> {
        self.1.bump(|c| c.counter_writes += 1);
        self.0.increment(key, now, lifetime).await
    }
    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.1.bump(|c| c.counter_writes += 1);
        self.0.reset(key).await
    }
    fn reads_are_local(&self) -> bool {
        false
    }
}

/// The native runtime with every store call counted.
struct Counting<'a> {
    inner: &'a NativeRuntime,
    kv: CountingKv<'a>,
    sql: CountingSql<'a>,
    sessions: CountingSessions<'a, <NativeRuntime as Runtime>::Sessions>,
    counters: CountingCounters<'a, <NativeRuntime as Runtime>::Counters>,
    /// Reports itself as a runtime that instantiates per request (as Spin does).
    per_request: bool,
}

impl<'a> Counting<'a> {
    /// Without replicas (as Spin and the native server).
    fn new(inner: &'a NativeRuntime, tally: &'a Tally) -> Self {
        Counting {
            inner,
            kv: CountingKv(inner.kv(), tally),
            sql: CountingSql(inner.sql(), None, tally),
            sessions: CountingSessions(inner.sessions(), tally),
            counters: CountingCounters(inner.counters(), tally),
            per_request: false,
        }
    }
}

impl<'a> Counting<'a> {
    /// With read replicas, as on Workers with D1 read replication: the replica starts caught up
    /// and stays so ([`Counting::lag`] freezes it).
    fn replicated(inner: &'a NativeRuntime, tally: &'a Tally) -> Self {
        let mut rt = Counting::new(inner, tally);
        rt.sql.1 = Some(std::cell::RefCell::new(inner.sql().clone()));
        rt
    }
    /// From now on the replica holds the database as it is now, and nothing written later.
    fn lag(&self) {
        *self.sql.1.as_ref().expect("a replicated runtime").borrow_mut() = self.inner.sql().snapshot().unwrap();
    }
    /// The replica catches up with the primary and follows it again.
    fn catch_up(&self) {
        *self.sql.1.as_ref().expect("a replicated runtime").borrow_mut() = self.inner.sql().clone();
    }
}

impl<'a> Runtime for Counting<'a> {
    type Kv = CountingKv<'a>;
    type Sql = CountingSql<'a>;
    type Sessions = CountingSessions<'a, <NativeRuntime as Runtime>::Sessions>;
    type Fetch = <NativeRuntime as Runtime>::Fetch;
    type Clock = <NativeRuntime as Runtime>::Clock;
    type Entropy = <NativeRuntime as Runtime>::Entropy;
    type Signer = <NativeRuntime as Runtime>::Signer;
    type Counters = CountingCounters<'a, <NativeRuntime as Runtime>::Counters>;

    fn kv(&self) -> &Self::Kv {
        &self.kv
    }
    fn sql(&self) -> &Self::Sql {
        &self.sql
    }
    fn sessions(&self) -> &Self::Sessions {
        &self.sessions
    }
    fn fetch(&self) -> &Self::Fetch {
        self.inner.fetch()
    }
    fn clock(&self) -> &Self::Clock {
        self.inner.clock()
    }
    fn entropy(&self) -> &Self::Entropy {
        self.inner.entropy()
    }
    fn signer(&self) -> &Self::Signer {
        self.inner.signer()
    }
    fn counters(&self) -> &Self::Counters {
        &self.counters
    }
    fn master_secret(&self) -> &[u8] {
        self.inner.master_secret()
    }
    fn root_secret(&self) -> Option<&str> {
        self.inner.root_secret()
    }
    fn instance_per_request(&self) -> bool {
        self.per_request
    }
}

struct Harness<'a> {
    rt: Counting<'a>,
    tally: &'a Tally,
    server: Server,
}

impl Harness<'_> {
    /// The replica clock written now on the primary, as the first read through a stale replica
    /// does (see `store::replica`): replica reads in the next 30 s are fresh.
    fn heartbeat(&self) {
        let now = edgeauth_core::runtime::Clock::now_ms(self.rt.inner.clock()) as i64;
        block_on(self.rt.inner.sql().query(Statement { sql: edgeauth_core::store::sql::REPLICA_CLOCK_SET, params: vec![now.into()] })).unwrap();
    }
    fn call(&self, method: &str, path: &str, headers: Vec<(&str, String)>, body: Vec<u8>) -> Response {
        let headers = headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        block_on(self.server.handle(&self.rt, Request::new(method, &format!("{ORIGIN}{path}"), headers, body)))
    }
    fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let r = self.call(method, path, vec![("authorization", format!("Bearer {ROOT}")), ("content-type", "application/json".into())], body.to_string().into_bytes());
        assert!(r.status < 300, "{path}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        serde_json::from_slice(&r.body).unwrap_or(Value::Null)
    }
    fn form(&self, path: &str, pairs: &[(&str, &str)], headers: Vec<(&str, String)>) -> Response {
        let mut h = vec![("content-type", "application/x-www-form-urlencoded".to_string())];
        h.extend(headers);
        self.call("POST", path, h, form_encode(pairs.iter().copied()).into_bytes())
    }
    /// Runs `f` and returns what it did to the stores.
    fn counted(&self, f: impl FnOnce()) -> Counts {
        self.tally.take();
        f();
        self.tally.take()
    }
}

fn basic(id: &str, secret: &str) -> (&'static str, String) {
    use base64::Engine;
    ("authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))))
}

fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

#[test]
fn hot_paths_write_nothing_and_warm_caches_read_nothing() {
    let native = NativeRuntime::new().unwrap().with_root_secret(ROOT);
    let tally = Tally::default();
    // As on Workers with D1 read replication; the counts of a database without replicas are the
    // same with every replica round trip on the primary instead.
    let h = Harness { rt: Counting::replicated(&native, &tally), tally: &tally, server: Server::new() };
    let (svc_secret, app_secret) = flow_workspace(&h);
    let web = h.admin("POST", "/admin/tenants/acme/workspaces/main/clients", json!({"client_id": "web", "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT], "scope": "openid profile", "skip_consent": true}));
    let web_secret = web["client_secret"].as_str().unwrap().to_string();
    h.admin("POST", "/admin/tenants/acme/workspaces/main/clients", json!({"client_id": "asks", "grant_types": ["authorization_code"], "redirect_uris": [REDIRECT], "scope": "openid profile"}));

    let cc = || {
        let r = h.form("/acme/main/token", &[("grant_type", "client_credentials"), ("scope", "api")], vec![basic("svc", &svc_secret)]);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert!(json_of(&r)["access_token"].as_str().unwrap().split('.').count() == 3, "a JWT access token");
    };
    let discovery = || assert_eq!(h.call("GET", "/acme/main/.well-known/openid-configuration", vec![], vec![]).status, 200);
    let jwks = || assert_eq!(h.call("GET", "/acme/main/jwks", vec![], vec![]).status, 200);

    h.heartbeat();
    // Cold: the first calls load configuration, keys and the client, and write nothing.
    let cold = h.counted(|| {
        cc();
        discovery();
        jwks();
    });
    assert_eq!((cold.kv_writes, cold.sql_writes, cold.session_writes), (0, 0, 0), "cold hot paths wrote: {cold:?}");
    // The client and the keys come from a replica: no round trip to the primary, even cold.
    assert_eq!((cold.sql_round_trips, cold.replica_round_trips), (0, 2), "cold client_credentials, discovery and JWKS: {cold:?}");

    // Warm: nothing at all touches a store.
    let warm = h.counted(|| {
        for _ in 0..3 {
            cc();
            discovery();
            jwks();
        }
    });
    assert_eq!(warm, Counts::default(), "warm client_credentials, discovery and JWKS touched a store: {warm:?}");

    // Userinfo reads (is the grant still live, the user) but writes nothing.
    let q = format!(
        "response_type=code&client_id=web&redirect_uri={}&scope=openid%20profile&code_challenge={CHALLENGE}&code_challenge_method=S256",
        edgeauth_core::http::percent_encode(REDIRECT)
    );
    let page = h.call("GET", &format!("/acme/main/authorize?{q}"), vec![], vec![]);
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let csrf = page.headers.iter().find_map(|(k, v)| (k == "set-cookie").then(|| v.strip_prefix("ea_csrf=")).flatten()).unwrap().split(';').next().unwrap().to_string();
    let marker = "name=\"interaction\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let interaction = html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&");
    let mut r = Response::new(0);
    let login = h.counted(|| r = h.form("/acme/main/login", &[("interaction", &interaction), ("username", "ada"), ("password", "correct horse battery")], vec![("cookie", format!("ea_csrf={csrf}"))]));
    // A password sign-in: the client and the user read, then the grant and code in one batch, which
    // also records the user's last authentication (3 statements, the same 3 round trips as before
    // identity providers), and no KV read.
    assert_eq!((login.sql_round_trips, login.sql_reads, login.sql_writes, login.kv_reads, login.session_writes), (3, 2, 3, 0, 1), "password login: {login:?}");
    let loc = r.header("location").unwrap_or_else(|| panic!("no redirect: {} {}", r.status, String::from_utf8_lossy(&r.body)));
    let code = edgeauth_core::http::Params::parse(loc.split_once('?').unwrap().1).unwrap().get("code").unwrap().to_string();
    let mut tokens = Response::new(0);
    let redemption = h.counted(|| tokens = h.form("/acme/main/token", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)], vec![basic("web", &web_secret)]));
    assert_eq!(tokens.status, 200, "{}", String::from_utf8_lossy(&tokens.body));
    // Redeem the code (one write) and read the grant and its user (one read) in one batch, for a
    // client without refresh.
    assert_eq!((redemption.sql_writes, redemption.sql_reads), (1, 1), "code redemption statements: {redemption:?}");
    assert_eq!(redemption.sql_round_trips, 1, "code redemption round trips: {redemption:?}");
    let at = json_of(&tokens)["access_token"].as_str().unwrap().to_string();
    let userinfo = h.counted(|| {
        let r = h.call("GET", "/acme/main/userinfo", vec![("authorization", format!("Bearer {at}"))], vec![]);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(json_of(&r)["name"], "Ada");
    });
    assert_eq!((userinfo.kv_writes, userinfo.sql_writes, userinfo.session_writes), (0, 0, 0), "userinfo wrote: {userinfo:?}");
    assert_eq!((userinfo.sql_reads, userinfo.sql_round_trips, userinfo.replica_round_trips), (1, 0, 1), "userinfo asks a replica about revocation and the user, in one round trip: {userinfo:?}");

    // A rotating refresh: consume the token, read its grant and user, write its successor, in one
    // batch. The SSO session from the login above gives `app` a code without another login.
    let session = r.headers.iter().filter(|(k, _)| k == "set-cookie").filter_map(|(_, v)| v.split(';').next()).filter(|c| !c.ends_with('=')).collect::<Vec<_>>().join("; ");
    let q = q.replace("client_id=web", "client_id=app").replace("openid%20profile", "openid%20offline_access");
    let r = h.call("GET", &format!("/acme/main/authorize?{q}"), vec![("cookie", session.clone())], vec![]);
    let loc = r.header("location").unwrap_or_else(|| panic!("no redirect for app: {} {}", r.status, String::from_utf8_lossy(&r.body)));
    let code = edgeauth_core::http::Params::parse(loc.split_once('?').unwrap().1).unwrap().get("code").unwrap().to_string();
    let r = h.form("/acme/main/token", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)], vec![basic("app", &app_secret)]);
    let first = json_of(&r)["refresh_token"].as_str().unwrap_or_else(|| panic!("no refresh token: {}", String::from_utf8_lossy(&r.body))).to_string();
    let mut refreshed = Response::new(0);
    let rotation = h.counted(|| refreshed = h.form("/acme/main/token", &[("grant_type", "refresh_token"), ("refresh_token", &first)], vec![basic("app", &app_secret)]));
    assert_eq!(refreshed.status, 200, "{}", String::from_utf8_lossy(&refreshed.body));
    let second = json_of(&refreshed)["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first, "rotated");
    assert_eq!((rotation.sql_writes, rotation.sql_reads, rotation.sql_round_trips, rotation.replica_round_trips), (2, 1, 1, 0), "refresh rotation: one primary round trip: {rotation:?}");
    // The successor written in that batch is the one handed out: it refreshes once more.
    let r = h.form("/acme/main/token", &[("grant_type", "refresh_token"), ("refresh_token", &second)], vec![basic("app", &app_secret)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // A client that asks for consent: the remembered consent is checked by the batch that writes
    // the grant and code. Without one, that batch writes nothing and the consent page shows.
    let grants = || block_on(native.sql().query(Statement { sql: "SELECT COUNT(*) AS n FROM grants", params: vec![] })).unwrap()[0].int("n").unwrap();
    let asks = q.replace("client_id=app", "client_id=asks").replace("openid%20offline_access", "openid%20profile");
    // Once uncounted: the first request reads the client into the isolate's cache.
    h.call("GET", &format!("/acme/main/authorize?{asks}"), vec![("cookie", session.clone())], vec![]);
    let before = grants();
    let mut page = Response::new(0);
    let first = h.counted(|| page = h.call("GET", &format!("/acme/main/authorize?{asks}"), vec![("cookie", session.clone())], vec![]));
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(page.status == 200 && html.contains("name=\"decision\""), "a consent page: {} {html}", page.status);
    // The session check's read of the user's "sign out everywhere" cut-off (one primary-key read,
    // only with a live session) from a replica, then the batch on the primary.
    assert_eq!((first.sql_round_trips, first.replica_round_trips, grants()), (1, 1, before), "a missing consent: the cut-off read and one batch, nothing written: {first:?}");
    let start = html.find(marker).unwrap() + marker.len();
    let interaction = html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&");
    let csrf = page.headers.iter().find_map(|(k, v)| (k == "set-cookie").then(|| v.strip_prefix("ea_csrf=")).flatten()).unwrap().split(';').next().unwrap().to_string();
    let r = h.form("/acme/main/consent", &[("interaction", &interaction), ("decision", "allow")], vec![("cookie", format!("{session}; ea_csrf={csrf}"))]);
    assert!(r.header("location").is_some_and(|l| l.contains("code=")), "consent given: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let mut again = Response::new(0);
    let remembered = h.counted(|| again = h.call("GET", &format!("/acme/main/authorize?{asks}"), vec![("cookie", session.clone())], vec![]));
    assert!(again.header("location").is_some_and(|l| l.contains("code=")), "remembered: {} {}", again.status, String::from_utf8_lossy(&again.body));
    assert_eq!((remembered.sql_round_trips, remembered.replica_round_trips, grants()), (1, 1, before + 2), "a remembered consent: the session's cut-off from a replica, then checked and written in one primary round trip: {remembered:?}");
}

#[test]
fn a_cached_client_is_forgotten_when_the_workspace_changes_through_this_isolate() {
    let native = NativeRuntime::new().unwrap().with_root_secret(ROOT);
    let tally = Tally::default();
    let h = Harness { rt: Counting::new(&native, &tally), tally: &tally, server: Server::new() };
    h.admin("PUT", "/admin/tenants/acme", json!({"name": "Acme"}));
    h.admin("PUT", "/admin/tenants/acme/workspaces/main", json!({}));
    let svc = h.admin("POST", "/admin/tenants/acme/workspaces/main/clients", json!({"client_id": "svc", "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [], "scope": "profile"}));
    let secret = svc["client_secret"].as_str().unwrap().to_string();
    let cc = || h.form("/acme/main/token", &[("grant_type", "client_credentials")], vec![basic("svc", &secret)]).status;
    assert_eq!(cc(), 200);
    assert_eq!(h.counted(|| assert_eq!(cc(), 200)).sql_reads, 0, "the client is cached");
    // A write through this isolate's bootstrap API clears its cached copies of the workspace.
    h.admin("PUT", "/admin/tenants/acme/workspaces/main", json!({}));
    assert!(h.counted(|| assert_eq!(cc(), 200)).sql_reads > 0, "the client is read again after the workspace changed");
}

/// Tokens naming a `kid` the workspace does not have reload its keys once, not once per token.
#[test]
fn unknown_kids_reload_the_keys_at_most_once_per_interval() {
    use base64::Engine;
    let native = NativeRuntime::new().unwrap().with_root_secret(ROOT);
    let tally = Tally::default();
    let h = Harness { rt: Counting::new(&native, &tally), tally: &tally, server: Server::new() };
    h.admin("PUT", "/admin/tenants/acme", json!({"name": "Acme"}));
    h.admin("PUT", "/admin/tenants/acme/workspaces/main", json!({}));
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let forged = |i: u32| format!("{}.{}.c2ln", b64(json!({"alg": "ES256", "typ": "at+jwt", "kid": format!("invented-{i}")})), b64(json!({"sub": "x"})));
    let userinfo = |t: &str| assert_eq!(h.call("GET", "/acme/main/userinfo", vec![("authorization", format!("Bearer {t}"))], vec![]).status, 401);
    assert_eq!(h.call("GET", "/acme/main/jwks", vec![], vec![]).status, 200); // warms configuration and keys
    let first = h.counted(|| userinfo(&forged(1)));
    assert_eq!(first.sql_round_trips, 1, "the first unknown kid reloads the keys: {first:?}");
    let next = h.counted(|| (2..20).for_each(|i| userinfo(&forged(i))));
    assert_eq!(next.sql_round_trips, 0, "later unknown kids in the interval read nothing: {next:?}");
}

/// Where every request has a fresh instance (Spin), the keys come from their key-value copy: the
/// JWKS and a token then read no SQL (a fresh connection's first statement parses the schema),
/// a rotation drops the copy so the next request sees the new keys, and a copy older than the
/// configuration cache's lifetime is rebuilt from the table.
#[test]
fn per_request_instances_read_keys_from_their_key_value_copy() {
    let native = NativeRuntime::new().unwrap().with_root_secret(ROOT);
    let tally = Tally::default();
    // A fresh Server per call: nothing cached survives, as in a Spin instance.
    let fresh = || {
        let mut rt = Counting::new(&native, &tally);
        rt.per_request = true;
        Harness { rt, tally: &tally, server: Server::new() }
    };
    fresh().admin("PUT", "/admin/tenants/acme", json!({"name": "Acme"}));
    fresh().admin("PUT", "/admin/tenants/acme/workspaces/main", json!({}));
    let jwks = || {
        let r = fresh().call("GET", "/acme/main/jwks", vec![], vec![]);
        assert_eq!(r.status, 200);
        json_of(&r)["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let h = fresh();
    let first = h.counted(|| assert_eq!(jwks().len(), 3));
    assert_eq!((first.sql_reads, first.kv_writes), (1, 1), "the first JWKS reads the table and writes the copy: {first:?}");
    let second = h.counted(|| assert_eq!(jwks().len(), 3));
    assert_eq!((second.sql_reads, second.sql_round_trips, second.kv_writes), (0, 0, 0), "the copy serves the next instance: {second:?}");
    let before = jwks();

    let rotated = fresh().admin("POST", "/admin/tenants/acme/workspaces/main/keys/rotate", json!({}));
    let active: Vec<String> = rotated["active_kids"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
    let after = jwks();
    assert_eq!(after.len(), 6, "retired keys stay published: {after:?}");
    assert!(active.iter().all(|k| after.contains(k)) && before.iter().all(|k| after.contains(k)));

    // A stale copy (older than CONFIG_CACHE_TTL_MS) is not served.
    let stale = json!({ "built_at_ms": 0, "rows": [] }).to_string();
    block_on(native.kv().put("keys/acme/main", &stale)).unwrap();
    assert_eq!(jwks().len(), 6);
}

/// Where every request has a fresh instance (Spin), every discovery request builds its document:
/// it reads the workspace's configuration and its tenant (the Rich Authorization Requests flag),
/// and the workspace's authorization details types only where the flag is on; no SQL.
#[test]
fn per_request_discovery_reads_the_types_only_where_the_feature_is_on() {
    let native = NativeRuntime::new().unwrap().with_root_secret(ROOT);
    let tally = Tally::default();
    let fresh = || {
        let mut rt = Counting::new(&native, &tally);
        rt.per_request = true;
        Harness { rt, tally: &tally, server: Server::new() }
    };
    fresh().admin("PUT", "/admin/tenants/acme", json!({"name": "Acme"}));
    fresh().admin("PUT", "/admin/tenants/acme/workspaces/main", json!({}));
    let discovery = || {
        let r = fresh().call("GET", "/acme/main/.well-known/openid-configuration", vec![], vec![]);
        assert_eq!(r.status, 200);
        json_of(&r)
    };
    let h = fresh();
    let off = h.counted(|| assert!(discovery().get("authorization_details_types_supported").is_none()));
    assert_eq!((off.kv_reads, off.sql_round_trips), (2, 0), "the flag off: {off:?}");

    let key = edgeauth_core::config::tenant_key("acme");
    let mut tenant: Value = serde_json::from_str(&block_on(native.kv().get(&key)).unwrap().unwrap()).unwrap();
    tenant["features"] = json!({ "rich_authorization_requests": true });
    block_on(native.kv().put(&key, &tenant.to_string())).unwrap();
    let on = h.counted(|| {
        discovery();
    });
    assert_eq!((on.kv_reads, on.sql_round_trips), (3, 0), "the flag on: {on:?}");
}

/// A workspace for the flow tests: user `ada`, confidential clients `svc` (client_credentials) and
/// `app` (code with refresh, no consent screen). Returns the secrets of `svc` and `app`.
fn flow_workspace(h: &Harness) -> (String, String) {
    h.admin("PUT", "/admin/tenants/acme", json!({"name": "Acme"}));
    let mut scopes = serde_json::to_value(edgeauth_core::config::WorkspaceConfig::default().scopes).unwrap();
    scopes["api"] = json!({"description": "API"});
    h.admin("PUT", "/admin/tenants/acme/workspaces/main", json!({ "scopes": scopes }));
    h.admin("POST", "/admin/tenants/acme/workspaces/main/users", json!({"username": "ada", "password": "correct horse battery", "claims": {"name": "Ada"}}));
    let svc = h.admin("POST", "/admin/tenants/acme/workspaces/main/clients", json!({"client_id": "svc", "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [], "scope": "api"}));
    let app = h.admin("POST", "/admin/tenants/acme/workspaces/main/clients", json!({"client_id": "app", "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": [REDIRECT], "scope": "openid profile offline_access", "skip_consent": true}));
    (svc["client_secret"].as_str().unwrap().to_string(), app["client_secret"].as_str().unwrap().to_string())
}

fn authorize_query() -> String {
    format!(
        "response_type=code&client_id=app&redirect_uri={}&scope=openid%20profile%20offline_access&code_challenge={CHALLENGE}&code_challenge_method=S256",
        edgeauth_core::http::percent_encode(REDIRECT)
    )
}

fn code_of(r: &Response) -> String {
    let loc = r.header("location").unwrap_or_else(|| panic!("no redirect: {} {}", r.status, String::from_utf8_lossy(&r.body)));
    edgeauth_core::http::Params::parse(loc.split_once('?').unwrap().1).unwrap().get("code").unwrap_or_else(|| panic!("no code: {loc}")).to_string()
}

/// Signs `ada` in through the login page; returns the SSO session's cookies.
fn sign_in(h: &Harness) -> String {
    let page = h.call("GET", &format!("/acme/main/authorize?{}", authorize_query()), vec![], vec![]);
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let csrf = page.headers.iter().find_map(|(k, v)| (k == "set-cookie").then(|| v.strip_prefix("ea_csrf=")).flatten()).unwrap().split(';').next().unwrap().to_string();
    let marker = "name=\"interaction\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let interaction = html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&");
    let r = h.form("/acme/main/login", &[("interaction", &interaction), ("username", "ada"), ("password", "correct horse battery")], vec![("cookie", format!("ea_csrf={csrf}"))]);
    code_of(&r);
    r.headers.iter().filter(|(k, _)| k == "set-cookie").filter_map(|(_, v)| v.split(';').next()).filter(|c| !c.ends_with('=') && !c.starts_with("ea_csrf")).collect::<Vec<_>>().join("; ")
}

/// Tokens from a code flow that rides the SSO session (authorize, then the code redeemed).
fn tokens_with_session(h: &Harness, session: &str, app_secret: &str) -> Value {
    let code = code_of(&h.call("GET", &format!("/acme/main/authorize?{}", authorize_query()), vec![("cookie", session.to_string())], vec![]));
    let r = h.form("/acme/main/token", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)], vec![basic("app", app_secret)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    json_of(&r)
}

fn userinfo_status(h: &Harness, access_token: &str) -> u16 {
    h.call("GET", "/acme/main/userinfo", vec![("authorization", format!("Bearer {access_token}"))], vec![]).status
}

/// The number of sequential round trips to the primary database per flow, with read replicas as
/// on Workers (the engine awaits every store call before the next, so each round trip is
/// sequential): for a relying party and a user far from the primary, each is a crossing of the
/// world. client_credentials, discovery, JWKS, userinfo and introspection make none; a refresh
/// makes one; a whole code flow with an SSO session (authorize, token, userinfo) two.
#[test]
fn sequential_primary_round_trips_per_flow() {
    let native = NativeRuntime::new().unwrap().with_root_secret(ROOT);
    let tally = Tally::default();
    let h = Harness { rt: Counting::replicated(&native, &tally), tally: &tally, server: Server::new() };
    let (svc_secret, app_secret) = flow_workspace(&h);
    let session = sign_in(&h);
    h.heartbeat();
    // Warm the isolate's caches (configuration, keys, clients) as a busy isolate has them.
    let first = tokens_with_session(&h, &session, &app_secret);
    let primary = |f: &dyn Fn()| h.counted(f).sql_round_trips;

    let cc = || {
        let r = h.form("/acme/main/token", &[("grant_type", "client_credentials"), ("scope", "api")], vec![basic("svc", &svc_secret)]);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    assert_eq!(primary(&cc), 0, "client_credentials");
    assert_eq!(primary(&|| assert_eq!(h.call("GET", "/acme/main/.well-known/openid-configuration", vec![], vec![]).status, 200)), 0, "discovery");
    assert_eq!(primary(&|| assert_eq!(h.call("GET", "/acme/main/jwks", vec![], vec![]).status, 200)), 0, "JWKS");
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(primary(&|| assert_eq!(userinfo_status(&h, at), 200)), 0, "userinfo");
    let introspect = |token: &str| {
        let r = h.form("/acme/main/introspect", &[("token", token)], vec![basic("app", &app_secret)]);
        assert_eq!(r.status, 200);
        assert_eq!(json_of(&r)["active"], true, "{}", String::from_utf8_lossy(&r.body));
    };
    assert_eq!(primary(&|| introspect(at)), 0, "introspection of an access token");
    let rt = first["refresh_token"].as_str().unwrap();
    assert_eq!(primary(&|| introspect(rt)), 0, "introspection of a refresh token");
    let refresh = || {
        let r = h.form("/acme/main/token", &[("grant_type", "refresh_token"), ("refresh_token", rt)], vec![basic("app", &app_secret)]);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    assert_eq!(primary(&refresh), 1, "refresh");
    let flow = || {
        let tokens = tokens_with_session(&h, &session, &app_secret);
        assert!(tokens["refresh_token"].is_string(), "the redemption stored a refresh token in its batch");
        assert_eq!(userinfo_status(&h, tokens["access_token"].as_str().unwrap()), 200);
    };
    assert_eq!(primary(&flow), 2, "the code flow with an SSO session: authorize, token, userinfo");

    // Without replicas (Spin, the native server) the same reads go to the one database.
    let tally = Tally::default();
    let h = Harness { rt: Counting::new(&native, &tally), tally: &tally, server: Server::new() };
    assert_eq!(userinfo_status(&h, at), 200); // warms this isolate's caches
    let c = h.counted(|| assert_eq!(userinfo_status(&h, at), 200));
    assert_eq!((c.sql_round_trips, c.replica_round_trips), (1, 0), "userinfo without replicas: {c:?}");
}

/// A replica that lags: its answers are used only while its copy of the replica clock is within
/// `STALENESS_BOUND_MS` (30 s) of now, so a revocation is invisible to it for at most that long;
/// a grant it does not have yet is asked of the primary; a stale replica sends the read to the
/// primary, which moves the clock so the replicas are fresh again once they catch up.
#[test]
fn a_lagging_replica_is_believed_only_within_the_staleness_bound() {
    let native = NativeRuntime::new().unwrap().with_root_secret(ROOT);
    let tally = Tally::default();
    let h = Harness { rt: Counting::replicated(&native, &tally), tally: &tally, server: Server::new() };
    let (_, app_secret) = flow_workspace(&h);
    let clock = || block_on(native.sql().query(Statement { sql: edgeauth_core::store::sql::REPLICA_CLOCK_GET, params: vec![] })).unwrap().first().and_then(|r| r.int("at_ms"));

    // The first replica read (the sign-in's client lookup) finds no clock: it goes to the primary
    // and writes the clock.
    assert_eq!(clock(), None);
    let session = sign_in(&h);
    let tokens = tokens_with_session(&h, &session, &app_secret);
    assert!(clock().is_some(), "the clock was written by the first read through a stale replica");
    h.rt.lag();

    // A grant issued after the replica stopped: not on the replica, so the primary is asked.
    let fresh = tokens_with_session(&h, &session, &app_secret);
    let at = fresh["access_token"].as_str().unwrap();
    let c = h.counted(|| assert_eq!(userinfo_status(&h, at), 200, "a new grant is found on the primary"));
    assert_eq!((c.replica_round_trips, c.sql_round_trips), (1, 1), "replica, then primary: {c:?}");

    // Revoke the first grant's access token on the primary; the lagging replica still has it live.
    let old = tokens["access_token"].as_str().unwrap();
    let r = h.form("/acme/main/revoke", &[("token", old)], vec![basic("app", &app_secret)]);
    assert_eq!(r.status, 200);
    let c = h.counted(|| assert_eq!(userinfo_status(&h, old), 200, "within the bound, the replica's answer stands"));
    assert_eq!((c.replica_round_trips, c.sql_round_trips), (1, 0), "{c:?}");

    // Past the bound the replica's clock is too old: the primary answers, and the revocation shows.
    native.advance_clock(31);
    let now = || edgeauth_core::runtime::Clock::now_ms(native.clock()) as i64;
    let before = now();
    let c = h.counted(|| {
        let r = h.call("GET", "/acme/main/userinfo", vec![("authorization", format!("Bearer {old}"))], vec![]);
        assert_eq!(r.status, 401, "the revocation is seen once the replica is too stale");
        assert!(r.header("www-authenticate").is_some_and(|w| w.contains("error=\"invalid_token\"")), "{:?}", r.header("www-authenticate"));
    });
    // The isolate's caches expired with the same 31 s, so the keys and the token's client are read
    // again too: each read goes to the stale replica, then to the primary.
    assert_eq!((c.replica_round_trips, c.sql_round_trips), (3, 3), "{c:?}");
    assert!(clock().is_some_and(|at| at >= before && at <= now()), "the primary's clock moved to now");
    // The replica stays stale until it catches up, and then answers again (the revocation with it).
    assert_eq!(userinfo_status(&h, old), 401);
    h.rt.catch_up();
    let c = h.counted(|| assert_eq!(userinfo_status(&h, old), 401));
    assert_eq!((c.replica_round_trips, c.sql_round_trips), (1, 0), "a caught-up replica answers alone: {c:?}");
    assert_eq!(userinfo_status(&h, at), 200);
}
