//! Whole flows through the engine on the native runtime (SQLite, in-memory KV, pure-Rust crypto),
//! without HTTP: fast checks of the protocol logic that the HTTP scenario suite repeats per target.

use edgeauth_core::http::{form_encode, Params};
use edgeauth_core::{Request, Response, Server};
use edgeauth_testkit::{block_on, NativeRuntime};
use serde_json::{json, Value};

const ROOT: &str = "root-secret-for-tests-0123456789";
const ORIGIN: &str = "https://as.example";
const REDIRECT: &str = "https://rp.example/cb";

struct Harness {
    rt: NativeRuntime,
    server: Server,
}

fn body_json(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn body_text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The value of a hidden input in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].replace("&amp;", "&")
}

fn set_cookie_value(r: &Response, name: &str) -> Option<String> {
    r.headers.iter().filter(|(k, _)| k == "set-cookie").find_map(|(_, v)| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap().to_string()))
}

fn location_params(r: &Response) -> Params {
    let loc = r.header("location").unwrap_or_else(|| panic!("no location: {} {}", r.status, body_text(r)));
    Params::parse(loc.split_once('?').map(|(_, q)| q).unwrap_or("")).unwrap()
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

impl Harness {
    fn new() -> Harness {
        let h = Harness { rt: NativeRuntime::new().unwrap().with_root_secret(ROOT), server: Server::new() };
        h.admin("PUT", "/admin/tenants/acme", json!({"name": "Acme"}));
        h.admin("PUT", "/admin/tenants/acme/workspaces/main", json!({}));
        h
    }

    fn call(&self, method: &str, path: &str, headers: Vec<(&str, String)>, body: Vec<u8>) -> Response {
        let headers = headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        block_on(self.server.handle(&self.rt, Request::new(method, &format!("{ORIGIN}{path}"), headers, body)))
    }

    fn admin(&self, method: &str, path: &str, body: Value) -> Response {
        let r = self.call(method, path, vec![("authorization", format!("Bearer {ROOT}")), ("content-type", "application/json".into())], body.to_string().into_bytes());
        assert!(r.status < 300, "{path}: {} {}", r.status, body_text(&r));
        r
    }

    fn client(&self, metadata: Value) -> Value {
        body_json(&self.admin("POST", "/admin/tenants/acme/workspaces/main/clients", metadata))
    }

    fn form(&self, path: &str, pairs: &[(&str, &str)], cookies: &str, basic: Option<(&str, &str)>) -> Response {
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded".to_string())];
        if !cookies.is_empty() {
            headers.push(("cookie", cookies.to_string()));
        }
        if let Some((id, secret)) = basic {
            use base64::Engine;
            headers.push(("authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))));
        }
        self.call("POST", path, headers, form_encode(pairs.iter().copied()).into_bytes())
    }

    /// authorize -> login -> consent; returns the redirect and the browser's cookies.
    fn login_flow(&self, client_id: &str, extra: &str) -> (Response, String) {
        let q = format!("response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20profile%20email&state=s1&nonce=n1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}", edgeauth_core::http::percent_encode(REDIRECT));
        let page = self.call("GET", &format!("/acme/main/authorize?{q}"), vec![], vec![]);
        assert_eq!(page.status, 200, "{}", body_text(&page));
        let csrf = set_cookie_value(&page, "ea_csrf").unwrap();
        let interaction = hidden(&body_text(&page), "interaction");
        let cookies = format!("ea_csrf={csrf}");
        let r = self.form("/acme/main/login", &[("interaction", &interaction), ("username", "ada"), ("password", "correct horse battery")], &cookies, None);
        let sid = set_cookie_value(&r, "ea_session").expect("session cookie");
        let cookies = format!("ea_csrf={csrf}; ea_session={sid}");
        if r.status == 200 {
            let interaction = hidden(&body_text(&r), "interaction");
            let r = self.form("/acme/main/consent", &[("interaction", &interaction), ("decision", "allow")], &cookies, None);
            return (r, cookies);
        }
        (r, cookies)
    }
}

fn setup() -> (Harness, String, String) {
    let h = Harness::new();
    h.admin("POST", "/admin/tenants/acme/workspaces/main/users", json!({"username": "ada", "password": "correct horse battery", "claims": {"name": "Ada Lovelace", "email": "ada@example.com", "email_verified": true}}));
    let c = h.client(json!({"client_id": "web", "client_name": "Web", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "scope": "openid profile email offline_access api"}));
    (h, "web".into(), c["client_secret"].as_str().unwrap().to_string())
}

fn redeem(h: &Harness, code: &str, secret: &str) -> Response {
    h.form("/acme/main/token", &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)], "", Some(("web", secret)))
}

#[test]
fn code_flow_with_login_consent_and_sso() {
    let (h, client, secret) = setup();
    let (r, cookies) = h.login_flow(&client, "");
    assert_eq!(r.status, 303);
    let p = location_params(&r);
    assert_eq!(p.get("state"), Some("s1"));
    assert_eq!(p.get("iss"), Some("https://as.example/acme/main"));
    let tokens = redeem(&h, p.get("code").unwrap(), &secret);
    assert_eq!(tokens.status, 200, "{}", body_text(&tokens));
    let t = body_json(&tokens);
    assert!(t["id_token"].is_string() && t["refresh_token"].is_string());
    assert_eq!(t["token_type"], "Bearer");

    let ui = h.call("GET", "/acme/main/userinfo", vec![("authorization", format!("Bearer {}", t["access_token"].as_str().unwrap()))], vec![]);
    assert_eq!(ui.status, 200, "{}", body_text(&ui));
    assert_eq!(body_json(&ui)["email"], "ada@example.com");

    // SSO: a second authorize with the session cookie goes straight back with a code.
    let q = format!("response_type=code&client_id=web&redirect_uri={}&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256", edgeauth_core::http::percent_encode(REDIRECT));
    let again = h.call("GET", &format!("/acme/main/authorize?{q}"), vec![("cookie", cookies)], vec![]);
    assert_eq!(again.status, 303, "{}", body_text(&again));
    assert!(location_params(&again).get("code").is_some());
}

#[test]
fn replayed_code_fails_and_revokes_its_tokens() {
    let (h, client, secret) = setup();
    let (r, _) = h.login_flow(&client, "");
    let code = location_params(&r).get("code").unwrap().to_string();
    let first = body_json(&redeem(&h, &code, &secret));
    let replay = redeem(&h, &code, &secret);
    assert_eq!(replay.status, 400);
    assert_eq!(body_json(&replay)["error"], "invalid_grant");
    let ui = h.call("GET", "/acme/main/userinfo", vec![("authorization", format!("Bearer {}", first["access_token"].as_str().unwrap()))], vec![]);
    assert_eq!(ui.status, 401);
    assert_eq!(body_json(&ui)["error"], "invalid_token");
    let refresh = h.form("/acme/main/token", &[("grant_type", "refresh_token"), ("refresh_token", first["refresh_token"].as_str().unwrap())], "", Some(("web", &secret)));
    assert_eq!(body_json(&refresh)["error"], "invalid_grant");
}

#[test]
fn refresh_rotation_and_reuse_detection() {
    let (h, client, secret) = setup();
    let (r, _) = h.login_flow(&client, "");
    let t1 = body_json(&redeem(&h, location_params(&r).get("code").unwrap(), &secret));
    let rt1 = t1["refresh_token"].as_str().unwrap();
    let r2 = h.form("/acme/main/token", &[("grant_type", "refresh_token"), ("refresh_token", rt1)], "", Some(("web", &secret)));
    assert_eq!(r2.status, 200, "{}", body_text(&r2));
    let rt2 = body_json(&r2)["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    let reuse = h.form("/acme/main/token", &[("grant_type", "refresh_token"), ("refresh_token", rt1)], "", Some(("web", &secret)));
    assert_eq!(body_json(&reuse)["error"], "invalid_grant");
    // The family is revoked: the newest token no longer works either.
    let r3 = h.form("/acme/main/token", &[("grant_type", "refresh_token"), ("refresh_token", &rt2)], "", Some(("web", &secret)));
    assert_eq!(body_json(&r3)["error"], "invalid_grant");
}

#[test]
fn pkce_downgrade_and_mismatch_are_refused() {
    let (h, client, secret) = setup();
    let (r, _) = h.login_flow(&client, "");
    let code = location_params(&r).get("code").unwrap().to_string();
    let wrong = h.form("/acme/main/token", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &"x".repeat(43))], "", Some(("web", &secret)));
    assert_eq!(body_json(&wrong)["error"], "invalid_grant");
    let plain = h.call(
        "GET",
        &format!("/acme/main/authorize?response_type=code&client_id=web&redirect_uri={}&scope=openid&state=z&code_challenge={VERIFIER}&code_challenge_method=plain", edgeauth_core::http::percent_encode(REDIRECT)),
        vec![],
        vec![],
    );
    let p = location_params(&plain);
    assert_eq!(p.get("error"), Some("invalid_request"));
    assert_eq!(p.get("state"), Some("z"));
}

#[test]
fn client_credentials_and_errors() {
    let (h, _, secret) = setup();
    let ok = h.form("/acme/main/token", &[("grant_type", "client_credentials"), ("scope", "api")], "", Some(("web", &secret)));
    assert_eq!(ok.status, 200, "{}", body_text(&ok));
    assert_eq!(body_json(&ok)["scope"], "api");
    let bad_secret = h.form("/acme/main/token", &[("grant_type", "client_credentials")], "", Some(("web", "nope")));
    assert_eq!(bad_secret.status, 401);
    assert_eq!(body_json(&bad_secret)["error"], "invalid_client");
    let bad_scope = h.form("/acme/main/token", &[("grant_type", "client_credentials"), ("scope", "admin")], "", Some(("web", &secret)));
    assert_eq!(body_json(&bad_scope)["error"], "invalid_scope");
    let dup = h.call("POST", "/acme/main/token", vec![("content-type", "application/x-www-form-urlencoded".into())], b"grant_type=client_credentials&grant_type=client_credentials".to_vec());
    assert_eq!(body_json(&dup)["error"], "invalid_request");
}

#[test]
fn unknown_tenant_and_workspace_are_clean_404s() {
    let h = Harness::new();
    let r = h.call("GET", "/nope/main/.well-known/openid-configuration", vec![], vec![]);
    assert_eq!(r.status, 404);
    assert_eq!(body_json(&r)["error_description"], "unknown tenant 'nope'");
    let r = h.call("GET", "/acme/nope/.well-known/openid-configuration", vec![], vec![]);
    assert_eq!(body_json(&r)["error_description"], "unknown workspace 'nope'");
    let r = h.call("GET", "/acme/main/.well-known/openid-configuration", vec![], vec![]);
    assert_eq!(body_json(&r)["issuer"], "https://as.example/acme/main");
}

/// A failure of ours (here a table is gone) is a bare 500: the response says nothing of it, and
/// the response's failure record, which the adapter logs, keeps the cause and says where.
#[test]
fn a_storage_failure_is_a_500_whose_cause_is_logged_never_shown() {
    use edgeauth_core::runtime::{Runtime, SqlDatabase, Statement};
    let (h, _, secret) = setup();
    let (r, _) = h.login_flow("web", "");
    let code = location_params(&r).get("code").unwrap().to_string();
    block_on(h.rt.sql().query(Statement::new("DROP TABLE refresh_tokens", vec![]))).unwrap();
    let r = redeem(&h, &code, &secret);
    assert_eq!((r.status, body_json(&r)["error"].as_str()), (500, Some("server_error")));
    assert!(!body_text(&r).contains("refresh_tokens"), "the cause is not shown: {}", body_text(&r));
    let f = r.failure.as_ref().expect("a failure record for the log");
    assert_eq!((f.tenant.as_str(), f.workspace.as_str(), f.endpoint.as_str(), f.status, f.kind), ("acme", "main", "token", 500, "server_error"));
    assert!(f.cause.as_deref().is_some_and(|c| c.contains("no such table: refresh_tokens")), "{:?}", f.cause);
    let line: Value = serde_json::from_str(&f.log_line(|| "r-1".to_string())).unwrap();
    assert_eq!((line["event"].as_str(), line["request_id"].as_str()), (Some("request_failed"), Some("r-1")));
}

/// A write that spans key-value and SQL leaves nothing behind when its SQL step fails: the
/// document in key-value, which makes a tenant or workspace exist, is written last.
#[test]
fn a_failed_sql_step_leaves_no_half_written_tenant_or_workspace() {
    use edgeauth_core::config;
    use edgeauth_core::runtime::{KvStore, Runtime, SqlDatabase, Statement};
    let h = Harness::new();
    let sql = |q: &'static str| block_on(h.rt.sql().query(Statement::new(q, vec![]))).unwrap();
    let put = |path: &str| h.call("PUT", path, vec![("authorization", format!("Bearer {ROOT}")), ("content-type", "application/json".into())], b"{\"name\":\"Ghost\"}".to_vec());
    sql("DROP TABLE tenants");
    assert_eq!(put("/admin/tenants/ghost").status, 500);
    assert_eq!(block_on(h.rt.kv().get(&config::tenant_key("ghost"))).unwrap(), None, "no tenant document without its index row");
    sql("DROP TABLE workspaces");
    assert_eq!(put("/admin/tenants/acme/workspaces/ghost").status, 500);
    assert_eq!(block_on(h.rt.kv().get(&config::workspace_key("acme", "ghost"))).unwrap(), None, "no workspace document");
    let keys = sql("SELECT COUNT(*) AS n FROM signing_keys WHERE tenant = 'acme' AND workspace = 'ghost'");
    assert_eq!(keys[0].int("n"), Some(0), "no signing keys for a workspace that was not created");
    // The workspace that existed still answers.
    assert_eq!(h.call("GET", "/acme/main/.well-known/openid-configuration", vec![], vec![]).status, 200);
}

/// Over https (this harness's origin), every answer keeps browsers on https and off MIME sniffing.
#[test]
fn https_answers_carry_hsts_and_nosniff() {
    let h = Harness::new();
    for path in ["/acme/main/.well-known/openid-configuration", "/acme/main/nothing-here", "/api/tenants"] {
        let r = h.call("GET", path, vec![], vec![]);
        assert_eq!(r.header("strict-transport-security"), Some("max-age=31536000"), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{path}");
    }
}
