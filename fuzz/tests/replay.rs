//! Every fuzz target in the normal test suite: its committed seed corpus, then a fixed count of
//! deterministic mutants of it (`FUZZ_REPLAY_RUNS` per target, 3,000 unless told), in the debug
//! build with overflow checks. A failing input is written to the target folder's tmp dir and
//! named in the failure, so it can be replayed with `make fuzz` or turned into a test.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use onramp_fuzz::{Mutator, TARGETS};

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "{} has no seeds", dir.display());
    seeds
}

fn run(name: &str) {
    let body = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a target")
        .1;
    let runs: usize = std::env::var("FUZZ_REPLAY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seeds = corpus(name);
    let max = seeds.iter().map(Vec::len).max().unwrap_or(0) * 2 + 64;
    let mut m = Mutator::new(name.bytes().map(u64::from).sum());
    let mutants = (0..runs).map(|i| {
        let a = &seeds[i % seeds.len()];
        let b = &seeds[(i / seeds.len() + 1) % seeds.len()];
        m.mutate(a, b, max)
    });
    for (i, input) in seeds.clone().into_iter().chain(mutants).enumerate() {
        if catch_unwind(AssertUnwindSafe(|| body(&input))).is_err() {
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{name}-{i}"));
            std::fs::write(&out, &input).unwrap();
            panic!(
                "fuzz target {name} failed on input {i}, kept in {}",
                out.display()
            );
        }
    }
}

macro_rules! targets {
    ($($name:ident),+) => {
        $( #[test] fn $name() { run(stringify!($name)) } )+

        #[test]
        fn every_target_is_replayed_and_has_a_binary() {
            let here: Vec<&str> = vec![$(stringify!($name)),+];
            let all: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
            assert_eq!(here, all);
            let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
            for n in all {
                assert!(manifest.contains(&format!("name = \"{n}\"")), "{n} has no [[bin]]");
                assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz_targets/{n}.rs")).exists());
            }
        }
    };
}

targets!(
    callback,
    espi,
    tokens,
    sites,
    solis_sign,
    config,
    backup_payload
);

/// The seeds that stand for real files stay real: mutants of them reach past the first checks.
#[test]
fn the_seeds_of_real_files_are_accepted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let backup = std::fs::read(dir.join("backup_payload/real")).unwrap();
    onramp_core::service::check_backup_payload(&backup).expect("the backup seed is a whole backup");
    for f in std::fs::read_dir(dir.join("espi")).unwrap() {
        let f = f.unwrap().path();
        // Inputs that once failed (`crash-*`) are kept for the replay, not as real files.
        if f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("crash-")
        {
            continue;
        }
        let feed = onramp_core::usage::espi::parse_file(&f).expect("an ESPI seed reads");
        assert!(
            onramp_fuzz::espi_writer::write(&feed).is_some(),
            "{}",
            f.display()
        );
    }
}
