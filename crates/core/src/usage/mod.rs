//! Utility usage: Green Button (ESPI) feeds, from Connect My Data or a downloaded file,
//! reduced to per-meter monthly summaries.

pub mod espi;

use crate::clock::rfc3339;
use crate::model::NewSeries;
use crate::model::UsageMonth;

/// The ESPI `Authorization` entry's `status` (1 active, 0 revoked, 2 denied), if present.
pub fn authorization_status(xml: &str) -> Option<u32> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut in_auth = false;
    let mut in_status = false;
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) => {
                let name = e.local_name();
                if name.into_inner() == "Authorization" {
                    in_auth = true;
                } else if in_auth && name.into_inner() == "status" {
                    in_status = true;
                }
            }
            quick_xml::events::Event::Text(t) if in_status => {
                return t.trim().parse().ok();
            }
            quick_xml::events::Event::End(e) if e.local_name().into_inner() == "status" => {
                in_status = false;
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

fn commodity(c: espi::Commodity) -> &'static str {
    match c {
        espi::Commodity::Electricity => "electricity",
        espi::Commodity::Gas => "gas",
        espi::Commodity::Water => "water",
        espi::Commodity::Other => "other",
    }
}

fn flow(f: espi::Flow) -> &'static str {
    match f {
        espi::Flow::Delivered => "delivered",
        espi::Flow::Received => "received",
        espi::Flow::Net => "net",
        espi::Flow::Unknown => "unknown",
    }
}

fn at(unix: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .map(rfc3339)
}

/// A parsed feed as series to store, keyed under `key_prefix` (the file or the connection).
pub fn to_series(feed: &espi::Feed, key_prefix: &str) -> Vec<NewSeries> {
    feed.series
        .iter()
        .map(|s| NewSeries {
            source_key: format!("{key_prefix}:{}", s.meter_reading),
            title: s.title.clone(),
            service_address: s.service_address.clone(),
            commodity: commodity(s.commodity).to_string(),
            flow: flow(s.flow).to_string(),
            unit: s.unit.clone(),
            currency: s.currency.clone(),
            readings: s.readings as i64,
            first_at: at(s.start),
            last_at: at(s.end),
            months: s
                .months
                .iter()
                .map(|m| UsageMonth {
                    month: m.month.clone(),
                    energy_milli: m.energy_milli,
                    cost: m.cost,
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_authorization_status() {
        let xml = r#"<entry xmlns="http://www.w3.org/2005/Atom"><content>
            <Authorization xmlns="http://naesb.org/espi"><status>1</status><scope>FB=4</scope></Authorization>
            </content></entry>"#;
        assert_eq!(super::authorization_status(xml), Some(1));
        assert_eq!(
            super::authorization_status("<entry><status>1</status></entry>"),
            None,
            "a status outside Authorization is not the authorization's"
        );
    }
}
