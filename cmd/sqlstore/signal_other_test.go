//go:build !unix

package main

import "testing"

func testSignal(t *testing.T, _ []string) { t.Log("signals are tested on unix only") }
