// Package web is coldint's local web app and JSON API over a validator's
// state folder: the competitions, a leaderboard per competition with its
// history (step JSON files), each model's page (geometry, hash verification,
// loss distribution) and a playground that streams generated text with
// Server-Sent Events.
//
// The state folder is a validator --model-dir (holding vali-state/) or a
// folder holding such a directory as validator/ (what `coldint demo`
// leaves). Step reports (`coldint validate --save-step-json`) are read from
// steps/*.json in either folder. Every file the server reads is checked to lie
// inside the state folder after symbolic links are resolved. When the state
// folder holds a demo.json ([NamesFile], written by `coldint demo`), its
// participants' names replace "uid N" on the pages and its commitment times
// give those blocks a wall-clock time (step reports give their own blocks'
// times). A model that the newest step rejected (a copy, a hash mismatch)
// gets a page that says why.
//
// The package is pure Go: text generation goes through the [Generator]
// interface, which the command layer implements with the engine.
package web
