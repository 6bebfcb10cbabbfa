package commands

import (
	"github.com/urfave/cli/v2"
)

// Commands that act on one model folder take it as their DIR argument or,
// as eval, generate and the miner's commands do, as --model DIR.

// modelFlag is --model on the commands whose argument is a model folder.
func modelFlag() cli.Flag {
	return &cli.StringFlag{Name: "model", Usage: "model folder (config.json + safetensors); the same as the DIR argument"}
}

// installModelFlag gives every command whose argument is DIR a --model flag.
func installModelFlag(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.ArgsUsage == "DIR" {
			has := false
			for _, f := range c.Flags {
				for _, n := range f.Names() {
					has = has || n == "model"
				}
			}
			if !has {
				c.Flags = append(c.Flags, modelFlag())
				c.ArgsUsage = "DIR (or --model DIR)"
			}
		}
		installModelFlag(c.Subcommands)
	}
}

// modelDir returns the model folder of a command: --model or its one
// argument, not both.
func modelDir(c *cli.Context, what string) (string, error) {
	m := c.String("model")
	switch {
	case m != "" && c.NArg() == 0:
		return m, nil
	case m != "":
		return "", usageErrorf("%s: give the model folder once, as DIR or as --model, not both", what)
	case c.NArg() != 1:
		return "", usageErrorf("%s: want exactly one model folder (DIR or --model DIR), got %d arguments", what, c.NArg())
	}
	return c.Args().First(), nil
}
