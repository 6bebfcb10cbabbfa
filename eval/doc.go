// Package eval is the pure-Go core of the coldint validator (subnet 29,
// reference behaviour v1.0.16, see ../shared/spec/coldint.md §4–§6): the
// competitions config and hall of fame (§4, §5), commitment dedup (§6.3),
// visit scheduling (§6.4), the eval cache / sample DB with copy detection
// (§6.8), and scoring from per-sample losses to weights (§6.9–§6.11).
//
// The package does no inference and no chain or hub I/O beyond fetching the
// two config files: the engine, chain client and hub are wired in by callers.
// It builds with CGO_ENABLED=0 and never imports the engine (model/) or gotch.
//
// The quirks listed in spec §12 are fixed rather than copied; each fix is
// documented where it is made, with a comment starting "Quirk fix".
package eval
