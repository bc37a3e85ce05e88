package cpu

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAssemblyIsFresh regenerates gemm_amd64.s and compares: edit gen_kernels.go, then run
// `go generate ./gpu/cpu` (task gpu:generate) and commit both.
func TestAssemblyIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator")
	}
	out := filepath.Join(t.TempDir(), "gemm_amd64.s")
	cmd := exec.Command("go", "run", "gen_kernels.go", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("gemm_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatal("gemm_amd64.s is stale: run `go generate ./gpu/cpu` (task gpu:generate)")
	}
}
