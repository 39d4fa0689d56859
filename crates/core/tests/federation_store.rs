//! The store behind the federation's management: users' operational attributes (who made a user,
//! pending activation) and identity links, on the native SQLite store with the real migrations.

use edgeauth_core::runtime::{Runtime, SqlDatabase, Statement};
use edgeauth_core::store::{self, federation, management as mstore, sql, User};
use edgeauth_testkit::{block_on, NativeRuntime};

fn user(id: &str) -> User {
    User { id: id.into(), username: id.into(), password_hash: None, claims: Default::default(), disabled: false }
}

#[test]
fn users_carry_who_made_them_and_a_pending_user_is_activated_once() {
    let rt = NativeRuntime::new().unwrap();
    let db = rt.sql();
    block_on(async {
        assert!(store::insert_user(db, "acme", "main", &user("ada"), 10, federation::CREATED_BY_ADMINISTRATOR, false).await.unwrap());
        assert!(store::insert_user(db, "acme", "main", &user("bob"), 10, federation::CREATED_BY_PROVISIONING, true).await.unwrap());
        // A user from before the table (no row) reads as an administrator's.
        db.query(Statement::new(sql::USER_INSERT, vec!["acme".into(), "main".into(), "old".into(), "old".into(), None::<String>.into(), "{}".into(), 5i64.into()])).await.unwrap();

        let bob = mstore::get_user_record(db, "acme", "main", "bob").await.unwrap().unwrap();
        assert_eq!((bob.activity.created_by.as_str(), bob.activity.pending), ("provisioned", true));
        let old = federation::activity(db, "acme", "main", "old").await.unwrap();
        assert_eq!((old.created_by.as_str(), old.pending, old.last_auth_at), ("administrator", false, None));
        let listed = mstore::list_users(db, "acme", "main", None, "", 10).await.unwrap();
        let by_id: Vec<(&str, &str, bool)> = listed.iter().map(|r| (r.user.id.as_str(), r.activity.created_by.as_str(), r.activity.pending)).collect();
        assert_eq!(by_id, [("ada", "administrator", false), ("bob", "provisioned", true), ("old", "administrator", false)]);

        assert!(!federation::activate(db, "acme", "main", "ada").await.unwrap(), "not pending");
        assert!(!federation::activate(db, "acme", "main", "old").await.unwrap(), "no row: not pending");
        assert!(federation::activate(db, "acme", "main", "bob").await.unwrap());
        assert!(!federation::activate(db, "acme", "main", "bob").await.unwrap(), "once");
        assert!(!federation::activity(db, "acme", "main", "bob").await.unwrap().pending);

        // A taken username writes nothing, not even an activity row for the new id.
        let mut again = user("ada2");
        again.username = "ada".into();
        assert!(!store::insert_user(db, "acme", "main", &again, 11, federation::CREATED_BY_PROVISIONING, true).await.unwrap());
        assert!(!federation::activate(db, "acme", "main", "ada2").await.unwrap());
    });
}

#[test]
fn links_are_listed_unlinked_and_dropped_with_their_provider() {
    let rt = NativeRuntime::new().unwrap();
    let db = rt.sql();
    block_on(async {
        store::insert_user(db, "acme", "main", &user("ada"), 10, federation::CREATED_BY_ADMINISTRATOR, false).await.unwrap();
        db.batch(vec![federation::insert_link("acme", "main", "corp", "c-1", "ada", 20), federation::insert_link("acme", "main", "gh", "g-1", "ada", 21)]).await.unwrap();
        let links = federation::links_for_user(db, "acme", "main", "ada").await.unwrap();
        assert_eq!(links.iter().map(|l| (l.idp.as_str(), l.subject.as_str(), l.created_at)).collect::<Vec<_>>(), [("corp", "c-1", 20), ("gh", "g-1", 21)]);
        assert!(federation::delete_link(db, "acme", "main", "ada", "gh").await.unwrap());
        assert!(!federation::delete_link(db, "acme", "main", "ada", "gh").await.unwrap());
        federation::delete_links_for_idp(db, "acme", "main", "corp").await.unwrap();
        assert!(federation::links_for_user(db, "acme", "main", "ada").await.unwrap().is_empty());
    });
}
