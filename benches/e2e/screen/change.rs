//! Figures of the TUI under change: change → screen and key → confirmed latency, memory.

use super::*;

/// Changes made through the API → visible on the TUI's screen; bytes for one flag's change;
/// key → fsynced → confirmed on screen.
pub(crate) fn latency(out: &mut Out, rt: &tokio::runtime::Runtime, runs: usize, changes: usize) {
    eprintln!("change → screen, bytes per change, key → confirmed (embedded, calm, 200×50)");
    let c = http();
    let (mut lat_all, mut p50s, mut p99s, mut bytes_per_change) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut key_all, mut key_p99s) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        let mut t = Tui::start(
            dir.path(),
            &["--scenario", "calm", "--env", "staging"],
            50,
            200,
        );
        t.wait_for("● live", 30);
        t.settle(Duration::from_millis(500), Duration::from_secs(10));
        let (url, token) = t.endpoint();
        // A flag that is on screen but not under the cursor: search-ranking-v3, first staging cohort.
        let snap: Value = rt.block_on(async {
            c.get(format!("{url}/v1/snapshot"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("snapshot")
                .json()
                .await
                .expect("json")
        });
        let flag = "search-ranking-v3";
        let f = snap["flags"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["key"] == flag))
            .expect("flag")
            .clone();
        let cohort = f["environments"]["staging"]["cohorts"][0]["name"]
            .as_str()
            .expect("cohort")
            .to_string();
        let mut lat = Vec::new();
        for i in 0..changes {
            let p = 1 + ((i * 37 + run * 11) % 98) as u8; // never twice in a row, unique within any 98
            let what = format!("{flag}/{cohort} to {p}% in staging");
            let rx = t.watch(&what);
            let b0 = t.bytes();
            let sent = Instant::now();
            let action = json!({"type": "set_percent", "flag": flag, "env": "staging", "cohort": cohort, "percent": p});
            let (s, body) = rt.block_on(act(&c, &url, &token, action, &format!("lat-{run}-{i}")));
            assert_eq!(s, 200, "{body}");
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(seen) => lat.push(seen.saturating_duration_since(sent).as_secs_f64() * 1e3),
                Err(_) => panic!("change {what} never showed; screen:\n{}", t.contents()),
            }
            if i < 10 {
                // Bytes for this one change: everything written until the screen is quiet.
                t.settle(Duration::from_millis(300), Duration::from_secs(3));
                bytes_per_change.push((t.bytes() - b0) as f64);
            } else {
                // Past the redraw cap (30 fps) so each change is its own frame.
                std::thread::sleep(Duration::from_millis(40 + (i % 5) as u64 * 7));
            }
        }
        p50s.push(median(&lat));
        p99s.push(pct(&lat, 99.0));
        lat_all.extend(lat);

        // Key → applied (fsynced) → confirmed on screen: `r` opens the rollback/restore confirm
        // (reason prefilled), Enter sends; the status line confirms.
        t.key(b"g");
        t.key(b"j"); // checkout-v2
        t.wait_for("Ladder checkout-v2", 5);
        t.key(b"\t");
        std::thread::sleep(Duration::from_millis(200));
        let first = snap["flags"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["key"] == "checkout-v2"))
            .expect("checkout-v2")["environments"]["staging"]["cohorts"][0]["name"]
            .as_str()
            .expect("cohort")
            .to_string();
        let mut keys = Vec::new();
        for i in 0..30 {
            let verb = if i % 2 == 0 { "rollback" } else { "restore" };
            t.key(b"r");
            t.wait_for("Enter: send", 5);
            std::thread::sleep(Duration::from_millis(30));
            // The status line only (the Activity pane has no "(audit #").
            let rx = t.watch(&format!(
                "applied: {verb} checkout-v2/{first} in staging (audit #"
            ));
            let pressed = t.key(b"\r");
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok(seen) => keys.push(seen.saturating_duration_since(pressed).as_secs_f64() * 1e3),
                Err(_) => panic!("{verb} never confirmed; screen:\n{}", t.contents()),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        key_p99s.push(pct(&keys, 99.0));
        key_all.extend(keys);
        t.quit();
    }
    out.put(
        "change_to_screen_ms",
        median(&lat_all),
        Some(pct(&lat_all, 99.0)),
        "ms",
        &p50s,
        "API request sent → text on the vt100 screen; runs = per-run p50",
    );
    out.put(
        "change_to_screen_p99_runs",
        median(&p99s),
        None,
        "ms",
        &p99s,
        "per-run p99",
    );
    out.put(
        "bytes_per_flag_change",
        median(&bytes_per_change),
        Some(pct(&bytes_per_change, 99.0)),
        "B",
        &bytes_per_change,
        "one set-percent: flag row, ladder, activity line",
    );
    out.put("key_to_confirmed_ms", median(&key_all), Some(pct(&key_all, 99.0)), "ms", &key_p99s, "Enter in the confirm dialog → `applied:` on screen (fsynced before the reply); runs = per-run p99");
}

/// RSS of the TUI + embedded control plane on the `large` scenario.
pub(crate) fn memory(out: &mut Out, runs: usize) {
    eprintln!("memory (large, 200×50)");
    let (mut rss, mut hwm, mut first, mut warm) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        // First start (seeds the data dir), then a second start that loads what the first saved.
        for start in 0..2 {
            let t = Tui::start(dir.path(), &["--scenario", "large"], 50, 200);
            let at = t.wait_for("● live", 60);
            if start == 0 {
                first.push((at - t.started).as_secs_f64() * 1e3);
            }
            std::thread::sleep(Duration::from_secs(3));
            // Scroll a little: a realistic session touches the list.
            let mut t = t;
            for _ in 0..20 {
                t.key(b"j");
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_secs(2));
            let kb = proc_status_kb(t.pid(), "VmRSS:") / 1024.0;
            if start == 0 {
                rss.push(kb);
                hwm.push(proc_status_kb(t.pid(), "VmHWM:") / 1024.0);
            } else {
                warm.push(kb);
            }
            t.quit();
        }
    }
    out.put(
        "rss_large_mb",
        median(&rss),
        None,
        "MB",
        &rss,
        "VmRSS after the first start + scrolling, one process",
    );
    out.put(
        "rss_large_warm_mb",
        median(&warm),
        None,
        "MB",
        &warm,
        "VmRSS after a second start on the same data dir (loads the saved state)",
    );
    out.put(
        "rss_peak_large_mb",
        median(&hwm),
        None,
        "MB",
        &hwm,
        "VmHWM (peak, includes seeding 10,000 flags on first start)",
    );
    out.put(
        "start_large_cold_ms",
        median(&first),
        None,
        "ms",
        &first,
        "first start on `large`: seed 10,000 flags, snapshot, first live frame",
    );
}
