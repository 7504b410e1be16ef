//! Figures of the TUI: render, start-up, idle, steady state, change latency, memory.

use super::*;

mod change;
pub(crate) use change::{latency, memory};

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
