//! Reading exposure counts (what applications were actually served) one way everywhere: the
//! Ladder's cells, the confirm dialog's blast radius, the evidence after a narrowed rollback.
//! Pure: no I/O and no clock (the time the counts were taken is passed in).

use super::ExposureCount;
use chrono::{DateTime, Utc};

/// Series (flag × environment × cohort × variation) counted at most; the control plane counts
/// evaluations for a new series beyond this only as dropped, and a dashboard keeps no more.
pub const MAX_EXPOSURE_SERIES: usize = 10_000;
/// Length of one exposure window.
pub const EXPOSURE_WINDOW_SECS: i64 = 60;

/// The window `t` falls in.
pub fn window_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(EXPOSURE_WINDOW_SECS)
}

/// Evaluations per minute of one series: the last complete window, or the current one once it
/// has more (so that the first minute of traffic does not read zero).
pub fn per_min(e: &ExposureCount) -> u64 {
    e.last_window.max(e.this_window)
}

/// What one cohort (or, with no cohort, the whole flag) was served in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Served {
    /// Candidate evaluations per minute (members served the cohort's variation).
    pub candidate_per_min: u64,
    /// Every evaluation of the cohort per minute (candidate and fallthrough).
    pub cohort_per_min: u64,
    /// Every evaluation of the flag in the environment per minute.
    pub env_per_min: u64,
    /// Whether the cohort was evaluated at all since the control plane started.
    pub evaluated: bool,
    /// The busiest candidate variation (e.g. `on`).
    pub variation: Option<String>,
    /// When the candidate, and the cohort's fallthrough, were last served.
    pub candidate_last_at: Option<DateTime<Utc>>,
    pub other_last_at: Option<DateTime<Utc>>,
    /// Candidate evaluations in the current window, the last complete one and the one before.
    this_candidate: u64,
    last_candidate: u64,
    earlier_candidate: u64,
}

/// Sums the series of `flag` in `env` for `cohort` (None: every cohort of the flag).
pub fn served<'a>(
    rows: impl IntoIterator<Item = &'a ExposureCount>,
    flag: &str,
    env: &str,
    cohort: Option<&str>,
) -> Served {
    let mut s = Served::default();
    let mut busiest: Option<(&str, u64)> = None;
    for e in rows {
        if e.flag.as_str() != flag || e.env.as_str() != env {
            continue;
        }
        let n = per_min(e);
        s.env_per_min += n;
        let mine = match cohort {
            Some(c) => e.cohort.as_ref().is_some_and(|x| x.as_str() == c),
            None => e.cohort.is_some(),
        };
        if !mine {
            continue;
        }
        s.evaluated = true;
        s.cohort_per_min += n;
        let last = if e.exposed {
            s.candidate_per_min += n;
            s.this_candidate += e.this_window;
            s.last_candidate += e.last_window;
            s.earlier_candidate += e.earlier_window;
            if busiest.is_none_or(|(_, b)| n > b) {
                busiest = Some((e.variation.as_str(), n));
            }
            &mut s.candidate_last_at
        } else {
            &mut s.other_last_at
        };
        *last = (*last).max(e.last_at);
    }
    s.variation = busiest.map(|(v, _)| v.to_string());
    s
}

/// Evaluations of `flag` in `env` that name no cohort, per minute: (candidate, all); None when
/// there are none. Unleash's client metrics are of this kind (`yes`/`no` per flag), as are
/// OFREP evaluations of users no cohort matched.
pub fn flag_level<'a>(
    rows: impl IntoIterator<Item = &'a ExposureCount>,
    flag: &str,
    env: &str,
) -> Option<(u64, u64)> {
    let mut out: Option<(u64, u64)> = None;
    for e in rows {
        if e.flag.as_str() == flag && e.env.as_str() == env && e.cohort.is_none() {
            let (yes, all) = out.get_or_insert((0, 0));
            *all += per_min(e);
            if e.exposed {
                *yes += per_min(e);
            }
        }
    }
    out
}

/// Whether a change at `since` moved the cohort's candidate traffic, from counts taken at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// No candidate served since the change, and the cohort was evaluated since (fallthrough).
    Moved { was: Option<u64> },
    /// The candidate was still served after the change.
    StillServed { per_min: u64, was: Option<u64> },
    /// Nothing was evaluated in the cohort since the change: no way to tell yet.
    NoEvaluations { was: Option<u64> },
}

impl Served {
    /// Candidate evaluations per minute up to `since` (as `per_min`: the window before the
    /// change, or the change's own window when it has more — once traffic moved, all of that
    /// window's candidate evaluations came before the change), while the counts taken at `at`
    /// still hold them: in the window of the change and the one after.
    pub fn was(&self, since: DateTime<Utc>, at: DateTime<Utc>) -> Option<u64> {
        match window_of(at) - window_of(since) {
            0 => Some(self.last_candidate.max(self.this_candidate)),
            1 => Some(self.earlier_candidate.max(self.last_candidate)),
            _ => None,
        }
    }

    /// What the counts taken at `at` say about a change at `since`.
    pub fn since(&self, since: DateTime<Utc>, at: DateTime<Utc>) -> Moved {
        let was = self.was(since, at);
        if self.candidate_last_at.is_some_and(|t| t > since) {
            Moved::StillServed {
                per_min: self.candidate_per_min,
                was,
            }
        } else if self.other_last_at.is_some_and(|t| t > since) {
            Moved::Moved { was }
        } else {
            Moved::NoEvaluations { was }
        }
    }

    /// The confirm dialog's blast radius: `~1,240 evaluations/min, 8 % of production`.
    pub fn blast_radius(&self, env: &str) -> String {
        if !self.evaluated {
            return "no evaluations counted here yet (no application has evaluated it)".into();
        }
        let share = match self.env_per_min {
            0 => String::new(),
            all => format!(
                ", {} % of {env}",
                (self.candidate_per_min * 100 + all / 2) / all
            ),
        };
        format!(
            "~{} evaluations/min{share}",
            fmt_count(self.candidate_per_min)
        )
    }
}

impl Moved {
    /// For the audit's evidence: `traffic moved`, `still served` or `no evaluations`.
    pub fn status(&self) -> &'static str {
        match self {
            Moved::Moved { .. } => "traffic moved",
            Moved::StillServed { .. } => "still served",
            Moved::NoEvaluations { .. } => "no evaluations",
        }
    }

    /// Candidate evaluations per minute since the change (0 once traffic moved).
    pub fn now_per_min(&self) -> Option<u64> {
        match self {
            Moved::Moved { .. } => Some(0),
            Moved::StillServed { per_min, .. } => Some(*per_min),
            Moved::NoEvaluations { .. } => None,
        }
    }

    /// The same answer with `was` filled in from elsewhere (the evidence) when the counts no
    /// longer hold it.
    pub fn or_was(self, known: Option<u64>) -> Moved {
        match self {
            Moved::Moved { was } => Moved::Moved { was: was.or(known) },
            Moved::StillServed { per_min, was } => Moved::StillServed {
                per_min,
                was: was.or(known),
            },
            Moved::NoEvaluations { was } => Moved::NoEvaluations { was: was.or(known) },
        }
    }

    pub fn was(&self) -> Option<u64> {
        match self {
            Moved::Moved { was }
            | Moved::StillServed { was, .. }
            | Moved::NoEvaluations { was } => *was,
        }
    }

    /// `eu-west: candidate served 0/min since 18:26:20, was 1,240/min`.
    pub fn describe(&self, cohort: &str, since: DateTime<Utc>) -> String {
        let at = since.format("%H:%M:%S");
        let was = self
            .was()
            .map(|w| format!(", was {}/min", fmt_count(w)))
            .unwrap_or_default();
        match self {
            Moved::Moved { .. } => format!("{cohort}: candidate served 0/min since {at}{was}"),
            Moved::StillServed { per_min, .. } => format!(
                "{cohort}: candidate STILL served {}/min since {at}{was}",
                fmt_count(*per_min)
            ),
            Moved::NoEvaluations { .. } => {
                format!(
                    "{cohort}: no evaluations since {at}{was} — cannot tell whether traffic moved"
                )
            }
        }
    }
}

/// `1240` → `1,240`.
pub fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests;
