// Command coldint runs a subnet-29 style competition for collaborative LLM
// pretraining: mining, validation and model surgery in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/coldint/coldint/commands"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := commands.Main(ctx, os.Args, commands.StdIO())
	stop()
	os.Exit(code)
}
