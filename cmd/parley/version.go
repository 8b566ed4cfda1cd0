package main

import (
	"context"
	"errors"
	"io"
)

func runVersion(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New(args[0] + ": not built yet")
}
