// Package commands is coldint's command layer: it parses flags and
// environment variables with urfave/cli and calls the core packages. It is
// the only package that imports urfave/cli, and nothing imports it.
package commands
