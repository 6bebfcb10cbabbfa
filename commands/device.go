package commands

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/model"
)

// deviceFlag is --device of every command that computes with the engine.
func deviceFlag() cli.Flag { return deviceFlagTo(new(string), "") }

// dtypeFlag is --dtype (the compute dtype) of every command that computes
// with the engine.
func dtypeFlag() cli.Flag { return dtypeFlagTo(new(string)) }

// maxMemoryHelp says what the weight budget defaults to on each device.
const maxMemoryHelp = "default: 35% of the GPU's total memory on CUDA, half of the available RAM (MemAvailable) on the CPU"

// engineChoice is what --device and --dtype resolved to.
type engineChoice struct {
	Device model.Device
	DType  model.DType // resolved for Device (never auto)
}

// resolveEngine reads --device and --dtype. A misspelled value is a usage
// error; CUDA asked for where there is none is an error wrapping
// model.ErrNoCUDA (exit code 1), never a silent fallback to the CPU.
func resolveEngine(c *cli.Context, cmd string) (engineChoice, error) {
	return resolveEngineStrings(cmd, c.String("device"), c.String("dtype"))
}

func resolveEngineStrings(cmd, device, dtype string) (engineChoice, error) {
	if _, _, err := model.ParseDevice(device); err != nil {
		return engineChoice{}, usageErrorf("%s: --device: %v", cmd, err)
	}
	dt, err := model.ParseDType(dtype)
	if err != nil {
		return engineChoice{}, usageErrorf("%s: --dtype: %v", cmd, err)
	}
	dev, err := model.ResolveDevice(device)
	if err != nil {
		return engineChoice{}, fmt.Errorf("%s: %w", cmd, err)
	}
	return engineChoice{Device: dev, DType: dt.On(dev)}, nil
}

// newEngine starts the engine on the chosen device.
func (ec engineChoice) newEngine(threads int) (*model.Engine, error) {
	return model.NewEngineWith(model.EngineOptions{Threads: threads, Device: ec.Device})
}

// loadOptions are the model.LoadOptions of a budget in bytes (0: the
// device's default, negative: none) in the chosen dtype.
func (ec engineChoice) loadOptions(maxMemory int64) model.LoadOptions {
	return model.LoadOptions{MaxMemory: maxMemory, DType: ec.DType}
}

// maxMemoryFlag is --max-memory of every command that evaluates.
func maxMemoryFlag() cli.Flag { return maxMemoryFlagTo(new(string)) }

// parseMaxMemory reads --max-memory: "" is the device's default (0), "0",
// "none" or "unlimited" is no budget (model.NoBudget), else a byte count.
func parseMaxMemory(s string) (int64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return 0, nil
	case "0", "none", "unlimited":
		return model.NoBudget, nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return model.NoBudget, nil
	}
	return n, nil
}
