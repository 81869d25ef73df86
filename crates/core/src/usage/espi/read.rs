//! Reading a Green Button feed as a stream of XML events: the element path, each entry's links
//! and texts, and its interval readings, handed to the sums as they come.

use std::collections::HashMap;
use std::io::BufRead;

use quick_xml::events::Event;

use super::sums::{block_owner, num, strip_id, Parser};
use super::{EspiError, Feed};

/// What the entry being read holds.
#[derive(Default)]
pub(super) struct Entry {
    pub(super) title: String,
    pub(super) self_href: Option<String>,
    pub(super) up_href: Option<String>,
    pub(super) related: Vec<String>,
    pub(super) resource: Option<String>,
}

/// Reads a feed from any buffered reader.
pub fn parse<R: BufRead>(reader: R) -> Result<Feed, EspiError> {
    let mut xml = quick_xml::Reader::from_reader(reader);
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut p = Parser::new();
    // Element path (local names) from the root.
    let mut path: Vec<String> = Vec::new();
    let mut entry: Option<Entry> = None;
    // The resource's own fields being read (ReadingType, UsagePoint, LocalTimeParameters).
    let mut fields: HashMap<String, String> = HashMap::new();
    // The IntervalReading being read: start, duration, value, cost.
    let mut reading: [Option<String>; 4] = Default::default();
    // IntervalReadings of the current entry, until its self link is known.
    let mut pending: Vec<(i64, i64, i64, Option<i64>)> = Vec::new();
    let mut root_ok = false;
    loop {
        let pos = xml.buffer_position();
        let ev = match xml.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(quick_xml::Error::Syntax(s)) if is_eof(&s) => return Err(EspiError::Truncated),
            Err(quick_xml::Error::Io(e)) => {
                return Err(EspiError::Io(std::io::Error::new(e.kind(), e.to_string())))
            }
            Err(e) => {
                return Err(EspiError::Xml {
                    position: pos,
                    message: e.to_string(),
                })
            }
        };
        match ev {
            Event::Start(e) => {
                let name = e.local_name().into_inner().to_string();
                if path.is_empty() {
                    root_ok = name == "feed" || name == "entry";
                    if !root_ok {
                        return Err(EspiError::NotGreenButton);
                    }
                }
                if name == "entry" {
                    entry = Some(Entry::default());
                    fields.clear();
                    pending.clear();
                }
                if name == "link" {
                    link(&e, entry.as_mut())?;
                }
                if let Some(en) = entry.as_mut() {
                    if path.last().map(String::as_str) == Some("content") && en.resource.is_none() {
                        en.resource = Some(name.clone());
                    }
                }
                if name == "IntervalReading" {
                    reading = Default::default();
                }
                path.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name().into_inner().to_string();
                if path.is_empty() {
                    // An empty root element holds no usage.
                    return Err(EspiError::NotGreenButton);
                }
                if name == "link" {
                    link(&e, entry.as_mut())?;
                }
                if let Some(en) = entry.as_mut() {
                    if path.last().map(String::as_str) == Some("content") && en.resource.is_none() {
                        en.resource = Some(name);
                    }
                }
            }
            Event::Text(t) => {
                text_at(
                    &path,
                    &t.xml10_content(),
                    entry.as_mut(),
                    &mut fields,
                    &mut reading,
                );
            }
            Event::CData(t) => {
                text_at(&path, &t, entry.as_mut(), &mut fields, &mut reading);
            }
            // `&amp;` and friends arrive on their own, between pieces of text.
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r).map(str::to_string),
                };
                if let Some(t) = resolved {
                    text_at(&path, &t, entry.as_mut(), &mut fields, &mut reading);
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                if name == "IntervalReading" {
                    let [start, duration, value, cost] = std::mem::take(&mut reading);
                    if let (Some(start), Some(value)) = (start, value) {
                        let start: i64 = num("start", &start)?;
                        let duration: i64 = duration
                            .map(|d| num("duration", &d))
                            .transpose()?
                            .unwrap_or(0);
                        let value: i64 = num("value", &value)?;
                        let cost: Option<i64> = cost.map(|c| num("cost", &c)).transpose()?;
                        // Links come before the content in an entry: the block's meter reading is
                        // known, so the reading is summed at once and never kept.
                        match entry.as_ref().and_then(block_owner) {
                            Some(mr) => p.add(&mr, (start, duration, value, cost)),
                            None => pending.push((start, duration, value, cost)),
                        }
                    }
                } else if name == "entry" {
                    if let Some(en) = entry.take() {
                        p.finish_entry(en, &fields, &mut pending);
                    }
                }
            }
            Event::Eof => {
                if !path.is_empty() {
                    return Err(EspiError::Truncated);
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    if !root_ok || !p.espi_seen {
        return Err(EspiError::NotGreenButton);
    }
    p.into_feed()
}

fn is_eof(s: &quick_xml::errors::SyntaxError) -> bool {
    use quick_xml::errors::SyntaxError::*;
    matches!(
        s,
        UnclosedCData
            | UnclosedComment
            | UnclosedDoctype
            | UnclosedPI
            | UnclosedXmlDecl
            | UnclosedTag
    )
}

fn link(e: &quick_xml::events::BytesStart, entry: Option<&mut Entry>) -> Result<(), EspiError> {
    let Some(en) = entry else { return Ok(()) };
    let mut rel = String::new();
    let mut href = String::new();
    for a in e.attributes().flatten() {
        let v = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map(|v| v.to_string())
            .unwrap_or_default();
        match a.key.local_name().into_inner() {
            "rel" => rel = v,
            "href" => href = v,
            _ => {}
        }
    }
    let href = strip_id(&href);
    match rel.as_str() {
        "self" => en.self_href = Some(href),
        "up" => en.up_href = Some(href),
        "related" => en.related.push(href),
        _ => {}
    }
    Ok(())
}

fn text_at(
    path: &[String],
    text: &str,
    entry: Option<&mut Entry>,
    fields: &mut HashMap<String, String>,
    reading: &mut [Option<String>; 4],
) {
    let Some(en) = entry else { return };
    let last = path.last().map(String::as_str).unwrap_or_default();
    let parent = path
        .len()
        .checked_sub(2)
        .map(|i| path[i].as_str())
        .unwrap_or_default();
    if parent == "entry" && last == "title" {
        en.title.push_str(text);
        return;
    }
    if path.iter().any(|p| p == "IntervalReading") {
        // ReadingQuality and the like are ignored.
        let slot = match (parent, last) {
            ("timePeriod", "start") => 0,
            ("timePeriod", "duration") => 1,
            ("IntervalReading", "value") => 2,
            ("IntervalReading", "cost") => 3,
            _ => return,
        };
        reading[slot].get_or_insert_with(String::new).push_str(text);
        return;
    }
    if en.resource.is_some() {
        let key = if parent == "ServiceCategory" {
            "kind".to_string()
        } else {
            last.to_string()
        };
        fields.entry(key).or_default().push_str(text);
    }
}
