//! Driving an operation that the broker does in pages (one invocation each,
//! within Lambda's time limit) to its end, with a progress bar: what
//! workspace-wide operations such as `rewrap` and `check_workspace` need.
//!
//! The driver knows nothing of any operation's wire format. An operation
//! supplies a [`PageSource`]: given the resume token of the previous page
//! (`None` for the first), fetch the next page and say how much it did, how
//! much there is in all (if known) and the token to continue from. For an
//! admin operation, [`AdminPages`] is that source, built from two functions:
//! the request for a token, and the reading of a reply.
//!
//! Resumable: if a page fails, the error carries the token of the last page
//! that completed, and the operator continues with `--resume TOKEN` (the
//! token is opaque JSON, printed compact). Each page's reply is kept
//! unchanged for `--json`.

use std::future::Future;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::error::CliError;
use crate::invoke::{Broker, Function, Payload, Reply};

/// One page of work, as the operation's source reads it from a reply.
#[derive(Debug, Clone)]
pub struct Page {
    /// Items this page completed (moved, checked, skipped or failed).
    pub done: u64,
    /// Total items, when the operation knows it (sets the bar's length).
    pub total: Option<u64>,
    /// Where to continue; `None` when this was the last page.
    pub next: Option<Value>,
    /// The page's reply, unchanged (what `--json` prints, one line a page).
    pub reply: Value,
}

/// Something that yields pages in order.
pub trait PageSource {
    /// Fetch the page after `resume` (`None`: the first).
    fn page(&mut self, resume: Option<&Value>) -> impl Future<Output = Result<Page, CliError>>;
}

/// Drive `source` from `resume` to its last page, advancing `bar`. Returns
/// every page's reply in order. On a failure, returns
/// [`CliError::Interrupted`] with the token to resume from (the start token
/// if the first page failed; without one, the plain error: rerun from the
/// start).
pub async fn drive<S: PageSource>(
    source: &mut S,
    mut resume: Option<Value>,
    bar: &ProgressBar,
) -> Result<Vec<Value>, CliError> {
    let mut replies = Vec::new();
    loop {
        let page = match source.page(resume.as_ref()).await {
            Ok(p) => p,
            Err(cause) => {
                bar.abandon();
                return Err(match resume {
                    Some(token) => CliError::Interrupted {
                        cause: Box::new(cause),
                        resume: token.to_string(),
                    },
                    None => cause,
                });
            }
        };
        if let Some(total) = page.total {
            bar.set_length(total);
        }
        bar.inc(page.done);
        replies.push(page.reply);
        match page.next {
            Some(next) => resume = Some(next),
            None => {
                bar.finish();
                return Ok(replies);
            }
        }
    }
}

/// A progress bar on stderr (drawn only when stderr is a terminal, so
/// scripts and `--json` consumers see nothing of it); hidden with `quiet`.
pub fn progress_bar(label: &'static str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label);
    bar
}

/// A paginated admin operation: `request` builds the payload for a resume
/// token, `read` turns the (successful) reply into a [`Page`]. Adding such
/// an operation is one `Command` arm plus these two functions.
pub struct AdminPages<'a, Req, Read> {
    /// The functions.
    pub broker: &'a Broker,
    /// Payload for the page after a token.
    pub request: Req,
    /// Reply to page.
    pub read: Read,
}

impl<Req, Read> PageSource for AdminPages<'_, Req, Read>
where
    Req: FnMut(Option<&Value>) -> Result<Payload, CliError>,
    Read: FnMut(&Reply) -> Result<Page, CliError>,
{
    async fn page(&mut self, resume: Option<&Value>) -> Result<Page, CliError> {
        let payload = (self.request)(resume)?;
        let reply = self.broker.invoke(Function::Admin, &payload).await?;
        if let Some(e) = reply.error() {
            return Err(e);
        }
        (self.read)(&reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A fake operation over `items` items, `per_page` a page, whose token is
    /// the next index; fails (once) when asked for the page at `fail_at`.
    struct Fake {
        items: u64,
        per_page: u64,
        fail_at: Option<u64>,
        asked: Vec<Option<Value>>,
    }

    impl PageSource for Fake {
        async fn page(&mut self, resume: Option<&Value>) -> Result<Page, CliError> {
            self.asked.push(resume.cloned());
            let from = resume.map_or(0, |v| v["next"].as_u64().unwrap());
            if self.fail_at == Some(from) {
                self.fail_at = None;
                return Err(CliError::Broker {
                    kind: "throttled".into(),
                    message: "slow down".into(),
                });
            }
            let to = (from + self.per_page).min(self.items);
            Ok(Page {
                done: to - from,
                total: Some(self.items),
                next: (to < self.items).then(|| json!({ "next": to })),
                reply: json!({ "ok": true, "result": { "from": from, "to": to } }),
            })
        }
    }

    fn hidden() -> ProgressBar {
        ProgressBar::hidden()
    }

    #[tokio::test]
    async fn drives_every_page_in_order_and_fills_the_bar() {
        let mut fake = Fake {
            items: 25,
            per_page: 10,
            fail_at: None,
            asked: vec![],
        };
        let bar = hidden();
        let replies = drive(&mut fake, None, &bar).await.unwrap();
        assert_eq!(replies.len(), 3);
        assert_eq!(replies[2]["result"], json!({ "from": 20, "to": 25 }));
        assert_eq!(
            fake.asked,
            [None, Some(json!({"next": 10})), Some(json!({"next": 20}))]
        );
        assert_eq!((bar.position(), bar.length()), (25, Some(25)));
        assert!(bar.is_finished());
    }

    #[tokio::test]
    async fn an_interruption_reports_the_token_and_resuming_finishes_the_rest() {
        let mut fake = Fake {
            items: 25,
            per_page: 10,
            fail_at: Some(20),
            asked: vec![],
        };
        let bar = hidden();
        let err = drive(&mut fake, None, &bar).await.unwrap_err();
        // Exit code of the cause, and the token of the last completed page.
        assert_eq!(err.exit_code(), crate::exit::for_type("throttled"));
        let CliError::Interrupted { resume, .. } = &err else {
            panic!("{err}");
        };
        assert!(err.to_string().contains("--resume"), "{err}");
        assert_eq!(bar.position(), 20);
        // Resuming asks for exactly the missing page, once.
        let token: Value = serde_json::from_str(resume).unwrap();
        let bar = hidden();
        let replies = drive(&mut fake, Some(token), &bar).await.unwrap();
        assert_eq!(
            replies,
            [json!({ "ok": true, "result": { "from": 20, "to": 25 } })]
        );
        assert!(bar.is_finished());
        assert_eq!((bar.position(), bar.length()), (25, Some(25)));
        assert_eq!(
            fake.asked
                .iter()
                .filter(|a| *a == &Some(json!({"next": 20})))
                .count(),
            2
        );
    }

    #[tokio::test]
    async fn a_failing_first_page_is_the_plain_error() {
        let mut fake = Fake {
            items: 5,
            per_page: 10,
            fail_at: Some(0),
            asked: vec![],
        };
        let err = drive(&mut fake, None, &hidden()).await.unwrap_err();
        assert!(matches!(err, CliError::Broker { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_single_page_without_a_total_completes() {
        struct One;
        impl PageSource for One {
            async fn page(&mut self, _: Option<&Value>) -> Result<Page, CliError> {
                Ok(Page {
                    done: 3,
                    total: None,
                    next: None,
                    reply: json!({ "ok": true }),
                })
            }
        }
        let bar = hidden();
        assert_eq!(drive(&mut One, None, &bar).await.unwrap().len(), 1);
        assert_eq!(bar.position(), 3);
    }
}
