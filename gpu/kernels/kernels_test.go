package kernels

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestPTXIsFresh checks that sources.sum (written by `task gpu:ptx` together with the PTX)
// matches the kernel sources, so an edited .cu without regenerated PTX fails CI, which has
// no nvcc. It also checks that every .cu has its .ptx.
func TestPTXIsFresh(t *testing.T) {
	f, err := os.Open("sources.sum")
	if err != nil {
		t.Fatalf("%v: run `task gpu:ptx` on a machine with nvcc", err)
	}
	defer f.Close()
	recorded := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) == 2 {
			recorded[parts[1]] = parts[0]
		}
	}
	var srcs []string
	for _, pat := range []string{"*.cu", "*.cuh"} {
		m, _ := filepath.Glob(pat)
		srcs = append(srcs, m...)
	}
	sort.Strings(srcs)
	if len(srcs) == 0 {
		t.Fatal("no kernel sources")
	}
	for _, s := range srcs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); recorded[s] != got {
			t.Errorf("%s changed since its PTX was compiled: run `task gpu:ptx` on the GPU machine and commit the .ptx and sources.sum", s)
		}
		delete(recorded, s)
		if strings.HasSuffix(s, ".cu") {
			if _, err := os.Stat(strings.TrimSuffix(s, ".cu") + ".ptx"); err != nil {
				t.Errorf("%s has no PTX: run `task gpu:ptx`", s)
			}
		}
	}
	for s := range recorded {
		t.Errorf("sources.sum names %s, which no longer exists: run `task gpu:ptx`", s)
	}
}

func TestModulesEmbedded(t *testing.T) {
	mods, err := Modules()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gemm", "attention", "misc"} {
		p := mods[name]
		if !strings.Contains(string(p), ".entry") {
			t.Errorf("module %s: no kernels in its PTX", name)
		}
	}
}
