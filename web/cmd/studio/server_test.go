package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets tests run this binary as the studio server in a child process (the fault
// test kills it with SIGKILL; the load test measures its RSS on its own).
func TestMain(m *testing.M) {
	if os.Getenv("STUDIO_TEST_SERVE") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := run(ctx, strings.Fields(os.Getenv("STUDIO_TEST_ARGS"))); err != nil {
			fmt.Fprintln(os.Stderr, "studio:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is a studio server running in a child process.
type child struct {
	cmd  *exec.Cmd
	addr string // host:port
}

// startChild runs `studio serve ARGS` in a child process and waits for its URL.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STUDIO_TEST_SERVE=1", "STUDIO_TEST_ARGS="+strings.Join(append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), " "))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Latent Studio: http://"); ok {
				lines <- strings.TrimSuffix(u, "/")
			}
		}
	}()
	select {
	case addr := <-lines:
		return &child{cmd: cmd, addr: addr}
	case <-time.After(20 * time.Second):
		t.Fatal("the studio did not print its URL within 20 s")
	}
	return nil
}

func TestSubcommands(t *testing.T) {
	if err := run(context.Background(), []string{"nonsense"}); err == nil || !strings.Contains(err.Error(), "unknown subcommand") {
		t.Fatalf("unknown subcommand: %v", err)
	}
	if _, ok := commands["serve"]; !ok {
		t.Fatal("serve is not registered")
	}
	if err := run(context.Background(), []string{"serve", "--engine", "warp"}); err == nil || !strings.Contains(err.Error(), "auto, cuda or cpu") {
		t.Fatalf("bad engine: %v", err)
	}
}
