//! A sign-in completed from what the installer pasted (the vendor's page showed a code, or the
//! browser's final address was copied): read once, and a paste that is not the answer, or a
//! code the vendor refused, leaves the sign-in waiting for another.

use super::oauth::{AnswerFrom, Finish};
use super::Onramp;
use std::collections::BTreeMap;

use crate::auth::callback::{parse_pasted, Callback, Outcome, Pasted};
use crate::error::{Error, Result};
use crate::model::Connection;

impl Onramp {
    /// Completes the sign-in `state` with what the installer pasted: the final URL or the bare code.
    pub async fn complete_pasted(&self, state: &str, pasted: &str) -> Result<Connection> {
        match self.paste(state, pasted).await {
            PasteOutcome::Finished(result) => result,
            PasteOutcome::Unreadable(e) | PasteOutcome::NotAccepted(e) => Err(e),
        }
    }

    /// Completes the sign-in `state` with a paste, saying whether the sign-in is over: a paste
    /// that is not this sign-in's answer (empty, malformed, another sign-in's address) changes
    /// nothing, and the installer may paste again.
    pub async fn paste(&self, state: &str, pasted: &str) -> PasteOutcome {
        match pasted_callback(state, pasted) {
            Ok(cb) => match self.finish_from(cb, None, AnswerFrom::Paste).await {
                Finish::Done(result) => PasteOutcome::Finished(result),
                Finish::Reopened(e) => PasteOutcome::NotAccepted(e),
            },
            Err(e) => PasteOutcome::Unreadable(e),
        }
    }
}

/// What a paste means for the sign-in `state`.
#[derive(Debug)]
// Returned once and matched at once, never stored: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum PasteOutcome {
    /// The sign-in is over: connected, or refused for good.
    Finished(Result<Connection>),
    /// Not this sign-in's answer; the sign-in still waits for one.
    Unreadable(Error),
    /// The vendor did not accept the pasted code; the sign-in still waits for another paste.
    NotAccepted(Error),
}

/// The callback a paste stands for, read once: the final URL (its `state` must be this
/// sign-in's, or absent), or the bare code a vendor's page showed.
fn pasted_callback(state: &str, pasted: &str) -> Result<Callback> {
    Ok(match parse_pasted(pasted)? {
        Pasted::Url(mut cb) => {
            match cb.state.as_ref().map(crate::vault::OAuthState::expose) {
                None => cb.state = Some(crate::vault::OAuthState::new(state)),
                Some(s) if s == state => {}
                Some(_) => {
                    return Err(
                        Error::validation("That address belongs to another sign-in.").hint(
                            "Paste the address from the sign-in you just started, or start again.",
                        ),
                    )
                }
            }
            cb
        }
        Pasted::BareCode(code) => Callback {
            state: Some(crate::vault::OAuthState::new(state)),
            issuer: None,
            outcome: Outcome::Code {
                code: Some(code),
                extra: BTreeMap::new(),
            },
        },
    })
}
