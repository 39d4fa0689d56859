//! Limits on guessing credentials: failed sign-ins per account and per client address, failed
//! client authentications per client and per address, and the posts of one login form.
//!
//! The rule is here, as pure functions over one counter ([`lock_secs`], [`verdict`],
//! [`lifetime_steps`]); the counters are the runtime's atomic [`CounterStore`] (a Durable Object
//! per key on Workers, a SQLite table on Spin and natively). [`Guard`] applies the rule to the
//! counters of one attempt. The numbers are the workspace's `throttle` configuration.
//!
//! - A key is locked once it has `max_failures` failures: for `base_lock_secs`, and for twice as
//!   long as the lock before for each failure after that (each one made once the previous lock
//!   ended), up to `max_lock_secs`. While it is locked, attempts are answered 429 with
//!   `Retry-After` and their credentials are not checked (no password hash is spent on them).
//! - A counter forgets its failures `window_secs` after the last one; once they have locked it,
//!   `window_secs + max_lock_secs` after the last one. So waiting out a short lock and a window
//!   does not wipe the count (the next failure locks for twice as long): an attacker who waits for
//!   counters to be forgotten gets `max_failures` guesses per `window_secs + max_lock_secs`.
//! - An account is counted by its login name whether or not it exists, so neither the answers nor
//!   the locks tell which accounts exist. A sign-in resets its account's counter; nothing resets
//!   an address's (many people may share one) or a client's.

use crate::config::ThrottleConfig;
use crate::crypto;
use crate::engine::{self, Ctx};
use crate::error::OAuthError;
use crate::http::Request;
use crate::runtime::{Counter, CounterStore, Lifetime, Runtime};
use std::net::IpAddr;

/// One limit: how many failures lock a key, for how long, and how long they are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_failures: i64,
    pub window_secs: i64,
    pub base_lock_secs: i64,
    pub max_lock_secs: i64,
}

impl Limit {
    fn with(c: &ThrottleConfig, max_failures: i64) -> Limit {
        Limit { max_failures, window_secs: c.window_secs, base_lock_secs: c.base_lock_secs, max_lock_secs: c.max_lock_secs }
    }
    pub fn account(c: &ThrottleConfig) -> Limit {
        Limit::with(c, c.account_max_failures)
    }
    pub fn address(c: &ThrottleConfig) -> Limit {
        Limit::with(c, c.address_max_failures)
    }
    pub fn client(c: &ThrottleConfig) -> Limit {
        Limit::with(c, c.client_max_failures)
    }
}

/// The error of a sign-in refused because the login name or the address is locked: 429 with
/// `Retry-After` (the sign-in page and the account page's password change; its description goes to the log).
pub fn locked_error(retry_after_secs: i64) -> OAuthError {
    OAuthError::temporarily_locked(retry_after_secs, "too many failed sign-ins; the login name or the address is locked for now")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Locked { retry_after_secs: i64 },
}

impl Verdict {
    /// Locked if either is, for as long as the longer lock.
    fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Locked { retry_after_secs: a }, Verdict::Locked { retry_after_secs: b }) => Verdict::Locked { retry_after_secs: a.max(b) },
            (Verdict::Allowed, v) | (v, Verdict::Allowed) => v,
        }
    }
}

/// How long `failures` lock a key, counted from the last of them: nothing below the limit, then
/// `base_lock_secs`, doubled for each failure beyond the limit, at most `max_lock_secs`.
pub fn lock_secs(limit: &Limit, failures: i64) -> i64 {
    if failures < limit.max_failures {
        return 0;
    }
    let doublings = (failures - limit.max_failures).min(40) as u32;
    limit.base_lock_secs.saturating_mul(1i64 << doublings).min(limit.max_lock_secs)
}

/// Whether a key whose counter is `counter` is locked at `now`, and for how much longer.
pub fn verdict(limit: &Limit, counter: Option<&Counter>, now: i64) -> Verdict {
    match counter {
        Some(c) if c.count >= limit.max_failures && now < c.last_at + lock_secs(limit, c.count) => Verdict::Locked { retry_after_secs: c.last_at + lock_secs(limit, c.count) - now },
        _ => Verdict::Allowed,
    }
}

/// The counter's lifetime after a failure, by the count it reached (see [`Lifetime`]): the window
/// below the limit; from the limit on, the window plus the longest lock. A key that was locked
/// thus stays counted through any lock and a window after it, however long its attacker waits
/// between locks short of that: each failure after a lock locks it for longer.
pub fn lifetime_steps(limit: &Limit) -> Vec<(i64, i64)> {
    let locked = (limit.max_failures.max(1), limit.window_secs + limit.max_lock_secs);
    if limit.max_failures > 1 {
        vec![(1, limit.window_secs), locked]
    } else {
        vec![locked]
    }
}

/// A login name as the user store looks it up (trimmed, lower-cased), so every spelling of one
/// account shares its counter.
pub fn login_name(username: &str) -> String {
    username.trim().to_lowercase()
}

/// What an address is counted as: an IPv4 address itself (an IPv4-mapped IPv6 one too), an IPv6
/// address by its /64, the block one subscriber usually holds whole (counting single IPv6
/// addresses would give each attacker billions of fresh counters).
pub fn address_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// A counter's key: what it counts, in which workspace, of whom. Values a caller chose (login
/// names, client ids) enter as hashes, so a key is short and holds no login name.
fn key<R: Runtime>(ctx: &Ctx<'_, R>, kind: &str, who: &str) -> String {
    format!("throttle:{kind}:{}/{}:{who}", ctx.tenant, ctx.workspace)
}

fn hashed(value: &str) -> String {
    crypto::sha256_b64url(value.as_bytes())
}

/// Whom a counter counts: a name a caller chose (a login name, a client id: it enters the key as a
/// hash), or an address (by its bucket).
enum Who {
    Named(String),
    Address(IpAddr),
}

/// One watched counter of an attempt: whom it counts and how (its key, built on first use), its
/// limit, and what a read found. Most attempts need no key at all: they succeed, in an isolate
/// that knows of no lock, without reading the counters (Workers), so the hash and the key wait.
struct Watched {
    kind: &'static str,
    who: Who,
    key: std::cell::OnceCell<String>,
    limit: Limit,
    seen: Option<Counter>,
}

impl Watched {
    fn new(kind: &'static str, who: Who, limit: Limit) -> Watched {
        Watched { kind, who, key: std::cell::OnceCell::new(), limit, seen: None }
    }

    fn key<R: Runtime>(&self, ctx: &Ctx<'_, R>) -> &str {
        self.key.get_or_init(|| {
            let who = match &self.who {
                Who::Named(name) => hashed(name),
                Who::Address(ip) => address_bucket(*ip),
            };
            key(ctx, self.kind, &who)
        })
    }

    fn known_lock<R: Runtime>(&self, ctx: &Ctx<'_, R>) -> Verdict {
        if !ctx.server.knows_locks() {
            return Verdict::Allowed;
        }
        match ctx.server.known_lock(self.key(ctx), ctx.now) {
            Some(until) => Verdict::Locked { retry_after_secs: until - ctx.now },
            None => Verdict::Allowed,
        }
    }

    /// The verdict on a counter the store returned; a lock is remembered in the isolate.
    fn judge<R: Runtime>(&mut self, ctx: &Ctx<'_, R>, counter: Option<Counter>) -> Verdict {
        self.seen = counter;
        let v = verdict(&self.limit, counter.as_ref(), ctx.now);
        if let Verdict::Locked { retry_after_secs } = v {
            ctx.server.remember_lock(self.key(ctx), ctx.now + retry_after_secs, ctx.now);
        }
        v
    }

    async fn read<R: Runtime>(&mut self, ctx: &Ctx<'_, R>) -> Result<Verdict, OAuthError> {
        let counter = ctx.rt.counters().get(self.key(ctx), ctx.now).await?;
        Ok(self.judge(ctx, counter))
    }

    async fn fail<R: Runtime>(&mut self, ctx: &Ctx<'_, R>) -> Result<Verdict, OAuthError> {
        let steps = lifetime_steps(&self.limit);
        let counter = ctx.rt.counters().increment(self.key(ctx), ctx.now, Lifetime(&steps)).await?;
        Ok(self.judge(ctx, Some(counter)))
    }
}

/// The counters one attempt is judged by: the account or client it names, and the address it
/// comes from (when the platform reported one).
pub struct Guard {
    named: Watched,
    address: Option<Watched>,
    /// A success resets the named counter (accounts: a user who signs in starts afresh).
    reset_on_success: bool,
}

impl Guard {
    /// A sign-in with `username` (any spelling; see [`login_name`]).
    pub fn login<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, username: &str) -> Guard {
        let c = &ctx.config.throttle;
        Guard {
            named: Watched::new("account", Who::Named(login_name(username)), Limit::account(c)),
            address: req.client_address.map(|ip| Watched::new("login-address", Who::Address(ip), Limit::address(c))),
            reset_on_success: true,
        }
    }

    /// A client authentication as `client_id`. Its address is counted apart from sign-ins, so a
    /// misconfigured backend cannot lock out the people who share its address, nor they it.
    pub fn client<R: Runtime>(ctx: &Ctx<'_, R>, req: &Request, client_id: &str) -> Guard {
        let c = &ctx.config.throttle;
        Guard {
            named: Watched::new("client", Who::Named(client_id.to_string()), Limit::client(c)),
            address: req.client_address.map(|ip| Watched::new("client-address", Who::Address(ip), Limit::address(c))),
            reset_on_success: false,
        }
    }

    /// Before the credentials are checked: locked when this isolate knows of a lock in force or,
    /// with `read`, when the store says so. Reading costs a round trip per counter (both at once).
    pub async fn check<R: Runtime>(&mut self, ctx: &Ctx<'_, R>, read: bool) -> Result<Verdict, OAuthError> {
        let known = self.named.known_lock(ctx).and(self.address.as_ref().map_or(Verdict::Allowed, |a| a.known_lock(ctx)));
        if known != Verdict::Allowed || !read {
            return Ok(known);
        }
        let (named, address) = (&mut self.named, &mut self.address);
        let (named, address) = engine::both(named.read(ctx), async {
            match address {
                Some(a) => a.read(ctx).await.map(Some),
                None => Ok(None),
            }
        })
        .await;
        Ok(named?.and(address?.unwrap_or(Verdict::Allowed)))
    }

    /// The credentials were wrong: one more failure on each counter. Locked when that reached a
    /// limit (the failure that reaches it is answered as locked already).
    pub async fn failed<R: Runtime>(&mut self, ctx: &Ctx<'_, R>) -> Result<Verdict, OAuthError> {
        let (named, address) = (&mut self.named, &mut self.address);
        let (named, address) = engine::both(named.fail(ctx), async {
            match address {
                Some(a) => a.fail(ctx).await.map(Some),
                None => Ok(None),
            }
        })
        .await;
        Ok(named?.and(address?.unwrap_or(Verdict::Allowed)))
    }

    /// The credentials were right: an account's counter starts afresh (only when a read found
    /// one, so a sign-in with no failure behind it writes nothing).
    pub async fn succeeded<R: Runtime>(&self, ctx: &Ctx<'_, R>) -> Result<(), OAuthError> {
        if self.reset_on_success && self.named.seen.is_some() {
            ctx.rt.counters().reset(self.named.key(ctx)).await?;
            ctx.server.forget_lock(self.named.key(ctx));
        }
        Ok(())
    }
}

/// Counts one post of the login form `form_id` (sealed until `form_exp`); `false` once it has
/// been posted more often than `login_form_max_posts`: a form captured or replayed stops working
/// long before it expires. (A wrong password answers with a fresh form, so a person retrying
/// never meets the bound.)
pub async fn login_form_post<R: Runtime>(ctx: &Ctx<'_, R>, form_id: &str, form_exp: i64) -> Result<bool, OAuthError> {
    if form_id.is_empty() {
        return Ok(false);
    }
    let key = format!("form:login:{}/{}:{form_id}", ctx.tenant, ctx.workspace);
    let lifetime = [(1, (form_exp - ctx.now).max(1))];
    let posts = ctx.rt.counters().increment(&key, ctx.now, Lifetime(&lifetime)).await?;
    Ok(posts.count <= ctx.config.throttle.login_form_max_posts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit { max_failures: 5, window_secs: 900, base_lock_secs: 60, max_lock_secs: 3600 };

    fn at(count: i64, last_at: i64) -> Counter {
        Counter { count, last_at, expires_at: last_at + Lifetime(&lifetime_steps(&LIMIT)).secs(count) }
    }

    #[test]
    fn locks_start_at_the_limit_and_double_up_to_the_cap() {
        let locks: Vec<i64> = (1..=14).map(|n| lock_secs(&LIMIT, n)).collect();
        assert_eq!(locks, [0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
        assert_eq!(lock_secs(&LIMIT, i64::MAX), 3600, "no overflow, however many failures");
        let one = Limit { max_failures: 1, ..LIMIT };
        assert_eq!((lock_secs(&one, 0), lock_secs(&one, 1), lock_secs(&one, 2)), (0, 60, 120));
    }

    #[test]
    fn the_verdict_follows_the_last_failure() {
        assert_eq!(verdict(&LIMIT, None, 1000), Verdict::Allowed);
        assert_eq!(verdict(&LIMIT, Some(&at(4, 1000)), 1000), Verdict::Allowed, "below the limit");
        assert_eq!(verdict(&LIMIT, Some(&at(4, 2000)), 1000), Verdict::Allowed, "below the limit even with a clock that went back");
        assert_eq!(verdict(&LIMIT, Some(&at(5, 1000)), 1000), Verdict::Locked { retry_after_secs: 60 });
        assert_eq!(verdict(&LIMIT, Some(&at(5, 1000)), 1059), Verdict::Locked { retry_after_secs: 1 });
        assert_eq!(verdict(&LIMIT, Some(&at(5, 1000)), 1060), Verdict::Allowed, "the lock has ended");
        assert_eq!(verdict(&LIMIT, Some(&at(7, 1000)), 1100), Verdict::Locked { retry_after_secs: 140 });
    }

    #[test]
    fn counters_outlive_any_lock_by_a_window() {
        let steps = lifetime_steps(&LIMIT);
        assert_eq!(steps, [(1, 900), (5, 4500)]);
        let life = Lifetime(&steps);
        assert_eq!((life.secs(1), life.secs(4), life.secs(5), life.secs(11), life.secs(1000)), (900, 900, 4500, 4500, 4500));
        for n in 1..30 {
            assert!(life.secs(n) >= lock_secs(&LIMIT, n) + LIMIT.window_secs, "count {n}: the counter outlives its lock by a window");
        }
        // An attacker who waits out the first lock and a window still finds the count: the next
        // failure locks for twice as long.
        let c = at(5, 1000);
        assert!(c.expires_at > 1000 + 60 + 900);
        // A limit of one failure locks from the first: one step, from 1.
        assert_eq!(lifetime_steps(&Limit { max_failures: 1, ..LIMIT }), [(1, 4500)]);
    }

    #[test]
    fn verdicts_combine_to_the_longer_lock() {
        let locked = |s| Verdict::Locked { retry_after_secs: s };
        assert_eq!(Verdict::Allowed.and(Verdict::Allowed), Verdict::Allowed);
        assert_eq!(Verdict::Allowed.and(locked(5)), locked(5));
        assert_eq!(locked(5).and(Verdict::Allowed), locked(5));
        assert_eq!(locked(5).and(locked(9)), locked(9));
    }

    #[test]
    fn addresses_count_by_subscriber() {
        let b = |s: &str| address_bucket(s.parse().unwrap());
        assert_eq!(b("203.0.113.7"), "203.0.113.7");
        assert_eq!(b("::ffff:203.0.113.7"), "203.0.113.7", "IPv4-mapped counts as the IPv4 address");
        assert_eq!(b("2001:db8:aa:bb:1:2:3:4"), "2001:db8:aa:bb::/64");
        assert_eq!(b("2001:db8:aa:bb:ffff::1"), b("2001:db8:aa:bb::9"), "one /64, one counter");
        assert_ne!(b("2001:db8:aa:bc::1"), b("2001:db8:aa:bb::1"));
    }

    #[test]
    fn login_names_count_as_the_store_finds_them() {
        assert_eq!(login_name("  Ada "), "ada");
        assert_eq!(login_name("ÁDA"), "áda");
        assert_eq!(login_name(""), "");
    }
}
