//! `onramp-bench espi`: the Green Button reader against hostile files and a large real-shaped
//! feed, each read in a process of its own (`espi-read`) so its CPU time and peak memory
//! (VmHWM) are that file's alone. The files are made here, in a temporary folder:
//!
//! - nesting 5k/10k/20k/40k deep, a piece of text at every level (what made the earlier reader
//!   quadratic), read with the default limits (refused at depth 64) and with the depth cap
//!   lifted (the reader's own cost, linear);
//! - 35 MB of nesting, the same two ways;
//! - one tag with a 100 MB attribute;
//! - a 50 MB feed shaped like a utility's (one meter, 15-minute readings with costs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use onramp_core::usage::espi;
use serde::{Deserialize, Serialize};

#[derive(clap::Args)]
pub struct ReadArgs {
    pub file: PathBuf,
    /// The depth cap (the default's unless given).
    #[arg(long)]
    pub depth: Option<usize>,
}

/// What one read cost, as the reading process measured it.
#[derive(Serialize, Deserialize)]
pub struct Read {
    pub outcome: String,
    pub cpu_s: f64,
    pub wall_s: f64,
    pub peak_mib: f64,
}

/// Run in the child: reads the file, prints a [`Read`].
pub fn read(args: &ReadArgs) -> anyhow::Result<()> {
    let limits = espi::Limits {
        depth: args.depth.unwrap_or(espi::Limits::default().depth),
        ..espi::Limits::default()
    };
    let (cpu0, t) = (cpu_seconds()?, Instant::now());
    let outcome = match espi::parse_file_with(&args.file, limits, None) {
        Ok(f) => format!(
            "read: {} readings",
            f.series.iter().map(|s| s.readings).sum::<u64>()
        ),
        Err(espi::EspiError::TooLarge(l)) => format!("refused: {l}"),
        Err(e) => format!("refused: {e}"),
    };
    let r = Read {
        outcome,
        cpu_s: cpu_seconds()? - cpu0,
        wall_s: t.elapsed().as_secs_f64(),
        peak_mib: peak_kib()? as f64 / 1024.0,
    };
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// The main thread's time on a CPU (the read runs on it), in seconds, to the nanosecond.
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    let ns: u64 = stat
        .split_whitespace()
        .next()
        .context("schedstat")?
        .parse()?;
    Ok(ns as f64 / 1e9)
}

fn peak_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("VmHWM")?;
    Ok(line.split_whitespace().nth(1).context("VmHWM")?.parse()?)
}

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi"><id>urn:uuid:1</id><title>Green Button</title>
"#;
const UP: &str = "https://utility.example/espi/1_1/resource/RetailCustomer/1/UsagePoint/1";

/// The usage point, its meter reading and reading type, the local time: what a feed begins with.
fn preamble(out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(HEAD.as_bytes())?;
    write!(
        out,
        r#"<entry><id>urn:uuid:2</id><link rel="self" href="https://utility.example/espi/1_1/resource/LocalTimeParameters/1"/><title>DST For North America</title><content><espi:LocalTimeParameters><espi:dstEndRule>B40E2000</espi:dstEndRule><espi:dstOffset>3600</espi:dstOffset><espi:dstStartRule>360E2000</espi:dstStartRule><espi:tzOffset>-28800</espi:tzOffset></espi:LocalTimeParameters></content></entry>
<entry><id>urn:uuid:3</id><link rel="self" href="{UP}"/><link rel="related" href="{UP}/MeterReading"/><title>1 Main St, Fresno CA</title><content><espi:UsagePoint><espi:ServiceCategory><espi:kind>0</espi:kind></espi:ServiceCategory></espi:UsagePoint></content></entry>
<entry><id>urn:uuid:4</id><link rel="self" href="{UP}/MeterReading/1"/><link rel="related" href="https://utility.example/espi/1_1/resource/ReadingType/1"/><title>15 minute electricity</title><content><espi:MeterReading/></content></entry>
<entry><id>urn:uuid:5</id><link rel="self" href="https://utility.example/espi/1_1/resource/ReadingType/1"/><title>Type of Meter Reading Data</title><content><espi:ReadingType><espi:accumulationBehaviour>4</espi:accumulationBehaviour><espi:commodity>1</espi:commodity><espi:currency>840</espi:currency><espi:dataQualifier>12</espi:dataQualifier><espi:flowDirection>1</espi:flowDirection><espi:intervalLength>900</espi:intervalLength><espi:kind>12</espi:kind><espi:phase>769</espi:phase><espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier><espi:timeAttribute>0</espi:timeAttribute><espi:uom>72</espi:uom></espi:ReadingType></content></entry>
"#
    )
}

/// A feed of about `bytes`: a day of 15-minute readings per IntervalBlock, as utilities write.
pub fn real_shaped(path: &Path, bytes: u64) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    preamble(&mut out)?;
    let mut written = HEAD.len() as u64 + 2000;
    let mut readings = 0u64;
    let start = 1_672_560_000i64; // 2023-01-01T08:00:00Z
    let mut day = 0i64;
    while written < bytes {
        let mut block = String::with_capacity(40_000);
        let t0 = start + day * 86_400;
        block.push_str(&format!(r#"<entry><id>urn:uuid:b{day}</id><link rel="self" href="{UP}/MeterReading/1/IntervalBlock/{day}"/><link rel="up" href="{UP}/MeterReading/1/IntervalBlock"/><title/><content><espi:IntervalBlock><espi:interval><espi:duration>86400</espi:duration><espi:start>{t0}</espi:start></espi:interval>"#));
        for q in 0..96i64 {
            let value = 150 + (day * 37 + q * 11) % 900;
            block.push_str(&format!("<espi:IntervalReading><espi:cost>{}</espi:cost><espi:ReadingQuality><espi:quality>0</espi:quality></espi:ReadingQuality><espi:timePeriod><espi:duration>900</espi:duration><espi:start>{}</espi:start></espi:timePeriod><espi:value>{value}</espi:value></espi:IntervalReading>\n", value * 31, t0 + q * 900));
            readings += 1;
        }
        block.push_str("</espi:IntervalBlock></content></entry>\n");
        out.write_all(block.as_bytes())?;
        written += block.len() as u64;
        day += 1;
    }
    out.write_all(b"</feed>\n")?;
    out.flush()?;
    Ok(readings)
}

/// A feed whose first entry nests `depth` elements, a piece of text at every level.
fn nested(path: &Path, depth: usize, text: &str) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    preamble(&mut out)?;
    out.write_all(b"<entry><content><x>")?;
    for _ in 0..depth {
        out.write_all(b"<x>")?;
        out.write_all(text.as_bytes())?;
    }
    for _ in 0..depth {
        out.write_all(b"</x>")?;
    }
    out.write_all(b"</x></content></entry>\n")?;
    // One reading, so a file read whole is a feed.
    write!(
        out,
        r#"<entry><link rel="self" href="{UP}/MeterReading/1/IntervalBlock/1"/><content><espi:IntervalBlock><espi:IntervalReading><espi:timePeriod><espi:duration>900</espi:duration><espi:start>1672560000</espi:start></espi:timePeriod><espi:value>100</espi:value></espi:IntervalReading></espi:IntervalBlock></content></entry></feed>"#
    )?;
    out.flush()?;
    Ok(())
}

fn attribute(path: &Path, bytes: usize) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    preamble(&mut out)?;
    out.write_all(b"<entry a=\"")?;
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..bytes / chunk.len() {
        out.write_all(&chunk)?;
    }
    out.write_all(b"\"></entry></feed>\n")?;
    out.flush()?;
    Ok(())
}

fn child(file: &Path, depth: Option<usize>) -> anyhow::Result<Read> {
    let mut c = std::process::Command::new(std::env::current_exe()?);
    c.arg("espi-read").arg(file);
    if let Some(d) = depth {
        c.arg("--depth").arg(d.to_string());
    }
    let out = c.output()?;
    anyhow::ensure!(
        out.status.success(),
        "espi-read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Makes the files, reads each in a child, prints a Markdown section. `smoke`: small files.
pub fn run(smoke: bool) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let scale = if smoke { 100 } else { 1 };
    let mut rows = Vec::new();
    let mut row = |what: String, file: &Path, depth: Option<usize>| -> anyhow::Result<()> {
        let size = std::fs::metadata(file)?.len();
        let r = child(file, depth)?;
        rows.push(format!(
            "| {what} | {:.1} | {} | {} | {:.3} | {:.1} |",
            size as f64 / 1e6,
            depth.map_or("default (64)".to_string(), |d| d.to_string()),
            r.outcome,
            r.cpu_s,
            r.peak_mib
        ));
        Ok(())
    };
    for depth in [5_000usize, 10_000, 20_000, 40_000] {
        let d = depth / scale;
        let p = dir.path().join(format!("nested-{d}.xml"));
        nested(&p, d, "\n  ")?;
        row(format!("nesting {d} deep, text at each level"), &p, None)?;
        row(
            format!("nesting {d} deep, text at each level"),
            &p,
            Some(10_000_000),
        )?;
    }
    let p = dir.path().join("nested-35mb.xml");
    // `<x>` and `</x>`: seven bytes a level.
    let levels = 35_000_000 / 7 / scale;
    nested(&p, levels, "")?;
    row("35 MB of nesting".into(), &p, None)?;
    row("35 MB of nesting".into(), &p, Some(100_000_000))?;
    let p = dir.path().join("attribute.xml");
    attribute(&p, (100 << 20) / scale)?;
    row("one 100 MB attribute".into(), &p, None)?;
    let p = dir.path().join("real.xml");
    real_shaped(&p, 50_000_000 / scale as u64)?;
    row(
        "real-shaped feed (15-minute readings with costs)".into(),
        &p,
        None,
    )?;
    let mut s = String::from("### Green Button reader (each file read in a process of its own; CPU time and peak RSS, VmHWM, of that process)\n\n");
    s.push_str("| file | MB | depth cap | outcome | CPU s | peak RSS MiB |\n|---|---:|---:|---|---:|---:|\n");
    for r in rows {
        s.push_str(&r);
        s.push('\n');
    }
    Ok(s)
}
