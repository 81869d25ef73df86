//! Green Button files (`usage::espi`). Properties: a feed that is read has readings and sane
//! months; written back as ESPI (`espi_writer`) and read again, every series has the same
//! monthly totals (energy exactly, cost to the hundred-thousandth), unit, commodity and flow.

use onramp_core::usage::espi::{parse, Feed};

pub fn espi(data: &[u8]) {
    let Ok(feed) = parse(data) else { return };
    assert!(!feed.series.is_empty());
    for s in &feed.series {
        assert!(s.readings > 0 && !s.months.is_empty());
        assert_eq!(
            s.months.iter().map(|m| u64::from(m.readings)).sum::<u64>(),
            s.readings
        );
    }
    let Some(xml) = super::espi_writer::write(&feed) else {
        return;
    };
    let again = match parse(xml.as_bytes()) {
        Ok(f) => f,
        Err(e) => panic!("the feed written back is refused ({e}):\n{xml}"),
    };
    same_totals(&feed, &again, &xml);
}

fn same_totals(a: &Feed, b: &Feed, xml: &str) {
    assert_eq!(a.series.len(), b.series.len(), "{xml}");
    for (x, y) in a.series.iter().zip(&b.series) {
        assert_eq!(
            (
                &x.unit,
                x.commodity,
                x.flow,
                &x.currency,
                x.interval_seconds
            ),
            (
                &y.unit,
                y.commodity,
                y.flow,
                &y.currency,
                y.interval_seconds
            ),
            "{xml}"
        );
        assert_eq!(x.service_address, y.service_address, "{xml}");
        assert_eq!(x.months.len(), y.months.len(), "{xml}");
        for (m, n) in x.months.iter().zip(&y.months) {
            assert_eq!(
                (&m.month, m.energy_milli),
                (&n.month, n.energy_milli),
                "{xml}"
            );
            match (m.cost, n.cost) {
                (None, None) => {}
                (Some(c), Some(d)) => {
                    let tol = 1e-5_f64.max(c.abs() * 1e-12);
                    assert!((c - d).abs() <= tol, "cost {c} became {d}: {xml}");
                }
                (c, d) => panic!("cost {c:?} became {d:?}: {xml}"),
            }
        }
    }
}
