//! The binary's size and docs/performance.md from the collected figures.

use super::*;

pub(crate) fn binary(out: &mut Out) {
    let size = std::fs::metadata(BIN)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(f64::NAN);
    out.put(
        "binary_mb",
        size,
        None,
        "MB",
        &[size],
        "target/release/flagtop (stripped, thin LTO, cold crates at opt-level s)",
    );
}

// ---------- docs/performance.md ----------

pub(crate) fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|x| x.1.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = mem
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map(|k| format!("{:.1} GiB", k / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    vec![
        ("CPUs (`nproc`)".into(), nproc.to_string()),
        ("CPU model".into(), model),
        ("memory".into(), mem),
        ("kernel".into(), kernel),
        ("compiler".into(), rustc),
    ]
}

/// Criterion medians (ns) by benchmark path, from `<criterion>/**/new/estimates.json`.
pub(crate) fn criterion(dir: &Path) -> Vec<(String, f64)> {
    pub(crate) fn walk(base: &Path, d: &Path, out: &mut Vec<(String, f64)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") {
                    if let Ok(t) = std::fs::read_to_string(p.join("estimates.json"))
                        && let Ok(v) = serde_json::from_str::<Value>(&t)
                        && let Some(ns) = v["median"]["point_estimate"].as_f64()
                    {
                        let name = d.strip_prefix(base).unwrap_or(d).display().to_string();
                        out.push((name, ns));
                    }
                } else if p
                    .file_name()
                    .is_some_and(|n| n != "base" && n != "change" && n != "report")
                {
                    walk(base, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub(crate) fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

pub(crate) fn report() {
    let path = std::env::var("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target/bench/e2e.jsonl"));
    let doc = std::env::var("BENCH_DOC")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("docs/performance.md"));
    let crit = std::env::var("BENCH_CRITERION")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target/criterion"));
    let text = std::fs::read_to_string(&path).expect("e2e results (run the e2e bench first)");
    let figs: std::collections::HashMap<String, Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["key"].as_str()?.to_string(), v)))
        .collect();
    let get = |k: &str| figs.get(k).and_then(|v| v["value"].as_f64());
    let p99 = |k: &str| figs.get(k).and_then(|v| v["p99"].as_f64());
    let runs = |k: &str| {
        figs.get(k)
            .and_then(|v| v["runs"].as_array().cloned())
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_f64())
                    .map(|x| format!("{x:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let f = |v: Option<f64>, d: usize| {
        v.map(|x| format!("{x:.d$}"))
            .unwrap_or_else(|| "not measured".into())
    };
    let ok = |b: Option<bool>| match b {
        Some(true) => "✅ met",
        Some(false) => "❌ missed",
        None => "—",
    };
    let both = |a: Option<f64>, b: Option<f64>, t: &dyn Fn(f64, f64) -> bool| match (a, b) {
        (Some(a), Some(b)) => Some(t(a, b)),
        _ => None,
    };
    let r1k = get("render_1k_ms");
    let r10k = get("render_large_ms");
    let rows: Vec<(String, String, String, Option<bool>)> = vec![
        (
            "render one frame, 200×50, `large` (10,000 flags, 300 series)".into(),
            "p99 < 1 ms; cost independent of the number of flags".into(),
            format!(
                "p50 {} ms, p99 {} ms; 1,000 flags: p50 {} ms",
                f(r10k, 3),
                f(p99("render_large_ms"), 3),
                f(r1k, 3)
            ),
            both(
                p99("render_large_ms"),
                r1k.zip(r10k).map(|(a, b)| b / a),
                &|p, ratio| p < 1.0 && ratio < 1.25,
            ),
        ),
        (
            "bytes to the terminal, idle".into(),
            "0 B/s".into(),
            format!("{} B/s", f(get("idle_bytes_per_s"), 1)),
            get("idle_bytes_per_s").map(|v| v == 0.0),
        ),
        (
            "bytes for one flag's state change".into(),
            "< 300 B".into(),
            format!(
                "median {} B, max {} B",
                f(get("bytes_per_flag_change"), 0),
                f(p99("bytes_per_flag_change"), 0)
            ),
            get("bytes_per_flag_change").map(|v| v < 300.0),
        ),
        (
            "bytes, steady with live metrics, 200×50 (demo)".into(),
            "< 2 KB/s".into(),
            format!("{} B/s", f(get("steady_bytes_per_s"), 0)),
            get("steady_bytes_per_s").map(|v| v < 2048.0),
        ),
        (
            "idle CPU of the TUI (+ embedded control plane)".into(),
            "< 0.1 % of a core".into(),
            format!(
                "{} % (schedstat); {} % (utime+stime)",
                f(get("idle_cpu_pct"), 3),
                f(get("idle_cpu_ticks_pct"), 3)
            ),
            get("idle_cpu_pct").map(|v| v < 0.1),
        ),
        (
            "idle wakeups".into(),
            "≤ 2 /s".into(),
            format!("{} /s", f(get("idle_wakeups_per_s"), 2)),
            get("idle_wakeups_per_s").map(|v| v <= 2.0),
        ),
        (
            "change on the control plane → visible on screen".into(),
            "p50 < 10 ms, p99 < 50 ms".into(),
            format!(
                "p50 {} ms, p99 {} ms",
                f(get("change_to_screen_ms"), 2),
                f(p99("change_to_screen_ms"), 2)
            ),
            both(
                get("change_to_screen_ms"),
                p99("change_to_screen_ms"),
                &|a, b| a < 10.0 && b < 50.0,
            ),
        ),
        (
            "key press → applied (fsynced) → confirmed on screen".into(),
            "p99 < 20 ms".into(),
            format!(
                "p50 {} ms, p99 {} ms",
                f(get("key_to_confirmed_ms"), 2),
                f(p99("key_to_confirmed_ms"), 2)
            ),
            p99("key_to_confirmed_ms").map(|v| v < 20.0),
        ),
        (
            "start → first frame with data (embedded, warm)".into(),
            "< 150 ms".into(),
            format!(
                "median {} ms, max {} ms",
                f(get("start_warm_ms"), 1),
                f(p99("start_warm_ms"), 1)
            ),
            get("start_warm_ms").map(|v| v < 150.0),
        ),
        (
            "RSS, TUI + embedded control plane, `large`".into(),
            "< 60 MB".into(),
            format!(
                "first start {} MB (peak {} MB); restart on the saved state {} MB",
                f(get("rss_large_mb"), 1),
                f(get("rss_peak_large_mb"), 1),
                f(get("rss_large_warm_mb"), 1)
            ),
            both(get("rss_large_mb"), get("rss_large_warm_mb"), &|a, b| {
                a < 60.0 && b < 60.0
            }),
        ),
        (
            "control plane: 200 streams + sustained actions".into(),
            "≥ 500 acknowledged actions/s, p99 < 25 ms, every stream gets every change in order"
                .into(),
            format!(
                "{} actions/s, p50 {} ms, p99 {} ms (capacity {} actions/s); complete and in order in {} of {} runs",
                f(get("load_actions_per_s"), 0),
                f(get("load_latency_ms"), 2),
                f(p99("load_latency_ms"), 2),
                f(get("load_capacity_per_s"), 0),
                f(get("load_streams_complete"), 0),
                figs.get("load_streams_complete")
                    .and_then(|v| v["runs"].as_array().map(|a| a.len()))
                    .unwrap_or(0)
            ),
            match (
                get("load_actions_per_s"),
                p99("load_latency_ms"),
                get("load_streams_complete"),
                figs.get("load_streams_complete")
                    .and_then(|v| v["runs"].as_array().map(|a| a.len() as f64)),
            ) {
                (Some(r), Some(p), Some(c), Some(n)) => Some(r >= 500.0 && p < 25.0 && c == n),
                _ => None,
            },
        ),
        (
            "release binary".into(),
            "one file < 15 MB".into(),
            format!("{} MB", f(get("binary_mb"), 2)),
            get("binary_mb").map(|v| v < 15.0),
        ),
        (
            "Unleash-backed action vs Unleash Admin API directly".into(),
            "report the ratio".into(),
            match get("unleash_ratio") {
                Some(r) => format!(
                    "{r:.2}× ({} ms via flagtop vs {} ms direct, medians; p99 {} vs {} ms)",
                    f(get("unleash_via_flagtop_ms"), 2),
                    f(get("unleash_direct_ms"), 2),
                    f(p99("unleash_via_flagtop_ms"), 2),
                    f(p99("unleash_direct_ms"), 2)
                ),
                None => "not measured (no Unleash running)".into(),
            },
            None,
        ),
    ];
    let mut md = String::new();
    md.push_str("# flagtop performance\n\n");
    md.push_str("<!-- Generated by ./scripts/bench (benches/e2e/ `report`); edit the generator, not this file. -->\n\n");
    md.push_str("Every figure below comes from one command, **`./scripts/bench`**, run on the machine described\nhere. Benchmarks are not tests: nothing fails on a slow number and CI does not run them.\n\n");
    md.push_str("## Machine\n\n| | |\n|---|---|\n");
    for (k, v) in machine() {
        md.push_str(&format!("| {k} | {v} |\n"));
    }
    md.push_str(&format!(
        "| date | {} |\n| runs per figure | {} |\n\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::env::var("BENCH_RUNS").unwrap_or_else(|_| "3".into())
    ));
    md.push_str(
        "## Figures against the targets\n\n| figure | target | measured | |\n|---|---|---|---|\n",
    );
    for (a, b, c, d) in &rows {
        md.push_str(&format!("| {a} | {b} | {c} | {} |\n", ok(*d)));
    }
    md.push_str("\n### Individual runs\n\n| key | unit | median (p99) | runs | note |\n|---|---|---|---|---|\n");
    let mut keys: Vec<_> = figs.keys().cloned().collect();
    keys.sort();
    for k in keys {
        let v = &figs[&k];
        md.push_str(&format!(
            "| `{k}` | {} | {}{} | {} | {} |\n",
            v["unit"].as_str().unwrap_or(""),
            f(v["value"].as_f64(), 3),
            v["p99"]
                .as_f64()
                .map(|p| format!(" ({p:.3})"))
                .unwrap_or_default(),
            runs(&k),
            v["note"].as_str().unwrap_or("")
        ));
    }
    let crit = criterion(&crit);
    md.push_str("\n## Micro-benchmarks (criterion, `cargo bench --bench core`)\n\n| benchmark | median time |\n|---|---|\n");
    for (k, ns) in &crit {
        md.push_str(&format!("| `{k}` | {} |\n", fmt_ns(*ns)));
    }
    if crit.is_empty() {
        md.push_str("| (no criterion results found) | |\n");
    }
    md.push_str(METHOD);
    if let Some(p) = doc.parent() {
        let _ = std::fs::create_dir_all(p);
    }
    std::fs::write(&doc, md).expect("write docs/performance.md");
    eprintln!("wrote {}", doc.display());
}

/// The method and the analysis (kept with the generator so the doc is regenerated whole).
pub(crate) const METHOD: &str = include_str!("../performance_method.md");
