//! The reader's bounds: each limit refuses with its own [`Limit`] and words naming it, work per
//! event that does not grow with depth, entities left unexpanded, progress and cancelling.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::read::walk;
use super::tests::{entry, feed, one_meter, reading, two_meters, UP};
use super::*;

fn with(limits: Limits, xml: &[u8]) -> Result<Feed, EspiError> {
    parse_with(xml, limits, None)
}

fn refused(r: Result<Feed, EspiError>) -> Limit {
    match r {
        Err(EspiError::TooLarge(l)) => l,
        other => panic!("expected a limit, got {other:?}"),
    }
}

/// `depth` elements nested in the middle of a valid feed's first entry's content, with
/// `texts` pieces of text at the bottom.
fn nested(depth: usize, texts: usize) -> String {
    let open = "<x>".repeat(depth);
    let close = "</x>".repeat(depth);
    let bottom = "a&amp;".repeat(texts);
    let deep = entry(
        "/x/deep",
        &[],
        "",
        &format!("<Other>{open}{bottom}{close}</Other>"),
    );
    two_meters(false).replace("<entry>", &format!("{deep}<entry>"))
}

#[test]
fn the_default_limits_read_the_published_samples_and_the_hand_made_feeds() {
    for f in [
        "Coastal_Multi_Family_12hr_Jan_1_2011_to_Jan_1_2012_RetailCustomer_3.xml",
        "TestGBDataHourlyNineDaysBinnedDaily.xml",
    ] {
        parse_file(&super::tests::data(f)).unwrap();
    }
    super::tests::check_two_meters(&parse(two_meters(true).as_bytes()).unwrap());
}

#[test]
fn each_limit_refuses_with_its_own_error_naming_it() {
    let base = two_meters(false);
    let ok = Limits::default();
    with(ok, base.as_bytes()).unwrap();

    // Depth: the feed nests 7 deep at most.
    assert_eq!(
        refused(with(Limits { depth: 5, ..ok }, base.as_bytes())),
        Limit::Depth(5)
    );
    assert_eq!(
        refused(parse(nested(65, 1).as_bytes())),
        Limit::Depth(64),
        "nesting beyond the default"
    );
    parse(nested(50, 1).as_bytes()).unwrap();

    // A tag's attributes (a long href), and the same at the default from a huge attribute.
    let long_href = base.replace(
        r#"<link rel="self" href="/espi/1_1/resource/ReadingType/1"/>"#,
        &format!(
            r#"<link rel="self" href="/espi/1_1/resource/ReadingType/1" x="{}"/>"#,
            "y".repeat(300)
        ),
    );
    assert_eq!(
        refused(with(Limits { tag: 256, ..ok }, long_href.as_bytes())),
        Limit::Tag(256)
    );
    // A huge attribute, and a huge comment, at the default.
    let z = "z".repeat(200_000);
    for hostile in [format!(r#"<entry a="{z}">"#), format!("<!--{z}--><entry>")] {
        let feed = base.replacen("<entry>", &hostile, 1);
        assert_eq!(refused(parse(feed.as_bytes())), Limit::Tag(64 * 1024));
    }

    // Text: one long run, and a long text in small pieces (entity by entity).
    let long_title = base.replace("1 Main St &amp; Co", &"w".repeat(200_000));
    assert_eq!(
        refused(parse(long_title.as_bytes())),
        Limit::Text(64 * 1024)
    );
    assert_eq!(
        refused(parse(nested(1, 40_000).as_bytes())),
        Limit::Text(64 * 1024)
    );
    parse(nested(1, 30_000).as_bytes()).unwrap();
    // A kept text (the usage point's title) counts towards its entry.
    let pieces = base.replace("1 Main St &amp; Co", &"w&amp;".repeat(10_000));
    assert_eq!(refused(parse(pieces.as_bytes())), Limit::Entry(16 * 1024));
    assert_eq!(
        refused(with(Limits { text: 10, ..ok }, base.as_bytes())),
        Limit::Text(10)
    );

    // What one entry keeps: many related links, each small.
    let links: String = (0..100)
        .map(|i| format!(r#"<link rel="related" href="/espi/1_1/resource/Other/{i}"/>"#))
        .collect();
    let linked = base.replacen("<title></title>", &format!("{links}<title></title>"), 1);
    with(ok, linked.as_bytes()).unwrap();
    assert_eq!(
        refused(with(Limits { entry: 1024, ..ok }, linked.as_bytes())),
        Limit::Entry(1024)
    );

    // Readings (the feed has 7), months (4 over two meters), resources (6, and 2 series): one
    // below what the feed needs is refused, naming the limit; exactly what it needs reads.
    for (tight, enough, limit) in [
        (
            Limits { readings: 6, ..ok },
            Limits { readings: 7, ..ok },
            Limit::Readings(6),
        ),
        (
            Limits { months: 3, ..ok },
            Limits { months: 4, ..ok },
            Limit::Months(3),
        ),
        (
            Limits { resources: 7, ..ok },
            Limits { resources: 8, ..ok },
            Limit::Resources(7),
        ),
    ] {
        assert_eq!(refused(with(tight, base.as_bytes())), limit);
        with(enough, base.as_bytes()).unwrap();
    }
    with(Limits { months: 4, ..ok }, two_meters(true).as_bytes()).unwrap();

    // The whole input.
    assert_eq!(
        refused(with(Limits { input: 1000, ..ok }, base.as_bytes())),
        Limit::Input(1000)
    );
}

#[test]
fn the_words_name_the_limit() {
    let d = Limits::default();
    let words = |l: Limit| EspiError::TooLarge(l).to_string();
    assert_eq!(
        words(Limit::Input(d.input)),
        "Onramp does not read this file: it is larger than 512 MB"
    );
    assert!(words(Limit::Depth(d.depth)).ends_with("nested more than 64 deep"));
    assert!(words(Limit::Tag(d.tag)).contains("attributes are longer than 64 KB"));
    assert!(words(Limit::Text(d.text)).contains("a text longer than 64 KB"));
    assert!(words(Limit::Entry(d.entry)).contains("more than 16 KB of titles, links and values"));
    assert!(words(Limit::Readings(d.readings)).contains("more than 20,000,000 readings"));
    assert!(words(Limit::Months(d.months)).contains("more than 100,000 months"));
    assert!(words(Limit::Resources(d.resources)).contains("more than 5,000 meters"));
}

/// The reader's work per event does not depend on how deep the event is: the stack entries it
/// looks at, per piece of text at the bottom of `depth` nested elements, are the same at every
/// depth (the earlier reader walked the whole path for each, so this grew with the depth).
#[test]
fn work_per_event_does_not_grow_with_depth() {
    let deep = Limits {
        depth: 1_000_000,
        ..Limits::default()
    };
    let probes =
        |depth: usize, texts: usize| walk(nested(depth, texts).as_bytes(), deep, None).unwrap().1;
    // The same feed at different depths: the difference is the elements' own starts.
    let per_text = |depth: usize| (probes(depth, 2000) - probes(depth, 1000)) as f64 / 2000.0;
    let shallow = per_text(10);
    for depth in [1_000, 4_000, 16_000] {
        assert_eq!(per_text(depth), shallow, "at depth {depth}");
    }
    // And per element: nesting 16 times as deep costs 16 times as much, not 256.
    let (a, b) = (probes(1_000, 1), probes(16_000, 1));
    let (base, _) = (probes(0, 1), ());
    assert!(
        ((b - base) as f64 / (a - base) as f64) < 16.5,
        "{a} {b} {base}"
    );
}

#[test]
fn entities_stay_unexpanded() {
    let doctype = r#"<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY big "1 Main St"><!ENTITY ext SYSTEM "file:///etc/passwd">]>"#;
    let xml = two_meters(false)
        .replacen(r#"<?xml version="1.0" encoding="UTF-8"?>"#, doctype, 1)
        .replace("1 Main St &amp; Co", "&big;&ext;&#65;");
    let f = parse(xml.as_bytes()).unwrap();
    assert_eq!(
        f.series[0].title, "A",
        "only the character reference is resolved"
    );
}

#[test]
fn reports_progress_and_stops_when_cancelled() {
    let xml = one_meter(0, &vec![100; 2_000]);
    let seen = Mutex::new(Vec::new());
    let cancel = AtomicBool::new(false);
    let progress = |n: u64| seen.lock().unwrap().push(n);
    let watch = Watch {
        progress: &progress,
        cancel: &cancel,
        every: 16 * 1024,
    };
    let f = parse_with(xml.as_bytes(), Limits::default(), Some(&watch)).unwrap();
    assert_eq!(f.series[0].readings, 2_000);
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.len() >= (xml.len() / (16 * 1024)), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(
        *seen.last().unwrap(),
        xml.len() as u64,
        "the end is reported"
    );

    // Cancelled half way: the reader stops with its own error.
    let cancel = AtomicBool::new(false);
    let half = xml.len() as u64 / 2;
    let progress = |n: u64| {
        if n >= half {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let watch = Watch {
        progress: &progress,
        cancel: &cancel,
        every: 4096,
    };
    let r = parse_with(xml.as_bytes(), Limits::default(), Some(&watch));
    assert!(matches!(r, Err(EspiError::Cancelled)), "{r:?}");
}

#[test]
fn blocks_before_their_links_are_summed_within_the_months_limit() {
    // An IntervalBlock whose self link comes after its readings: summed by month while pending.
    let jan10 = 1_736_496_000;
    let readings: String = (0..500)
        .map(|i| reading(jan10 + i * 60, 60, 1, None))
        .collect();
    let late = format!(
        "<entry><content><espi:IntervalBlock>{readings}</espi:IntervalBlock></content><link rel=\"self\" href=\"{UP}/1/MeterReading/1/IntervalBlock/1\"/></entry>"
    );
    let xml = feed(&[
        entry(&format!("{UP}/1"), &[], "7 Elm Rd", "<espi:UsagePoint/>"),
        late,
    ]);
    let f = with(
        Limits {
            months: 1,
            ..Limits::default()
        },
        xml.as_bytes(),
    )
    .unwrap();
    assert_eq!(f.series[0].readings, 500);
    assert_eq!(f.series[0].months[0].energy_milli, 500, "500 Wh");
}
