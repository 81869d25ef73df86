-- Energy as an exact integer: thousandths of the series' unit (watt-hours for kWh), so a month's
-- 199.563 kWh is 199563 and never 199.56300000000002. `energy` (REAL) stays and is still written
-- (energy_milli / 1000) so an older Onramp reads the folder; Onramp reads `energy_milli`.
ALTER TABLE usage_months ADD COLUMN energy_milli INTEGER;
UPDATE usage_months SET energy_milli = CAST(ROUND(energy * 1000) AS INTEGER);

-- Where the utility serves the meter, as a Green Button feed names it (its UsagePoint's title).
ALTER TABLE usage_series ADD COLUMN service_address TEXT;
