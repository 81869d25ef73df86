//! Reading a Green Button feed as a stream of XML events: the open elements, each entry's links
//! and texts, and its interval readings, handed to the sums as they come. Each event looks at
//! its element and the element's parent only ([`Open`]), never along the path to the root.

use std::io::BufRead;

use quick_xml::events::Event;

use super::guard::{Guard, Stop, Watch};
use super::sums::{block_owner, num, strip_id, Parser, Pending};
use super::{EspiError, Feed, Limit, Limits};

/// The elements the reader acts on; every other is `Other`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Tag {
    Entry,
    Title,
    Content,
    IntervalReading,
    TimePeriod,
    Start,
    Duration,
    Value,
    Cost,
    ServiceCategory,
    Field(Field),
    Other,
}

/// The resource fields the sums read (`kind` is the UsagePoint's ServiceCategory's).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Field {
    Kind,
    Uom,
    Multiplier,
    Currency,
    Commodity,
    Flow,
    Interval,
    TzOffset,
}

impl Tag {
    fn of(local: &str) -> Tag {
        match local {
            "entry" => Tag::Entry,
            "title" => Tag::Title,
            "content" => Tag::Content,
            "IntervalReading" => Tag::IntervalReading,
            "timePeriod" => Tag::TimePeriod,
            "start" => Tag::Start,
            "duration" => Tag::Duration,
            "value" => Tag::Value,
            "cost" => Tag::Cost,
            "ServiceCategory" => Tag::ServiceCategory,
            "kind" => Tag::Field(Field::Kind),
            "uom" => Tag::Field(Field::Uom),
            "powerOfTenMultiplier" => Tag::Field(Field::Multiplier),
            "currency" => Tag::Field(Field::Currency),
            "commodity" => Tag::Field(Field::Commodity),
            "flowDirection" => Tag::Field(Field::Flow),
            "intervalLength" => Tag::Field(Field::Interval),
            "tzOffset" => Tag::Field(Field::TzOffset),
            _ => Tag::Other,
        }
    }
}

/// The open elements: a stack of tags, and how deep the IntervalReading being read began.
/// Every question it answers costs the same at any depth; `probes` counts the stack entries
/// looked at, so a test can hold it to that.
#[derive(Default)]
pub(super) struct Open {
    stack: Vec<Tag>,
    reading_at: Option<usize>,
    pub(super) probes: u64,
}

impl Open {
    fn depth(&self) -> usize {
        self.stack.len()
    }

    fn push(&mut self, t: Tag) {
        if t == Tag::IntervalReading && self.reading_at.is_none() {
            self.reading_at = Some(self.stack.len());
        }
        self.stack.push(t);
    }

    fn pop(&mut self) -> Option<Tag> {
        let t = self.stack.pop();
        if self.reading_at == Some(self.stack.len()) {
            self.reading_at = None;
        }
        t
    }

    fn last(&mut self) -> Option<Tag> {
        self.probes += 1;
        self.stack.last().copied()
    }

    fn parent(&mut self) -> Option<Tag> {
        self.probes += 1;
        self.stack.len().checked_sub(2).map(|i| self.stack[i])
    }

    fn in_reading(&self) -> bool {
        self.reading_at.is_some()
    }
}

/// What the entry being read holds.
#[derive(Default)]
pub(super) struct Entry {
    pub(super) title: String,
    pub(super) self_href: Option<String>,
    pub(super) up_href: Option<String>,
    pub(super) related: Vec<String>,
    pub(super) resource: Option<String>,
    /// The resource's own fields (ReadingType, UsagePoint, LocalTimeParameters).
    pub(super) fields: [Option<String>; 8],
    /// Bytes kept so far (title, links, fields).
    kept: usize,
}

impl Entry {
    fn keep(&mut self, n: usize, limits: &Limits) -> Result<(), EspiError> {
        self.kept += n;
        if self.kept > limits.entry {
            return Err(EspiError::TooLarge(Limit::Entry(limits.entry)));
        }
        Ok(())
    }
}

/// The reader's state between events.
struct Walk {
    limits: Limits,
    p: Parser,
    open: Open,
    entry: Option<Entry>,
    /// The IntervalReading being read: start, duration, value, cost.
    reading: [Option<String>; 4],
    /// IntervalReadings of the current entry, summed by month until its self link is known.
    pending: Pending,
    /// Text bytes of the element being read.
    text: usize,
    readings: u64,
    root_ok: bool,
}

/// Reads a feed from any buffered reader, within the default [`Limits`].
pub fn parse<R: BufRead>(reader: R) -> Result<Feed, EspiError> {
    parse_with(reader, Limits::default(), None)
}

/// Reads a feed within `limits`, reporting the bytes read to `watch` and stopping when it is
/// cancelled.
pub fn parse_with<R: BufRead>(
    reader: R,
    limits: Limits,
    watch: Option<&Watch<'_>>,
) -> Result<Feed, EspiError> {
    let (feed, _) = walk(reader, limits, watch)?;
    Ok(feed)
}

/// The feed, and how many stack entries the events looked at (for the tests).
pub(super) fn walk<R: BufRead>(
    reader: R,
    limits: Limits,
    watch: Option<&Watch<'_>>,
) -> Result<(Feed, u64), EspiError> {
    let mut xml = quick_xml::Reader::from_reader(Guard::new(reader, limits, watch));
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut w = Walk {
        limits,
        p: Parser::new(limits),
        open: Open::default(),
        entry: None,
        reading: Default::default(),
        pending: Pending::default(),
        text: 0,
        readings: 0,
        root_ok: false,
    };
    loop {
        let pos = xml.buffer_position();
        let ev = match xml.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(quick_xml::Error::Syntax(s)) if is_eof(&s) => return Err(EspiError::Truncated),
            Err(quick_xml::Error::Io(e)) => {
                return Err(match e.get_ref().and_then(|i| i.downcast_ref::<Stop>()) {
                    Some(Stop::Limit(l)) => EspiError::TooLarge(*l),
                    Some(Stop::Cancelled) => EspiError::Cancelled,
                    None => EspiError::Io(std::io::Error::new(e.kind(), e.to_string())),
                })
            }
            Err(e) => {
                return Err(EspiError::Xml {
                    position: pos,
                    message: e.to_string(),
                })
            }
        };
        let eof = matches!(ev, Event::Eof);
        w.event(ev)?;
        if eof {
            break;
        }
        xml.get_mut().mark();
        buf.clear();
    }
    xml.get_mut().report();
    if !w.root_ok || !w.p.espi_seen {
        return Err(EspiError::NotGreenButton);
    }
    let probes = w.open.probes;
    Ok((w.p.into_feed()?, probes))
}

impl Walk {
    fn event(&mut self, ev: Event<'_>) -> Result<(), EspiError> {
        match ev {
            Event::Start(e) => {
                self.start(&e)?;
                let tag = Tag::of(e.local_name().into_inner());
                if tag == Tag::Entry {
                    self.entry = Some(Entry::default());
                    self.p.discard(std::mem::take(&mut self.pending));
                }
                if tag == Tag::IntervalReading {
                    self.reading = Default::default();
                }
                if self.open.depth() >= self.limits.depth {
                    return Err(EspiError::TooLarge(Limit::Depth(self.limits.depth)));
                }
                self.open.push(tag);
                self.text = 0;
            }
            Event::Empty(e) => {
                if self.open.depth() == 0 {
                    // An empty root element holds no usage.
                    return Err(EspiError::NotGreenButton);
                }
                self.start(&e)?;
            }
            Event::Text(t) => self.text(&t.xml10_content())?,
            Event::CData(t) => self.text(&t)?,
            // `&amp;` and friends arrive on their own, between pieces of text; any other
            // entity stays unexpanded.
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r).map(str::to_string),
                };
                if let Some(t) = resolved {
                    self.text(&t)?;
                }
            }
            Event::End(_) => {
                let tag = self.open.pop().unwrap_or(Tag::Other);
                self.text = 0;
                if tag == Tag::IntervalReading {
                    self.end_reading()?;
                } else if tag == Tag::Entry {
                    if let Some(en) = self.entry.take() {
                        self.p.finish_entry(en, &mut self.pending)?;
                    }
                }
            }
            Event::Eof if self.open.depth() > 0 => return Err(EspiError::Truncated),
            _ => {}
        }
        Ok(())
    }

    /// What a start (or empty) element says before its content: the root, the entry's links,
    /// the resource's name.
    fn start(&mut self, e: &quick_xml::events::BytesStart<'_>) -> Result<(), EspiError> {
        let local = e.local_name();
        let local = local.into_inner();
        if self.open.depth() == 0 {
            self.root_ok = local == "feed" || local == "entry";
            if !self.root_ok {
                return Err(EspiError::NotGreenButton);
            }
        }
        let in_content = self.open.last() == Some(Tag::Content);
        let Some(en) = self.entry.as_mut() else {
            return Ok(());
        };
        if local == "link" {
            link(e, en, &self.limits)?;
        }
        if in_content && en.resource.is_none() {
            let name = local.to_string();
            en.keep(name.len(), &self.limits)?;
            en.resource = Some(name);
        }
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), EspiError> {
        self.text += text.len();
        if self.text > self.limits.text {
            return Err(EspiError::TooLarge(Limit::Text(self.limits.text)));
        }
        let Some(en) = self.entry.as_mut() else {
            return Ok(());
        };
        let last = self.open.last().unwrap_or(Tag::Other);
        let parent = self.open.parent().unwrap_or(Tag::Other);
        if parent == Tag::Entry && last == Tag::Title {
            en.keep(text.len(), &self.limits)?;
            en.title.push_str(text);
            return Ok(());
        }
        if self.open.in_reading() {
            // ReadingQuality and the like are ignored.
            let slot = match (parent, last) {
                (Tag::TimePeriod, Tag::Start) => 0,
                (Tag::TimePeriod, Tag::Duration) => 1,
                (Tag::IntervalReading, Tag::Value) => 2,
                (Tag::IntervalReading, Tag::Cost) => 3,
                _ => return Ok(()),
            };
            self.reading[slot]
                .get_or_insert_with(String::new)
                .push_str(text);
            return Ok(());
        }
        if en.resource.is_some() {
            let field = match (parent, last) {
                (Tag::ServiceCategory, _) => Field::Kind,
                (_, Tag::Field(f)) => f,
                _ => return Ok(()),
            };
            en.keep(text.len(), &self.limits)?;
            en.fields[field as usize]
                .get_or_insert_with(String::new)
                .push_str(text);
        }
        Ok(())
    }

    fn end_reading(&mut self) -> Result<(), EspiError> {
        let [start, duration, value, cost] = std::mem::take(&mut self.reading);
        let (Some(start), Some(value)) = (start, value) else {
            return Ok(());
        };
        self.readings += 1;
        if self.readings > self.limits.readings {
            return Err(EspiError::TooLarge(Limit::Readings(self.limits.readings)));
        }
        let start: i64 = num("start", &start)?;
        let duration: i64 = duration
            .map(|d| num("duration", &d))
            .transpose()?
            .unwrap_or(0);
        let value: i64 = num("value", &value)?;
        let cost: Option<i64> = cost.map(|c| num("cost", &c)).transpose()?;
        // Links come before the content in an entry: the block's meter reading is known, so
        // the reading is summed at once and never kept.
        match self.entry.as_ref().and_then(block_owner) {
            Some(mr) => self.p.add(&mr, (start, duration, value, cost)),
            None => self
                .p
                .add_pending(&mut self.pending, (start, duration, value, cost)),
        }
    }
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

fn link(
    e: &quick_xml::events::BytesStart<'_>,
    en: &mut Entry,
    limits: &Limits,
) -> Result<(), EspiError> {
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
    let slot = match rel.as_str() {
        "self" => &mut en.self_href,
        "up" => &mut en.up_href,
        "related" => {
            en.keep(href.len(), limits)?;
            en.related.push(href);
            return Ok(());
        }
        _ => return Ok(()),
    };
    let old = slot.as_ref().map_or(0, String::len);
    *slot = Some(href);
    let new = slot.as_ref().map_or(0, String::len);
    en.keep(new.saturating_sub(old), limits)
}
