//! flagtop in front of a REAL Unleash (issue 22): `archive` / `unarchive` are Unleash's archive
//! and revive, through the door — refused while two variations are served, a request for a
//! second person in production, an unknown outcome reconciled by reading it back — and a flag
//! archived or revived in Unleash itself shows so within a poll.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

mod common;

use common::Http;
use common::unleash::{Unleash, act, audit, eventually, flag, serve, unique, unleash};
use serde_json::{Value, json};

fn retire(verb: &str, name: &str) -> Value {
    json!({"type": verb, "flag": name, "env": "production"})
}

/// Whether Unleash holds `name` live (its GET answers) or archived (the search finds it there).
async fn in_unleash(u: &Unleash, name: &str) -> &'static str {
    if u.call(reqwest::Method::GET, u.feature_url(name), None)
        .await
        .0
        == 200
    {
        return "live";
    }
    let url = format!(
        "{}/api/admin/search/features?archived=IS:true&query={name}",
        u.url
    );
    let (_, v) = u.call(reqwest::Method::GET, url, None).await;
    let found = v["features"]
        .as_array()
        .is_some_and(|a| a.iter().any(|f| f["name"] == name));
    if found { "archived" } else { "absent" }
}

async fn approve(http: &Http, who: &str, r: &common::Reply) -> common::Reply {
    assert_eq!(r.status, 202, "a request in production: {:?}", r.body);
    let id = r.body["approval_id"].as_str().expect("request id");
    http.post(
        &format!("/v1/approvals/{id}/approve"),
        who,
        json!({"reason": "checked"}),
    )
    .await
}

async fn archived_in_flagtop(http: &Http, token: &str, name: &str) -> bool {
    flag(&http.get("/v1/snapshot", token).await.body, name)["archived"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_and_unarchive_are_unleashs_archive_and_revive_through_the_door() {
    let Some(u) = unleash() else { return };
    let (rolling, done) = (unique("arch-rolling"), unique("arch-done"));
    u.feature(&rolling, &[("eu-west", 25)]).await;
    // On in production with no strategy of its own: Unleash serves it to everyone.
    u.feature(&done, &[]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let alice = http.token(&admin, "alice", "operator").await;
    let bob = http.token(&admin, "bob", "approver").await;
    eventually(10, "both flags followed", || async {
        let s = http.get("/v1/snapshot", &alice).await.body;
        (!flag(&s, &rolling).is_null() && !flag(&s, &done).is_null()).then_some(())
    })
    .await;

    // Two variations still served: refused with the reason, nothing sent to Unleash.
    let r = act(&http, &alice, retire("archive", &rolling), "done?").await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("still serves")),
        "{:?}",
        r.body
    );
    assert_eq!(in_unleash(&u, &rolling).await, "live");

    // Production is protected: a request, and Unleash is untouched until bob approves.
    let r = act(&http, &alice, retire("archive", &done), "removed from code").await;
    assert_eq!(in_unleash(&u, &done).await, "live", "not before approval");
    let r = approve(&http, &bob, &r).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["reverse"]["type"], "unarchive", "{:?}", r.body);
    assert_eq!(in_unleash(&u, &done).await, "archived", "Unleash's archive");
    assert!(archived_in_flagtop(&http, &alice, &done).await);
    // The follower keeps it archived (Unleash no longer lists it).
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(archived_in_flagtop(&http, &alice, &done).await);

    // And back: Unleash's revive, after approval; the follower brings the revived flag in.
    let r = act(&http, &alice, retire("unarchive", &done), "needed again").await;
    let r = approve(&http, &bob, &r).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(in_unleash(&u, &done).await, "live", "revived in Unleash");
    eventually(
        10,
        "the revived flag followed, with its environments",
        || async {
            let s = http.get("/v1/snapshot", &alice).await.body;
            let f = flag(&s, &done);
            (f["archived"] != true
                && f["environments"]
                    .as_object()
                    .is_some_and(|e| e.contains_key("production")))
            .then_some(())
        },
    )
    .await;
    let events = audit(&http, &admin, &done).await;
    for verb in ["archive", "unarchive"] {
        assert!(
            events
                .iter()
                .any(|e| e["kind"] == "approved" && e["action"]["type"] == verb),
            "{verb} applied in the audit: {events:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_archived_and_revived_in_unleash_itself_follows_within_a_poll() {
    let Some(u) = unleash() else { return };
    let name = unique("arch-ui");
    u.feature(&name, &[]).await;
    let dir = tempfile::tempdir().expect("tmp");
    let server = serve(dir.path(), &u, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let op = http.token(&admin, "carol", "operator").await;
    eventually(10, "followed", || async {
        (!flag(&http.get("/v1/snapshot", &op).await.body, &name).is_null()).then_some(())
    })
    .await;
    u.archive(&name).await;
    eventually(10, "archived in Unleash: archived here", || async {
        archived_in_flagtop(&http, &op, &name).await.then_some(())
    })
    .await;
    let url = format!("{}/api/admin/projects/default/revive", u.url);
    let (s, v) = u
        .call(
            reqwest::Method::POST,
            url,
            Some(json!({"features": [name]})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    eventually(10, "revived in Unleash: not archived here", || async {
        (!archived_in_flagtop(&http, &op, &name).await).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_whose_answer_is_lost_is_reconciled_by_reading_it_back() {
    let Some(u) = unleash() else { return };
    let name = unique("arch-lost");
    u.feature(&name, &[]).await;
    let upstream = u
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("unleash address");
    let proxy = common::fault::FaultProxy::start(upstream).await;
    let dir = tempfile::tempdir().expect("tmp");
    let proxied = Unleash {
        url: proxy.url.clone(),
        token: u.token.clone(),
        http: u.http.clone(),
    };
    let server = serve(dir.path(), &proxied, "1");
    let admin = server.admin.clone().expect("admin");
    let http = Http::new(&server.url);
    let alice = http.token(&admin, "alice", "operator").await;
    let bob = http.token(&admin, "bob", "approver").await;
    eventually(10, "followed", || async {
        (!flag(&http.get("/v1/snapshot", &alice).await.body, &name).is_null()).then_some(())
    })
    .await;
    let r = act(&http, &alice, retire("archive", &name), "removed from code").await;
    // Unleash gets the archive, its answer (and every read-back) is lost.
    proxy.set(common::fault::Mode::LoseResponse);
    let r = approve(&http, &bob, &r).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (502, Some("outcome_unknown")),
        "never \"nothing changed\": {:?}",
        r.body
    );
    assert_eq!(in_unleash(&u, &name).await, "archived", "Unleash did it");
    proxy.set(common::fault::Mode::Pass);
    let settled = |events: &[Value]| {
        events.iter().any(|e| {
            (e["kind"] == "applied" || e["kind"] == "approved") && e["action"]["type"] == "archive"
        })
    };
    let mut events = Vec::new();
    for _ in 0..60 {
        events = audit(&http, &admin, &name).await;
        if settled(&events) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(settled(&events), "settled by reading it back: {events:#?}");
    assert!(archived_in_flagtop(&http, &alice, &name).await);
}
