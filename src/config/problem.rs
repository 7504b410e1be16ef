//! Owns user-facing config problems: file, line, column, message, hint, severity, and how they
//! print. It must not read files or decide what is wrong.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in one file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub severity: Severity,
    pub msg: String,
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file, self.line, self.col, self.msg
        )?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// A file's name (as shown in messages) and text, to turn byte offsets into positions.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn pos(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    pub fn problem(
        &self,
        offset: usize,
        severity: Severity,
        msg: impl Into<String>,
        hint: Option<String>,
    ) -> Problem {
        let (line, col) = self.pos(offset);
        Problem {
            file: self.name.clone(),
            line,
            col,
            severity,
            msg: msg.into(),
            hint,
        }
    }
}

/// Problems collected while checking; errors and warnings.
#[derive(Debug, Clone, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, p: Problem) {
        if !self.0.contains(&p) {
            self.0.push(p);
        }
    }
    pub fn error(
        &mut self,
        src: &Source,
        offset: usize,
        msg: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(src.problem(offset, Severity::Error, msg, hint));
    }
    pub fn warn(
        &mut self,
        src: &Source,
        offset: usize,
        msg: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(src.problem(offset, Severity::Warning, msg, hint));
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|p| p.severity == Severity::Error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.severity == Severity::Error)
    }
    pub fn extend(&mut self, other: Problems) {
        for p in other.0 {
            self.push(p);
        }
    }
}

/// The closest of `options` to `got` (edit distance ≤ 3), for "did you mean" hints.
pub fn closest<'a>(got: &str, options: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let most = (got.chars().count() / 3).clamp(1, 3);
    options
        .into_iter()
        .map(|o| (distance(got, o), o))
        .filter(|(d, _)| *d <= most)
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let v = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A hint listing the valid choices, with the closest first when there is one.
pub fn choices_hint(got: &str, options: &[&str]) -> String {
    match closest(got, options.iter().copied()) {
        Some(c) => format!("did you mean `{c}`? valid: {}", options.join(", ")),
        None => format!("valid: {}", options.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_char_columns() {
        let s = Source::new("f", "a = 1\nbé = 2\n");
        assert_eq!(s.pos(0), (1, 1));
        assert_eq!(s.pos(6), (2, 1));
        assert_eq!(s.pos(10), (2, 4));
        assert_eq!(closest("them", ["theme", "keymap"]), Some("theme"));
    }
}
