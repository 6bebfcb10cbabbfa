package commands

import "github.com/urfave/cli/v2"

// modelCommand groups the model file commands (init, inspect).
func modelCommand() *cli.Command {
	return &cli.Command{
		Name:        "model",
		Usage:       "create and inspect Hugging Face model directories",
		Subcommands: []*cli.Command{},
	}
}
