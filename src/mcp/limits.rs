//! Every bound of `flagtop mcp` (message, arguments, pages, results) as a named constant, and
//! the one pagination rule all list tools share. No I/O.

/// Longest JSON-RPC line read from stdin; a longer one is dropped by the transport (logged),
/// and the connection stays usable.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Largest `arguments` object of one tool call (as JSON); larger calls get an MCP error.
pub const MAX_ARGUMENTS_BYTES: usize = 32 * 1024;
/// Items per page when the caller does not say.
pub const DEFAULT_PAGE: usize = 20;
/// Most items per page.
pub const MAX_PAGE: usize = 50;
/// Largest tool result (as JSON); a page that would be larger is refused with advice.
pub const MAX_RESULT_BYTES: usize = 512 * 1024;
/// Longest reason, evidence gap or affected-scope note an agent may send (chars).
pub const MAX_PROPOSAL_TEXT: usize = 2_000;
/// Most evidence items in one proposal.
pub const MAX_EVIDENCE: usize = 20;
/// Longest cursor accepted (a decimal number).
pub const MAX_CURSOR_CHARS: usize = 20;

/// One page of a list: where it starts and how many items it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    /// From a tool's `cursor` (opaque to the agent: the `next_cursor` of the previous page) and
    /// `limit` (1..=[`MAX_PAGE`], default [`DEFAULT_PAGE`]).
    pub fn parse(cursor: Option<&str>, limit: Option<u64>) -> Result<Page, String> {
        let offset = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => 0,
            Some(c) if c.len() <= MAX_CURSOR_CHARS => c.parse::<usize>().map_err(|_| {
                format!(
                    "`cursor` must be a `next_cursor` from an earlier page, got `{}`",
                    super::inert::escape(c)
                )
            })?,
            Some(_) => {
                return Err("`cursor` is too long: pass back a `next_cursor` unchanged".into());
            }
        };
        let limit = match limit {
            None => DEFAULT_PAGE,
            Some(n) if (1..=MAX_PAGE as u64).contains(&n) => n as usize,
            Some(n) => return Err(format!("`limit` must be 1–{MAX_PAGE}, got {n}")),
        };
        Ok(Page { offset, limit })
    }

    /// This page of `items`, the cursor of the next page (None at the end) and the total.
    pub fn cut<T>(self, items: Vec<T>) -> (Vec<T>, Option<String>, usize) {
        let total = items.len();
        let end = self.offset.saturating_add(self.limit).min(total);
        let next = (end < total).then(|| end.to_string());
        let page = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        (page, next, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_to_the_end() {
        let p = Page::parse(None, Some(2)).unwrap_or(Page {
            offset: 9,
            limit: 9,
        });
        let (items, next, total) = p.cut(vec![1, 2, 3, 4, 5]);
        assert_eq!((items, next.as_deref(), total), (vec![1, 2], Some("2"), 5));
        let p = Page::parse(Some("4"), Some(2)).unwrap_or(Page {
            offset: 0,
            limit: 0,
        });
        assert_eq!(p.cut(vec![1, 2, 3, 4, 5]), (vec![5], None, 5));
        let p = Page::parse(Some("99"), None).unwrap_or(Page {
            offset: 0,
            limit: 0,
        });
        assert_eq!(p.cut(vec![1]), (vec![], None, 1));
    }

    #[test]
    fn bad_cursors_and_limits_are_refused() {
        assert!(Page::parse(Some("x"), None).is_err());
        assert!(Page::parse(Some(&"9".repeat(MAX_CURSOR_CHARS + 1)), None).is_err());
        assert!(Page::parse(None, Some(0)).is_err());
        assert!(Page::parse(None, Some(MAX_PAGE as u64 + 1)).is_err());
        assert_eq!(
            Page::parse(None, Some(MAX_PAGE as u64)).map(|p| p.limit),
            Ok(MAX_PAGE)
        );
        assert_eq!(
            Page::parse(Some(" "), None).map(|p| (p.offset, p.limit)),
            Ok((0, DEFAULT_PAGE))
        );
    }
}
