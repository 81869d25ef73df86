//! Seeded fleets: hundreds of sites and stations with realistic names and addresses, and the
//! keys that see them. Deterministic for a seed, so data made against one run works against the next.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SURNAMES: &[&str] = &[
    "Garcia",
    "Nguyen",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Okafor",
    "Chen",
    "Patel",
    "Kowalski",
    "Schmidt",
    "Rossi",
    "Murphy",
    "O'Brien",
    "Yamamoto",
    "Kim",
];
const HOME_KINDS: &[&str] = &["Residence", "Home", "House", "Family Home", "Residence"];
const BUSINESSES: &[&str] = &[
    "Sunrise Bakery",
    "Valley Auto Repair",
    "Oak Street Dental",
    "Harbor Veterinary Clinic",
    "Golden Grain Brewery",
    "Hillside Community Church",
    "Riverside Storage",
    "Blue Door Cafe",
    "Cedar Ridge Winery",
    "Northgate Fitness",
    "Pacific Print Shop",
    "Maple Leaf Daycare",
];
const STREETS: &[&str] = &[
    "Oak St",
    "Maple Ave",
    "Cedar Ln",
    "Pine St",
    "Elm St",
    "Washington Blvd",
    "Lakeview Dr",
    "Sunset Ave",
    "Hillcrest Rd",
    "Park Ave",
    "Mission St",
    "Orchard Way",
    "Vista Del Sol",
    "Meadow Ln",
    "Ridge Rd",
    "Canyon View Dr",
    "Harbor Blvd",
    "El Camino Real",
    "Juniper Ct",
    "Willow St",
];
/// (city, state, zip prefix, time zone, utc offset hours)
const CITIES: &[(&str, &str, &str, &str, i32)] = &[
    ("Fresno", "CA", "937", "America/Los_Angeles", -8),
    ("San Diego", "CA", "921", "America/Los_Angeles", -8),
    ("Sacramento", "CA", "958", "America/Los_Angeles", -8),
    ("Riverside", "CA", "925", "America/Los_Angeles", -8),
    ("Phoenix", "AZ", "850", "America/Phoenix", -7),
    ("Tucson", "AZ", "857", "America/Phoenix", -7),
    ("Las Vegas", "NV", "891", "America/Los_Angeles", -8),
    ("Denver", "CO", "802", "America/Denver", -7),
    ("Austin", "TX", "787", "America/Chicago", -6),
    ("San Antonio", "TX", "782", "America/Chicago", -6),
    ("Orlando", "FL", "328", "America/New_York", -5),
    ("Tampa", "FL", "336", "America/New_York", -5),
    ("Raleigh", "NC", "276", "America/New_York", -5),
    ("Boston", "MA", "021", "America/New_York", -5),
    ("Newark", "NJ", "071", "America/New_York", -5),
    ("Honolulu", "HI", "968", "Pacific/Honolulu", -10),
];

#[derive(Clone, Debug)]
pub struct FleetSite {
    pub id: u64,
    /// Solis-style 19-digit station id.
    pub station_id: String,
    pub name: String,
    pub street: String,
    pub city: &'static str,
    pub state: &'static str,
    pub zip: String,
    pub time_zone: &'static str,
    pub utc_offset: i32,
    pub peak_power: f64,
    pub installed: String,
    pub active: bool,
}

impl FleetSite {
    pub fn address_line(&self) -> String {
        format!(
            "{}, {}, {} {}",
            self.street, self.city, self.state, self.zip
        )
    }
}

fn site(rng: &mut StdRng, id: u64) -> FleetSite {
    let name = if rng.gen_ratio(1, 9) {
        BUSINESSES[rng.gen_range(0..BUSINESSES.len())].to_string()
    } else {
        let s = SURNAMES[rng.gen_range(0..SURNAMES.len())];
        format!("{s} {}", HOME_KINDS[rng.gen_range(0..HOME_KINDS.len())])
    };
    let (city, state, zip, tz, off) = CITIES[rng.gen_range(0..CITIES.len())];
    let peak = (rng.gen_range(30..=250) as f64) / 10.0;
    FleetSite {
        id,
        station_id: format!("1298{:015}", rng.gen_range(0..1_000_000_000_000_000u64)),
        name,
        street: format!(
            "{} {}",
            rng.gen_range(10..9999),
            STREETS[rng.gen_range(0..STREETS.len())]
        ),
        city,
        state,
        zip: format!("{zip}{:02}", rng.gen_range(1..99)),
        time_zone: tz,
        utc_offset: off,
        peak_power: peak,
        installed: install_date(
            rng.gen_range(2016..=2026),
            rng.gen_range(1..=12),
            rng.gen_range(1..=28),
        ),
        active: !rng.gen_ratio(1, 15),
    }
}

/// An installation date no later than September 2026 (drawn the same way for every seed, so the
/// rest of the fleet does not shift).
fn install_date(year: u32, month: u32, day: u32) -> String {
    let year = if year == 2026 && month > 9 {
        2025
    } else {
        year
    };
    format!("{year}-{month:02}-{day:02}")
}

fn key(rng: &mut StdRng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

pub fn solaredge_key(rng: &mut StdRng) -> String {
    key(rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 32)
}

pub fn solis_key_id(rng: &mut StdRng) -> String {
    format!("{}{}", rng.gen_range(1..10), key(rng, b"0123456789", 18))
}

pub fn solis_secret(rng: &mut StdRng) -> String {
    key(rng, b"0123456789abcdef", 32)
}

/// A fleet of `n` sites with ids starting at `first_id`.
pub fn sites(seed: u64, salt: u64, n: usize, first_id: u64) -> Vec<FleetSite> {
    let mut rng = StdRng::seed_from_u64(seed ^ salt);
    (0..n)
        .map(|i| site(&mut rng, first_id + i as u64 * 7))
        .collect()
}

pub fn rng(seed: u64, salt: u64) -> StdRng {
    StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(salt))
}
