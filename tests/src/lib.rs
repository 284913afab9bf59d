//! End-to-end tests of minicloud against real processes. The tests live in `tests/`; `src/bin/`
//! holds the helper programs they start (for example the embedded store's crash writer).
