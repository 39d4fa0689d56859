//! The SQL counter store (Spin and native) against the rule's own table: each increment's lifetime
//! is what `Lifetime::secs` gives its count, an expired counter starts again at one and reads as
//! none, a reset forgets it, and counters are apart by key.

use edgeauth_core::authn::throttle::{lifetime_steps, Limit};
use edgeauth_core::runtime::{CounterStore, Lifetime, Runtime};
use edgeauth_testkit::{block_on, NativeRuntime};

#[test]
fn sql_counters_follow_the_lifetime_table() {
    let rt = NativeRuntime::new().unwrap();
    let counters = rt.counters();
    let limit = Limit { max_failures: 3, window_secs: 100, base_lock_secs: 10, max_lock_secs: 80 };
    let steps = lifetime_steps(&limit);
    let life = Lifetime(&steps);
    let now = 1_000_000;
    for n in 1..=12 {
        let c = block_on(counters.increment("k", now + n, life)).unwrap();
        assert_eq!((c.count, c.last_at), (n, now + n));
        assert_eq!(c.expires_at, now + n + life.secs(n), "count {n}: the SQL lifetime lookup agrees with Lifetime::secs");
    }
    let c = block_on(counters.get("k", now + 12)).unwrap().expect("live");
    assert_eq!(c.count, 12);
    assert_eq!(block_on(counters.get("other", now)).unwrap(), None, "keys are apart");
    // Past its expiry the counter reads as none, and the next increment starts at one.
    let expired = c.expires_at;
    assert_eq!(block_on(counters.get("k", expired)).unwrap(), None);
    assert_eq!(block_on(counters.increment("k", expired, life)).unwrap().count, 1);
    assert_eq!(block_on(counters.increment("k", expired + 1, life)).unwrap().count, 2);
    block_on(counters.reset("k")).unwrap();
    assert_eq!(block_on(counters.get("k", expired + 1)).unwrap(), None);
    assert_eq!(block_on(counters.increment("k", expired + 2, Lifetime(&[(1, 5)]))).unwrap().expires_at, expired + 7, "a one-step table");
    assert!(counters.reads_are_local());
}
