//! What the activity log says, in the installer's words. The store records these as it is
//! handed them ([`crate::store::NewEvent`]); it composes no sentence itself.

use crate::error::{Code, Error};
use crate::model::{EventKind, ProviderId};
use crate::providers::{self, VendorSite};
use crate::store::{NewConnection, NewEvent};

/// An event about a provider's account or app rather than a customer.
pub fn provider_event<'a>(
    provider: ProviderId,
    kind: EventKind,
    what: &str,
    actor: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        customer_id: None,
        connection_id: None,
        provider: Some(provider),
        kind,
        summary: format!("{} {what}", providers::spec(provider).name),
        actor,
    }
}

/// "SolarEdge connected: 2 sites (Garcia Residence, Garcia Barn)".
pub fn connected<'a>(
    customer_id: &'a str,
    connection_id: &'a str,
    provider: ProviderId,
    sites: &[VendorSite],
    actor: &'a str,
) -> NewEvent<'a> {
    let spec = providers::spec(provider);
    let names: Vec<&str> = sites.iter().take(3).map(|s| s.name.as_str()).collect();
    let more = sites.len().saturating_sub(names.len());
    let noun = if sites.len() == 1 {
        spec.site_noun.to_string()
    } else {
        format!("{}s", spec.site_noun)
    };
    let mut summary = format!(
        "{} connected: {} {noun} ({}",
        spec.name,
        sites.len(),
        names.join(", ")
    );
    if more > 0 {
        summary.push_str(&format!(" and {more} more"));
    }
    summary.push(')');
    NewEvent {
        customer_id: Some(customer_id),
        connection_id: Some(connection_id),
        provider: Some(provider),
        kind: EventKind::Connected,
        summary,
        actor,
    }
}

/// A new connection's event.
pub fn new_connection<'a>(new: &'a NewConnection<'_>, actor: &'a str) -> NewEvent<'a> {
    connected(new.customer_id, &new.id, new.provider, new.sites, actor)
}

pub fn connection_removed<'a>(
    customer_id: &'a str,
    connection_id: &'a str,
    provider: ProviderId,
    actor: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        customer_id: Some(customer_id),
        connection_id: Some(connection_id),
        provider: Some(provider),
        kind: EventKind::ConnectionRemoved,
        summary: format!("{} connection removed", providers::spec(provider).name),
        actor,
    }
}

/// The customer's id is the store's to fill in: it makes the row.
pub fn customer_created<'a>(name: &str, actor: &'a str) -> NewEvent<'a> {
    NewEvent {
        customer_id: None,
        connection_id: None,
        provider: None,
        kind: EventKind::CustomerCreated,
        summary: format!("Customer {} added", name.trim()),
        actor,
    }
}

pub fn installer_account_saved<'a>(
    provider: ProviderId,
    hint: &str,
    actor: &'a str,
) -> NewEvent<'a> {
    let what = format!("installer account saved ({hint})");
    provider_event(provider, EventKind::InstallerAccountSaved, &what, actor)
}

pub fn installer_account_signed_in<'a>(
    provider: ProviderId,
    hint: &str,
    actor: &'a str,
) -> NewEvent<'a> {
    let what = format!("installer account signed in ({hint})");
    provider_event(provider, EventKind::InstallerAccountSignedIn, &what, actor)
}

pub fn installer_account_removed(provider: ProviderId, actor: &str) -> NewEvent<'_> {
    let what = "installer account removed";
    provider_event(provider, EventKind::InstallerAccountRemoved, what, actor)
}

pub fn installer_account_renewed(provider: ProviderId, actor: &str) -> NewEvent<'_> {
    let what = "installer account's sign-in renewed";
    provider_event(provider, EventKind::InstallerAccountRenewed, what, actor)
}

/// The account's sign-in was refused (or lost in a crash: [`Code::TokenLost`]).
pub fn installer_account_refused<'a>(
    provider: ProviderId,
    why: &Error,
    actor: &'a str,
) -> NewEvent<'a> {
    let kind = if why.code == Code::TokenLost {
        EventKind::InstallerAccountTokenLost
    } else {
        EventKind::InstallerAccountNeedsSignIn
    };
    provider_event(
        provider,
        kind,
        "installer account must be signed in again",
        actor,
    )
}

pub fn app_saved<'a>(provider: ProviderId, client_id: &str, actor: &'a str) -> NewEvent<'a> {
    let what = format!("app saved (client id {client_id})");
    provider_event(provider, EventKind::AppSaved, &what, actor)
}

/// "Customer Ada Garcia changed: name, address".
pub fn customer_updated<'a>(before: &str, changed: &[&str], actor: &'a str) -> NewEvent<'a> {
    NewEvent {
        customer_id: None,
        connection_id: None,
        provider: None,
        kind: EventKind::CustomerUpdated,
        summary: format!("Customer {} changed: {}", before.trim(), changed.join(", ")),
        actor,
    }
}

/// A customer imported from a file (one event per customer, in the import's transaction).
pub fn customer_imported(name: &str, file: &str, actor: &'static str) -> NewEvent<'static> {
    NewEvent {
        customer_id: None,
        connection_id: None,
        provider: None,
        kind: EventKind::CustomerCreated,
        summary: format!("Customer {} imported from {file}", name.trim()),
        actor,
    }
}

/// "Customer Ada Garcia removed; 2 connections revoked at the vendors".
pub fn customer_removed<'a>(
    customer_id: &'a str,
    name: &str,
    what: &str,
    actor: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        customer_id: Some(customer_id),
        connection_id: None,
        provider: None,
        kind: EventKind::CustomerRemoved,
        summary: format!("Customer {name} removed; {what}"),
        actor,
    }
}

/// A connection that came from a removed customer, on its new customer's log.
pub fn connection_moved<'a>(
    to: &'a str,
    connection_id: &'a str,
    provider: ProviderId,
    from_name: &str,
    actor: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        customer_id: Some(to),
        connection_id: Some(connection_id),
        provider: Some(provider),
        kind: EventKind::ConnectionMoved,
        summary: format!(
            "{} connection moved here from {from_name} (removed)",
            providers::spec(provider).name
        ),
        actor,
    }
}

/// "Usage series “Electric meter 1” removed".
pub fn usage_removed(title: &str, actor: &'static str) -> NewEvent<'static> {
    NewEvent {
        customer_id: None,
        connection_id: None,
        provider: None,
        kind: EventKind::UsageRemoved,
        summary: format!("Usage series \u{201c}{title}\u{201d} removed"),
        actor,
    }
}
