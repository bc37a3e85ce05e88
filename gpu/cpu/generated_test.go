package cpu

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAssemblyIsFresh regenerates the assembly and compares: edit gen_kernels.go, then run
// `go generate ./gpu/cpu` (task gpu:generate) and commit the .s files with it.
func TestAssemblyIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator")
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "gen_kernels.go", dir)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, msg)
	}
	for _, f := range []string{"gemm_amd64.s", "gemm_arm64.s"} {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is stale: run `go generate ./gpu/cpu` (task gpu:generate)", f)
		}
	}
}
