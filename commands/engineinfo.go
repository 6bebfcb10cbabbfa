package commands

import (
	"fmt"
	"io"

	"github.com/coldint/coldint/model"
	"github.com/urfave/cli/v2"
)

// engineInfoCommand prints what the engine's native library was built
// against and where it was loaded from.
func engineInfoCommand() *cli.Command {
	return &cli.Command{
		Name:  "engine-info",
		Usage: "print the libtorch (version, folder, CUDA) the engine's native library libcoldint_torch.so was built against",
		Description: `The engine runs on libcoldint_torch.so, found next to the binary (bin/), in
the build folder of the checkout it was built in, or first in LD_LIBRARY_PATH.
This prints which library was loaded, the libtorch version and folder it was
built against, whether CUDA is compiled in and how many devices libtorch sees,
and how many of gotch's generated wrappers do not exist in that libtorch.`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print a JSON object instead of text"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageErrorf("engine-info: takes no arguments, got %d", c.NArg())
			}
			info, err := model.NativeInfo()
			if err != nil {
				return err
			}
			out := ioFrom(c).Out
			if c.Bool("json") {
				return writeJSON(out, info)
			}
			return writeEngineInfo(out, info)
		},
	}
}

// writeEngineInfo prints info as aligned "name: value" lines.
func writeEngineInfo(w io.Writer, info model.NativeInfoT) error {
	abi := fmt.Sprint(info.ABI)
	if info.ABI != model.NativeABI {
		abi += fmt.Sprintf(" (this binary needs %d: rebuild the library)", model.NativeABI)
	}
	rows := [][2]string{
		{"library", info.Library},
		{"interface", abi},
		{"libtorch", info.LibtorchVersion},
		{"libtorch folder", info.LibtorchDir},
		{"cuda", fmt.Sprintf("%v (%d devices visible)", info.CUDA, info.CUDADevices)},
		{"c++11 abi", fmt.Sprint(info.CXX11ABI)},
		{"sdpa", fmt.Sprint(info.SDPA)},
		{"stubbed wrappers", fmt.Sprint(info.StubbedWrappers)},
		{"compiler", info.Compiler},
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%-17s %s\n", r[0]+":", r[1]); err != nil {
			return err
		}
	}
	return nil
}
