//! The Green Button parser on large feeds: it streams, so the heap it needs does not grow with
//! the file. A counting allocator measures the live heap's high-water mark during each parse.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use onramp_core::usage::espi;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Writes `hours` hourly readings (one IntervalBlock per day) as an ESPI feed, entry by entry;
/// returns the sum of the values (Wh) and of the costs (1/100000 USD).
fn write_feed(path: &std::path::Path, hours: i64) -> (i64, i64) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let up = "/espi/1_1/resource/RetailCustomer/1/UsagePoint/1";
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:big</id>"#).unwrap();
    writeln!(w, r#"<entry><link rel="self" href="/espi/1_1/resource/LocalTimeParameters/1"/><content><LocalTimeParameters xmlns="http://naesb.org/espi"><tzOffset>0</tzOffset></LocalTimeParameters></content></entry>"#).unwrap();
    writeln!(w, r#"<entry><link rel="self" href="{up}"/><title>Big house</title><content><UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>0</kind></ServiceCategory></UsagePoint></content></entry>"#).unwrap();
    writeln!(w, r#"<entry><link rel="self" href="{up}/MeterReading/1"/><link rel="related" href="/espi/1_1/resource/ReadingType/1"/><content><MeterReading xmlns="http://naesb.org/espi"/></content></entry>"#).unwrap();
    writeln!(w, r#"<entry><link rel="self" href="/espi/1_1/resource/ReadingType/1"/><content><ReadingType xmlns="http://naesb.org/espi"><commodity>1</commodity><currency>840</currency><intervalLength>3600</intervalLength><powerOfTenMultiplier>0</powerOfTenMultiplier><uom>72</uom></ReadingType></content></entry>"#).unwrap();
    let start = 1_420_070_400; // 2015-01-01T00:00:00Z
    let (mut sum, mut cost) = (0i64, 0i64);
    for day in 0..(hours + 23) / 24 {
        write!(w, r#"<entry><link rel="self" href="{up}/MeterReading/1/IntervalBlock/{day}"/><content><IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>86400</duration><start>{}</start></interval>"#, start + day * 86_400).unwrap();
        for h in 0..24.min(hours - day * 24) {
            let t = start + day * 86_400 + h * 3600;
            let v = 300 + (t / 3600 * 7919) % 2700;
            let c = v * 21;
            sum += v;
            cost += c;
            write!(w, "<IntervalReading><cost>{c}</cost><timePeriod><duration>3600</duration><start>{t}</start></timePeriod><value>{v}</value></IntervalReading>").unwrap();
        }
        writeln!(w, "</IntervalBlock></content></entry>").unwrap();
    }
    writeln!(w, "</feed>").unwrap();
    w.flush().unwrap();
    (sum, cost)
}

/// Parses and reports (MB/s, live-heap high-water mark in bytes above the starting point).
fn measure(path: &std::path::Path, sum: i64, cost: i64, hours: i64) -> (f64, usize) {
    let size = std::fs::metadata(path).unwrap().len() as f64;
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let feed = espi::parse_file(path).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let s = &feed.series[0];
    assert_eq!(s.readings as i64, hours);
    let total: i64 = s.months.iter().map(|m| m.energy_milli).sum();
    let total_cost: f64 = s.months.iter().filter_map(|m| m.cost).sum();
    assert_eq!(total, sum, "Wh, exactly");
    assert!((total_cost - cost as f64 / 100_000.0).abs() < 1e-6 * total_cost);
    (size / 1e6 / secs, peak)
}

#[test]
fn a_ten_times_larger_feed_needs_no_more_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (small, large) = (dir.path().join("year.xml"), dir.path().join("decade.xml"));
    let (s1, c1) = write_feed(&small, 8_760);
    let (s10, c10) = write_feed(&large, 87_600);
    let (speed1, peak1) = measure(&small, s1, c1, 8_760);
    let (speed10, peak10) = measure(&large, s10, c10, 87_600);
    let mb = |p: &std::path::Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    eprintln!(
        "espi: {:.1} MB parsed at {speed1:.1} MB/s with a {:.0} KiB heap peak; {:.1} MB at {speed10:.1} MB/s with {:.0} KiB",
        mb(&small),
        peak1 as f64 / 1024.0,
        mb(&large),
        peak10 as f64 / 1024.0
    );
    // 120 months instead of 12 add a few kilobytes of sums; the readings are never kept.
    assert!(
        peak10 < peak1 * 2,
        "the heap grew with the file: {peak1} → {peak10}"
    );
    assert!(peak10 < 4 * 1024 * 1024, "{peak10} bytes");
}
