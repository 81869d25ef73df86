#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| onramp_fuzz::config(data));
