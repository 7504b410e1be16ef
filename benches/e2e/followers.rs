//! Stream followers for the load figures: real SSE clients of `GET /v1/stream` that record
//! every change id they receive, in order.

use super::*;

/// One SSE follower of `url`: counts itself in `connected` at its `hello`, records every change
/// id in arrival order and every reset until `stopped` changes. Told to stop through a watch
/// channel: a timer per chunk (a select with a sleep) was measurable client CPU at 120,000
/// events/s.
pub(crate) fn follower(
    url: String,
    token: String,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    connected: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<(Vec<u64>, usize)> {
    tokio::spawn(async move {
        let sc = reqwest::Client::builder().build().expect("client");
        let mut resp = sc
            .get(format!("{url}/v1/stream"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("stream");
        let mut p = SseParser::new(1 << 20, 8 << 20);
        let (mut ids, mut resets, mut items) = (Vec::<u64>::new(), 0usize, Vec::new());
        let mut hello = false;
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c,
                _ = stopped.changed() => break,
            };
            let Ok(Some(chunk)) = chunk else { break };
            p.push(&chunk, &mut items).expect("sse");
            for it in items.drain(..) {
                if let SseItem::Event(e) = it {
                    match e.event.as_str() {
                        "hello" if !hello => {
                            hello = true;
                            connected.fetch_add(1, Ordering::SeqCst);
                        }
                        "reset" => resets += 1,
                        "change" => ids.push(
                            e.id.as_deref()
                                .and_then(|x| x.split('@').next()?.parse().ok())
                                .unwrap_or(0),
                        ),
                        _ => {}
                    }
                }
            }
        }
        (ids, resets)
    })
}

/// What writers change in a bench: the first staging cohort of each flag (at most 2,048), with
/// its percent, from a snapshot's JSON.
pub(crate) fn write_targets(snap: &Value) -> Vec<(String, String, u8)> {
    snap["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(|f| {
            let co = f["environments"]["staging"]["cohorts"]
                .as_array()?
                .first()?
                .clone();
            Some((
                f["key"].as_str()?.to_string(),
                co["name"].as_str()?.to_string(),
                co["percent"].as_u64()? as u8,
            ))
        })
        .take(2048)
        .collect()
}
