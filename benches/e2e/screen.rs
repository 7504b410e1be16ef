//! Figures of the TUI: render, start-up, idle, steady state, change latency, memory.

use super::*;

// ---------- the figures ----------

/// Involuntary context switches of this thread so far (`/proc/thread-self/status`): a frame
/// during which it grew was cut by the scheduler, and its wall time says more about the
/// machine's load than about the frame.
pub(crate) fn preemptions() -> u64 {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("nonvoluntary_ctxt_switches"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// In-process render of the `large` scenario at 200×50: per-frame time and bytes.
pub(crate) fn render(out: &mut Out, runs: usize) {
    eprintln!("render (in-process, 200×50, large)");
    let theme = flagtop::config::theme::builtin("dark");
    let frames = 2000;
    let (mut p50s, mut p99s, mut small_p50) = (Vec::new(), Vec::new(), Vec::new());
    let (mut calm_p99s, mut cut) = (Vec::new(), Vec::new());
    let (mut idle_bytes, mut move_bytes) = (0usize, 0usize);
    for _ in 0..runs {
        for flags in [1_000usize, 10_000] {
            let (mut m, _) = common::large_model(flags);
            let (mut term, written) = common::terminal();
            let mut screen = Screen::new();
            common::draw(&mut term, &mut screen, &m, &theme);
            let base = m.flags.sel.row();
            let mut times = Vec::with_capacity(frames);
            let mut calm = Vec::with_capacity(frames);
            let mut preempted = 0usize;
            for k in 0..frames {
                // Alternate: an unchanged frame, then one with the cursor moved.
                m.flags
                    .sel
                    .select_row(base + ((k / 2) & 1), &m.flags.visible);
                written.store(0, std::sync::atomic::Ordering::Relaxed);
                let p = preemptions();
                let t = Instant::now();
                common::draw(&mut term, &mut screen, &m, &theme);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                times.push(ms);
                if preemptions() == p {
                    calm.push(ms);
                } else {
                    preempted += 1;
                }
                let n = written.load(Ordering::Relaxed);
                if flags == 10_000 {
                    if k % 2 == 1 {
                        idle_bytes = n;
                    } else if k > 0 {
                        move_bytes = n;
                    }
                }
            }
            if flags == 10_000 {
                p50s.push(median(&times));
                p99s.push(pct(&times, 99.0));
                calm_p99s.push(pct(&calm, 99.0));
                cut.push(preempted as f64);
            } else {
                small_p50.push(median(&times));
            }
        }
    }
    out.put(
        "render_large_ms",
        median(&p50s),
        Some(median(&p99s)),
        "ms",
        &p50s,
        "10,000 flags, 300 series; p99 over 2,000 frames per run",
    );
    out.put(
        "render_large_unpreempted_p99_ms",
        median(&calm_p99s),
        None,
        "ms",
        &calm_p99s,
        "p99 of the same frames, leaving out those during which the scheduler preempted the thread",
    );
    out.put(
        "render_large_preempted_frames",
        median(&cut),
        None,
        "frames",
        &cut,
        "of 2,000 per run: frames during which the thread was preempted (machine load)",
    );
    out.put(
        "render_1k_ms",
        median(&small_p50),
        None,
        "ms",
        &small_p50,
        "first 1,000 flags of the same scenario",
    );
    out.put(
        "render_bytes_unchanged",
        idle_bytes as f64,
        None,
        "B",
        &[idle_bytes as f64],
        "an unchanged frame through ratatui+crossterm (in memory)",
    );
    out.put(
        "render_bytes_cursor",
        move_bytes as f64,
        None,
        "B",
        &[move_bytes as f64],
        "cursor moved one row",
    );
}

/// Start → first frame with data, warm (the data dir exists).
pub(crate) fn startup(out: &mut Out, runs: usize) {
    eprintln!("start → first frame with data (embedded, warm)");
    let dir = tempfile::tempdir().expect("tmp");
    // Cold start once to seed the data dir.
    let t = Tui::start(
        dir.path(),
        &["--scenario", "calm", "--env", "staging"],
        50,
        200,
    );
    t.wait_for("checkout-v2", 30);
    let cold = t.started.elapsed();
    t.settle(Duration::from_millis(300), Duration::from_secs(3));
    t.quit();
    let mut warm = Vec::new();
    for _ in 0..runs.max(5) {
        let t = Tui::start(
            dir.path(),
            &["--scenario", "calm", "--env", "staging"],
            50,
            200,
        );
        let at = t.wait_for("checkout-v2", 30);
        warm.push((at - t.started).as_secs_f64() * 1e3);
        t.settle(Duration::from_millis(200), Duration::from_secs(2));
        t.quit();
    }
    out.put(
        "start_warm_ms",
        median(&warm),
        Some(pct(&warm, 99.0)),
        "ms",
        &warm,
        "spawn → a flag row on screen",
    );
    out.put(
        "start_cold_ms",
        cold.as_secs_f64() * 1e3,
        None,
        "ms",
        &[cold.as_secs_f64() * 1e3],
        "first start: creates and seeds the data dir",
    );
}

/// Idle: bytes, CPU and wakeups of the TUI (with its embedded control plane) over a window.
pub(crate) fn idle(out: &mut Out, runs: usize, window: Duration) {
    eprintln!(
        "idle ({}s windows, calm scenario, 200×50)",
        window.as_secs()
    );
    let (mut bps, mut cpu, mut wake, mut ticks_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        let t = Tui::start(
            dir.path(),
            &["--scenario", "calm", "--env", "staging"],
            50,
            200,
        );
        t.wait_for("● live", 30);
        t.settle(Duration::from_millis(1500), Duration::from_secs(10));
        let pid = t.pid();
        let (b0, tasks0, k0, at) = (t.bytes(), proc_tasks(pid), proc_ticks(pid), Instant::now());
        std::thread::sleep(window);
        let (b1, (dc, ds), k1) = (
            t.bytes(),
            task_delta(&tasks0, &proc_tasks(pid)),
            proc_ticks(pid),
        );
        let secs = at.elapsed().as_secs_f64();
        bps.push((b1 - b0) as f64 / secs);
        cpu.push(dc as f64 / 1e9 / secs * 100.0);
        ticks_cpu.push(k1.saturating_sub(k0) as f64 / 100.0 / secs * 100.0);
        wake.push(ds as f64 / secs);
        t.quit();
    }
    out.put(
        "idle_bytes_per_s",
        median(&bps),
        None,
        "B/s",
        &bps,
        "calm scenario, nothing changing on screen",
    );
    out.put(
        "idle_cpu_pct",
        median(&cpu),
        None,
        "% of a core",
        &cpu,
        "schedstat, all threads (TUI + embedded control plane)",
    );
    out.put(
        "idle_cpu_ticks_pct",
        median(&ticks_cpu),
        None,
        "% of a core",
        &ticks_cpu,
        "utime+stime from /proc/PID/stat (10 ms ticks)",
    );
    out.put(
        "idle_wakeups_per_s",
        median(&wake),
        None,
        "/s",
        &wake,
        "voluntary+nonvoluntary context switches, all threads",
    );
}

/// Steady state with live metrics: the demo at 200×50.
pub(crate) fn steady(out: &mut Out, runs: usize, window: Duration) {
    eprintln!("steady (demo, live metrics, 200×50)");
    let (mut bps, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tmp");
        let t = Tui::start(dir.path(), &["--scenario", "demo"], 50, 200);
        t.wait_for("● live", 30);
        // Put checkout-v2 (two guardrails with sparklines) under the cursor.
        t.wait_for("checkout-v2", 10);
        std::thread::sleep(Duration::from_secs(2));
        let pid = t.pid();
        let (b0, tasks0, at) = (t.bytes(), proc_tasks(pid), Instant::now());
        std::thread::sleep(window);
        let (b1, (dc, _)) = (t.bytes(), task_delta(&tasks0, &proc_tasks(pid)));
        let secs = at.elapsed().as_secs_f64();
        bps.push((b1 - b0) as f64 / secs);
        cpu.push(dc as f64 / 1e9 / secs * 100.0);
        t.quit();
    }
    out.put(
        "steady_bytes_per_s",
        median(&bps),
        None,
        "B/s",
        &bps,
        "demo scenario, simulator on, guardrails updating every second",
    );
    out.put(
        "steady_cpu_pct",
        median(&cpu),
        None,
        "% of a core",
        &cpu,
        "TUI + embedded control plane + simulator",
    );
}

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
