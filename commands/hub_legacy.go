package commands

import (
	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/hf"
)

// The hub helpers of the commands not yet in the Options + run(ctx, opts)
// shape (mine). Converted commands use Factory.hubFlags and
// Factory.HubClient; this file goes when the last user is converted.

func hubClientFlags() []cli.Flag { return new(Factory).hubFlags() }

// openHub returns the backend chosen by --hub-dir / --hub-endpoint.
func openHub(c *cli.Context) (hf.Hub, error) {
	return openHubFlags(HubFlags{Endpoint: c.String("hub-endpoint"), Dir: c.String("hub-dir"), Parallel: c.Int("hub-parallel")})
}
