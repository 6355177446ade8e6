//go:build !race

package main

// raceEnabled says whether the test binary runs with the race detector; the
// end-to-end test then builds the app with it too.
const raceEnabled = false
